//! Service providers (服务商) over HTTP, on SQLite and on PostgreSQL, with three parties: a service
//! provider P, a merchant M that authorises P for named products, a merchant U that authorises
//! nothing, and another tenant's member and account. P's bound client acts for M within exactly the
//! products M authorised (a balance payment by M's member to M; reading M), is refused any other
//! product with `provider_product_not_authorised`, reaches nothing else of M's (404 as if absent)
//! and nothing of U's or the other tenant's; after revocation it is refused at once. The endpoints
//! are the merchant's own (P's client reaches none of them for M), and every change is in M's
//! history and the audit log.

use axum::http::StatusCode;
use sanhu_core::party::merchant_level::{MerchantLevelSpec, MerchantLevels};
use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::{bound_client, Client, TestApp, TestResponse};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use crate::merchant_hierarchy::app_with;
use crate::products::{buyer, placed};

/// The products tests' types and products, with a service-provider level at the top beside the
/// merchants.
fn parties() -> PartyConfig {
    let level = |c: &str, service_provider: bool| MerchantLevelSpec {
        code: c.to_owned(),
        name: c.to_owned(),
        top: true,
        under: Vec::new(),
        merchant_types: Vec::new(),
        special: false,
        sub_merchant: false,
        service_provider,
    };
    let levels = vec![level("service_provider", true), level("merchant", false)];
    PartyConfig { merchant_levels: MerchantLevels::new(levels, 3).unwrap(), ..crate::products::parties() }
}

/// A member registered for `merchant`, active and funded: (member, its basic account).
async fn customer_of(app: &TestApp, merchant: &str, phone: &str) -> (String, String) {
    let registered = app.post("/v1/members", json!({"phone": phone, "merchant_id": merchant})).await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    let basic = app.activate(&member).await;
    app.recharge(&member, &basic, 100_000, "wechat", &format!("R-{phone}")).await;
    (member, basic)
}

async fn pay_as(
    app: &TestApp,
    client: &Client,
    order: &str,
    member: &str,
    receiver: &str,
    extra: Value,
) -> TestResponse {
    let mut body = json!({"order_number": order, "member_id": member, "amount": 100, "receiver_account_id": receiver});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.send_as(client, "POST", "/v1/payments", body).await
}

