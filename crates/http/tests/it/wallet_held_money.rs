//! Who decides where money held between a payer and a receiver goes, on SQLite and PostgreSQL: an
//! escrow payment (released to the receiver or returned to the payer) and a deposit (captured for the
//! beneficiary or released to the payer). The platform (an unbound client) decides either way; the
//! payer's bound client only forward (it lets go of its money), the receiver's bound client only back
//! (it gives up money promised to it), naming the payer's client's numbering with `?client_id=`. The
//! other side is refused 403 with the step's own code and nothing moves; a client bound to a third
//! member finds no such order.

use axum::http::StatusCode;
use sanhu_testkit::app::{bound_client, Client, TestApp};
use sanhu_testkit::world;
use sanhu_testkit::{on_both_backends, TestDatabase};
use serde_json::{json, Value};

struct Sides {
    app: TestApp,
    payer: String,
    merchant: String,
    merchant_basic: String,
    payer_client: Client,
    merchant_client: Client,
    stranger_client: Client,
}

/// A payer with 200.00, a merchant with nothing, a third member, and a client bound to each.
async fn sides(db: TestDatabase) -> Sides {
    let app = TestApp::new(db, world::cheap_party_config(), world::wallet_config()).await;
    let (payer, payer_basic) = app.active_member("13700000801").await;
    let (merchant, merchant_basic) = app.active_member("13700000802").await;
    let (stranger, _) = app.active_member("13700000803").await;
    app.recharge(&payer, &payer_basic, 20_000, "test", "HM-F").await;
    let payer_client = bound_client(&app.db.store, &payer, "renter").await;
    let merchant_client = bound_client(&app.db.store, &merchant, "rental company").await;
    let stranger_client = bound_client(&app.db.store, &stranger, "stranger").await;
    Sides { app, payer, merchant, merchant_basic, payer_client, merchant_client, stranger_client }
}

impl Sides {
    /// An escrow payment of `amount` from the payer to the merchant, made by the payer's client.
    async fn escrow(&self, number: &str, amount: i64) {
        let body = json!({"order_number": number, "member_id": self.payer, "amount": amount,
            "receiver_account_id": self.merchant_basic, "escrow": true});
        let paid = self.app.send_as(&self.payer_client, "POST", "/v1/payments", body).await;
        assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "escrowed");
    }

    /// A deposit of `amount` held on the payer's wallet for the merchant, made by the payer's client.
    async fn deposit(&self, number: &str, amount: i64) {
        let body = json!({"order_number": number, "member_id": self.payer, "amount": amount,
            "beneficiary_account_id": self.merchant_basic});
        let held = self.app.send_as(&self.payer_client, "POST", "/v1/deposits", body).await;
        assert_eq!(held.assert_status(StatusCode::CREATED)["status"], "held");
    }

    /// The path of an order in the payer's client's numbering, as the merchant's side and the
    /// platform name it.
    fn named(&self, path: &str) -> String {
        format!("{path}?client_id={}", self.payer_client.id)
    }

    /// Both wallets and the order (read by the platform): what a refused step must leave as it was.
    async fn state(&self, order: &str) -> (Value, Value, Value) {
        let order = self.app.get(&self.named(order)).await.assert_status(StatusCode::OK).clone();
        (self.app.wallet(&self.payer).await, self.app.wallet(&self.merchant).await, order)
    }
}

on_both_backends!(an_escrow_goes_back_to_the_payer_only_by_the_receivers_side_or_the_platform, |db| {
    let s = sides(db).await;
    let app = &s.app;
    s.escrow("HM-E1", 3000).await;
    let before = s.state("/v1/payments/HM-E1").await;
    assert_eq!(before.0["frozen"].as_i64(), Some(3000));

    // The payer's own client cannot take back what it promised, in its own numbering or naming it.
    let clawback = app.send_as(&s.payer_client, "POST", "/v1/payments/HM-E1/escrow-return", json!({})).await;
    clawback.assert_error(StatusCode::FORBIDDEN, "escrow_return_not_allowed");
    let named = app.send_as(&s.payer_client, "POST", &s.named("/v1/payments/HM-E1/escrow-return"), json!({})).await;
    named.assert_error(StatusCode::FORBIDDEN, "escrow_return_not_allowed");
    // A client bound to a third member finds no such payment.
    let stranger =
        app.send_as(&s.stranger_client, "POST", &s.named("/v1/payments/HM-E1/escrow-return"), json!({})).await;
    stranger.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    assert_eq!(s.state("/v1/payments/HM-E1").await, before);

    // The merchant's client gives it back (the booking was cancelled).
    let returned =
        app.send_as(&s.merchant_client, "POST", &s.named("/v1/payments/HM-E1/escrow-return"), json!({})).await;
    assert_eq!(returned.assert_status(StatusCode::OK)["status"], "escrow_returned");
    let wallet = app.wallet(&s.payer).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["available"].as_i64()), (Some(0), Some(20_000)));
    assert_eq!(app.balance(&s.merchant_basic).await, 0);

    // The platform returns any escrow, naming its client.
    s.escrow("HM-E2", 2000).await;
    let by_platform = app.post(&s.named("/v1/payments/HM-E2/escrow-return"), json!({})).await;
    assert_eq!(by_platform.assert_status(StatusCode::OK)["status"], "escrow_returned");
    assert_eq!(app.wallet(&s.payer).await["available"].as_i64(), Some(20_000));
    app.verify_clean().await;
});