on_both_backends!(a_provider_acts_for_a_merchant_within_exactly_the_products_it_authorised, |db| {
    let app = app_with(db, parties()).await;
    let (p_member, p, p_receipts) = placed(&app, 40, "service_provider", None, false).await;
    let (m_member, m, m_receipts) = placed(&app, 41, "merchant", None, false).await;
    let (u_member, u, u_receipts) = placed(&app, 42, "merchant", None, false).await;
    for merchant in [&m, &u] {
        app.sign_products(merchant, &["balance_payment", "escrow_collection", "recharge"]).await;
    }
    let (m_payer, m_payer_basic) = customer_of(&app, &m, "13800000041").await;
    let (u_payer, _) = customer_of(&app, &u, "13800000042").await;
    let other = buyer(&app, "13800000043").await;
    let (_, other_basic) = app.active_member("13800000044").await;
    let store = app.state.parties().store().clone();
    let p_client = bound_client(&store, &p_member, "provider").await;
    let m_client = bound_client(&store, &m_member, "merchant").await;
    let u_client = bound_client(&store, &u_member, "unauthorised").await;
    let providers = format!("/v1/merchants/{m}/providers");

    // Before any authorisation, the provider reaches nothing of M's.
    app.send_as(&p_client, "GET", &format!("/v1/merchants/{m}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    pay_as(&app, &p_client, "S-1", &m_payer, &m_receipts, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");

    // The authorisation is the merchant's: the provider's and U's clients reach none of M's endpoints.
    let authorise = json!({"provider_id": p, "products": ["balance_payment"]});
    for client in [&p_client, &u_client] {
        let answer = app.send_as(client, "POST", &providers, authorise.clone()).await;
        answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
        let answer = app.send_as(client, "GET", &providers, Value::Null).await;
        answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
        let revoke = json!({"provider_id": p, "reason": "x"});
        let answer = app.send_as(client, "POST", &format!("{providers}/revoke"), revoke).await;
        answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    // What is refused, each with its code.
    for (body, status, code) in [
        (json!({"provider_id": u, "products": ["balance_payment"]}), 422, "provider_not_service_provider"),
        (json!({"provider_id": m, "products": ["balance_payment"]}), 422, "provider_self"),
        (
            json!({"provider_id": "mch_01JAAAAAAAAAAAAAAAAAAAAAAA", "products": ["balance_payment"]}),
            422,
            "provider_unknown",
        ),
        (json!({"provider_id": p, "products": []}), 422, "provider_products_invalid"),
        (json!({"provider_id": p, "products": ["nothing"]}), 422, "provider_products_invalid"),
        (json!({"provider_id": p, "products": ["recharge", "recharge"]}), 422, "provider_products_invalid"),
        (json!({"provider_id": "nobody", "products": ["recharge"]}), 400, "invalid_id"),
    ] {
        let answer = app.send_as(&m_client, "POST", &providers, body).await;
        answer.assert_error(StatusCode::from_u16(status).unwrap(), code);
    }

    // M authorises P for balance payment, with its own client.
    let authorised = app.send_as(&m_client, "POST", &providers, authorise.clone()).await;
    let authorised = authorised.assert_status(StatusCode::OK).clone();
    assert_eq!(authorised["provider_id"], p.as_str());
    assert_eq!(authorised["products"], json!(["balance_payment"]));
    assert_eq!((authorised["status"].as_str(), authorised["serial"].as_u64()), (Some("authorised"), Some(1)));

    // P's client reads M, and makes a balance payment by M's member to M.
    let read = app.send_as(&p_client, "GET", &format!("/v1/merchants/{m}"), Value::Null).await;
    assert_eq!(read.assert_status(StatusCode::OK)["id"], m.as_str());
    let paid = pay_as(&app, &p_client, "S-2", &m_payer, &m_receipts, json!({})).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "paid");
    // Acting for M is paying M: M's customer's money to anyone else (the provider itself, another
    // tenant) reaches nobody, nor does M's own member's wallet as a payer.
    for (order, payer, receiver) in
        [("S-2a", &m_payer, &p_receipts), ("S-2b", &m_payer, &other_basic), ("S-2c", &m_member, &m_receipts)]
    {
        pay_as(&app, &p_client, order, payer, receiver, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    }
    // Another product for M is refused, naming it: escrow, a recharge.
    let refused = pay_as(&app, &p_client, "S-3", &m_payer, &m_receipts, json!({"escrow": true})).await;
    refused.assert_error(StatusCode::FORBIDDEN, "provider_product_not_authorised");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("escrow_collection"), "{}", refused.body);
    let recharge = json!({"order_number": "SR-1", "member_id": m_payer, "account_id": m_payer_basic, "amount": 100,
                          "channel": "wechat"});
    app.send_as(&p_client, "POST", "/v1/recharges", recharge.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "provider_product_not_authorised");
    // M's other objects are absent to P's client: its member, its accounts, its history, its products.
    for (path, code) in [
        (format!("/v1/members/{m_member}"), "member_not_found"),
        (format!("/v1/members/{m_payer}"), "member_not_found"),
        (format!("/v1/accounts/{m_receipts}"), "member_account_not_found"),
        (format!("/v1/members/{m_payer}/wallet"), "member_not_found"),
        (format!("/v1/merchants/{m}/history"), "merchant_not_found"),
        (format!("/v1/merchants/{m}/products"), "merchant_not_found"),
    ] {
        app.send_as(&p_client, "GET", &path, Value::Null).await.assert_error(StatusCode::NOT_FOUND, code);
    }
    // U authorised nothing, and the other tenant is nobody's: 404 as if absent.
    app.send_as(&p_client, "GET", &format!("/v1/merchants/{u}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    pay_as(&app, &p_client, "S-4", &u_payer, &u_receipts, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    pay_as(&app, &p_client, "S-5", &other, &other_basic, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&p_client, "GET", &format!("/v1/accounts/{other_basic}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");
    // M's own client reaches nothing of U's or the provider's for all that.
    app.send_as(&m_client, "GET", &format!("/v1/merchants/{p}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");

    // Authorised again, the products are replaced: escrow now, balance payment still.
    let both = json!({"provider_id": p, "products": ["balance_payment", "escrow_collection"]});
    let again = app.send_as(&m_client, "POST", &providers, both).await;
    assert_eq!(again.assert_status(StatusCode::OK)["serial"], 2);
    pay_as(&app, &p_client, "S-6", &m_payer, &m_receipts, json!({"escrow": true}))
        .await
        .assert_status(StatusCode::CREATED);
    let listed = app.send_as(&m_client, "GET", &providers, Value::Null).await.assert_status(StatusCode::OK).clone();
    let statuses: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["revoked", "authorised"]);

    // Revoked: refused at once, and nothing of M's is reached any more.
    let revoke = json!({"provider_id": p, "reason": "合作终止"});
    let revoked = app.send_as(&m_client, "POST", &format!("{providers}/revoke"), revoke.clone()).await;
    let revoked = revoked.assert_status(StatusCode::OK).clone();
    assert_eq!((revoked["status"].as_str(), revoked["revoked_reason"].as_str()), (Some("revoked"), Some("合作终止")));
    pay_as(&app, &p_client, "S-7", &m_payer, &m_receipts, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&p_client, "GET", &format!("/v1/merchants/{m}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    app.send_as(&m_client, "POST", &format!("{providers}/revoke"), revoke)
        .await
        .assert_error(StatusCode::NOT_FOUND, "provider_authorisation_not_found");

    // In M's history, and in the audit log.
    let history = app.get(&format!("/v1/merchants/{m}/history?limit=100")).await.assert_status(StatusCode::OK).clone();
    let steps: Vec<(&str, &Value)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("merchant.provider_"))
        .map(|e| (e["action"].as_str().unwrap(), &e["detail"]))
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert_eq!(steps[0].0, "merchant.provider_authorised");
    assert_eq!(steps[1].1["replaces"], 1);
    assert_eq!(steps[2].0, "merchant.provider_revoked");
    for route in ["/v1/merchants/%7Bid%7D/providers", "/v1/merchants/%7Bid%7D/providers/revoke"] {
        let audit = app.get(&format!("/v1/audit-events?route={route}&limit=100")).await;
        let events = audit.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
        assert!(events.iter().any(|e| e["status"] == 200), "{route}: {events:?}");
    }
    app.verify_clean().await;
});