on_both_backends!(an_escrow_goes_forward_to_the_receiver_only_by_the_payers_side_or_the_platform, |db| {
    let s = sides(db).await;
    let app = &s.app;
    s.escrow("HM-E3", 3000).await;
    let before = s.state("/v1/payments/HM-E3").await;

    // The merchant's client cannot take what the payer has not let go.
    let taken = app.send_as(&s.merchant_client, "POST", &s.named("/v1/payments/HM-E3/escrow-release"), json!({})).await;
    taken.assert_error(StatusCode::FORBIDDEN, "escrow_release_not_allowed");
    let stranger =
        app.send_as(&s.stranger_client, "POST", &s.named("/v1/payments/HM-E3/escrow-release"), json!({})).await;
    stranger.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    assert_eq!(s.state("/v1/payments/HM-E3").await, before);

    // The payer's client lets it go (the car was picked up).
    let released = app.send_as(&s.payer_client, "POST", "/v1/payments/HM-E3/escrow-release", json!({})).await;
    assert_eq!(released.assert_status(StatusCode::OK)["status"], "escrow_released");
    assert_eq!(app.balance(&s.merchant_basic).await, 3000);
    assert_eq!(app.wallet(&s.payer).await["balance"].as_i64(), Some(17_000));

    // The platform releases any escrow, naming its client.
    s.escrow("HM-E4", 2000).await;
    let by_platform = app.post(&s.named("/v1/payments/HM-E4/escrow-release"), json!({})).await;
    assert_eq!(by_platform.assert_status(StatusCode::OK)["status"], "escrow_released");
    assert_eq!(app.balance(&s.merchant_basic).await, 5000);
    app.verify_clean().await;
});

on_both_backends!(a_deposit_goes_back_to_the_payer_only_by_the_beneficiarys_side_or_the_platform, |db| {
    let s = sides(db).await;
    let app = &s.app;
    s.deposit("HM-D1", 5000).await;
    let before = s.state("/v1/deposits/HM-D1").await;
    assert_eq!(before.0["frozen"].as_i64(), Some(5000));

    // The payer's own client cannot release the guarantee to itself.
    let clawback = app.send_as(&s.payer_client, "POST", "/v1/deposits/HM-D1/release", json!({})).await;
    clawback.assert_error(StatusCode::FORBIDDEN, "deposit_release_not_allowed");
    let named = app.send_as(&s.payer_client, "POST", &s.named("/v1/deposits/HM-D1/release"), json!({})).await;
    named.assert_error(StatusCode::FORBIDDEN, "deposit_release_not_allowed");
    let stranger = app.send_as(&s.stranger_client, "POST", &s.named("/v1/deposits/HM-D1/release"), json!({})).await;
    stranger.assert_error(StatusCode::NOT_FOUND, "deposit_not_found");
    assert_eq!(s.state("/v1/deposits/HM-D1").await, before);

    // The beneficiary's client releases it (the car came back undamaged).
    let released = app.send_as(&s.merchant_client, "POST", &s.named("/v1/deposits/HM-D1/release"), json!({})).await;
    assert_eq!(released.assert_status(StatusCode::OK)["status"], "released");
    let wallet = app.wallet(&s.payer).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["available"].as_i64()), (Some(0), Some(20_000)));

    // The platform releases any deposit, naming its client.
    s.deposit("HM-D2", 3000).await;
    let by_platform = app.post(&s.named("/v1/deposits/HM-D2/release"), json!({})).await;
    assert_eq!(by_platform.assert_status(StatusCode::OK)["status"], "released");
    assert_eq!(app.wallet(&s.payer).await["available"].as_i64(), Some(20_000));
    assert_eq!(app.balance(&s.merchant_basic).await, 0);
    app.verify_clean().await;
});

on_both_backends!(a_deposit_is_captured_for_the_beneficiary_only_by_the_payers_side_or_the_platform, |db| {
    let s = sides(db).await;
    let app = &s.app;
    s.deposit("HM-D3", 5000).await;
    let before = s.state("/v1/deposits/HM-D3").await;
    let damage = json!({"amount": 800, "reason": "scratch on the door"});

    // The beneficiary's client cannot take the payer's money for itself.
    let taken = app.send_as(&s.merchant_client, "POST", &s.named("/v1/deposits/HM-D3/capture"), damage.clone()).await;
    taken.assert_error(StatusCode::FORBIDDEN, "deposit_capture_not_allowed");
    let stranger =
        app.send_as(&s.stranger_client, "POST", &s.named("/v1/deposits/HM-D3/capture"), damage.clone()).await;
    stranger.assert_error(StatusCode::NOT_FOUND, "deposit_not_found");
    assert_eq!(s.state("/v1/deposits/HM-D3").await, before);

    // The payer's client agrees to the damage: 8.00 to the merchant, the rest back.
    let captured = app.send_as(&s.payer_client, "POST", "/v1/deposits/HM-D3/capture", damage.clone()).await;
    let captured = captured.assert_status(StatusCode::OK).clone();
    assert_eq!((captured["status"].as_str(), captured["captured"].as_i64()), (Some("captured"), Some(800)));
    assert_eq!(app.balance(&s.merchant_basic).await, 800);
    let wallet = app.wallet(&s.payer).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["balance"].as_i64()), (Some(0), Some(19_200)));

    // The platform captures any deposit, naming its client.
    s.deposit("HM-D4", 3000).await;
    let by_platform = app.post(&s.named("/v1/deposits/HM-D4/capture"), damage).await;
    assert_eq!(by_platform.assert_status(StatusCode::OK)["captured"].as_i64(), Some(800));
    assert_eq!(app.balance(&s.merchant_basic).await, 1600);
    assert_eq!(app.wallet(&s.payer).await["balance"].as_i64(), Some(18_400));
    app.verify_clean().await;
});
