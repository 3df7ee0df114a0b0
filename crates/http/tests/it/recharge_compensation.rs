//! The recharge compensation job against a local server playing the payment channel's status
//! endpoint (the protocol of `sanhu_http::channel_status`), on both backends: an order the channel
//! says is paid is credited, one it says is not paid fails, and one it cannot answer about (unknown,
//! an error, too slow, an amount that differs, unreachable) stays pending to be asked again. An order
//! is credited exactly once, however the job, a second instance's job and a late confirmation race.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sanhu_core::id::MemberId;
use sanhu_core::Timestamp;
use sanhu_http::channel_status::{ChannelQueryConfig, ChannelQueryTimeouts, HttpChannelQuery};
use sanhu_service::clock;
use sanhu_service::jobs::{compensate_recharge_orders, CompensationPass};
use sanhu_service::wallet::{Channel, RechargeRequest, RechargeStatus, WalletConfig};
use sanhu_store::Store;
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor, client, no, test_channel};
use serde_json::json;

/// The channel's status endpoint: what it answers depends on the order number's prefix, and every
/// question is counted by order number.
#[derive(Clone, Default)]
struct StatusEndpoint {
    asked: Arc<Mutex<HashMap<String, usize>>>,
}

impl StatusEndpoint {
    fn asked(&self, order: &str) -> usize {
        self.asked.lock().unwrap().get(order).copied().unwrap_or(0)
    }
}

async fn status(State(channel): State<StatusEndpoint>, Query(query): Query<HashMap<String, String>>) -> Response {
    let order = query.get("order_number").cloned().unwrap_or_default();
    let amount: i64 = query.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    assert_eq!(query.get("currency").map(String::as_str), Some("CNY"));
    assert!(query.get("client").is_some_and(|c| c.starts_with("cli_")), "{query:?}");
    *channel.asked.lock().unwrap().entry(order.clone()).or_default() += 1;
    let prefix = order.split('-').next().unwrap_or_default();
    match prefix {
        "PAID" => Json(json!({ "order_number": order, "status": "paid", "amount": amount })).into_response(),
        "UNPAID" => Json(json!({ "order_number": order, "status": "not_paid" })).into_response(),
        "UNKNOWN" => Json(json!({ "order_number": order, "status": "unknown" })).into_response(),
        "WRONG" => Json(json!({ "order_number": order, "status": "paid", "amount": amount + 1 })).into_response(),
        "OTHER" => Json(json!({ "order_number": "PAID-9", "status": "paid", "amount": amount })).into_response(),
        // An answer past the size limit: 20 KiB of padding around a valid answer.
        "BIG" => Json(json!({ "order_number": order, "status": "paid", "amount": amount, "pad": "x".repeat(20_480) }))
            .into_response(),
        // A redirect, which is not followed.
        "MOVED" => (StatusCode::FOUND, [("location", "/gateway/status?order_number=PAID-1")]).into_response(),
        "SLOW" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({ "order_number": order, "status": "paid", "amount": amount })).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "channel error").into_response(),
    }
}

/// Starts the channel on a free port; its status URL.
async fn start_channel(channel: StatusEndpoint) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/gateway/status", get(status)).with_state(channel);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/gateway/status?merchant=42")
}

/// A status URL where nothing listens.
fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/status")
}

/// Orders are asked about once pending a minute.
const QUERY_AFTER_S: u32 = 60;

/// The defaults, with the `gateway` channel (free, asked at `status_url`) and the `offline` one
/// (whose endpoint does not answer), both free.
fn wallet_config(status_url: &str) -> WalletConfig {
    let mut config = WalletConfig::default_for(cny());
    let channel = |name: &str, url: String| Channel { name: name.into(), status_url: Some(url), ..test_channel() };
    config.channels.push(channel("gateway", status_url.to_owned()));
    config.channels.push(channel("offline", unreachable_url()));
    config.recharge_query_after_s = QUERY_AFTER_S;
    config
}

/// The wallet world, with the channels' status endpoints asked through HTTP.
struct World {
    world: world::World,
    channels: Arc<HttpChannelQuery>,
}

impl std::ops::Deref for World {
    type Target = world::World;

    fn deref(&self) -> &world::World {
        &self.world
    }
}

/// The world, its channels asked through the outbound client on loopback and plain http (the test's
/// channel: production allows neither unless configured).
async fn world(store: &Store, status_url: &str) -> World {
    let world = world::World::new(store, world::party_config(), wallet_config(status_url)).await;
    let channels = Arc::new(HttpChannelQuery::new(ChannelQueryConfig {
        timeouts: ChannelQueryTimeouts { connect_ms: 300, answer_ms: 500 },
        allow_private_targets: true,
        allow_plain_http: true,
    }));
    World { world, channels }
}

impl World {
    async fn order(&self, member: MemberId, number: &str, amount: i64, channel: &str) {
        let request = RechargeRequest {
            client: client(),
            order_number: no(number),
            member,
            account: None,
            amount,
            channel: channel.into(),
        };
        let order = self.wallets.create_recharge(&request, &actor()).await.unwrap();
        assert_eq!(order.status, RechargeStatus::Pending);
    }

    async fn status(&self, number: &str) -> RechargeStatus {
        self.wallets.get_recharge(client(), &no(number)).await.unwrap().status
    }

    async fn pass(&self, at: Timestamp) -> CompensationPass {
        compensate_recharge_orders(&self.wallets, &self.channels, at).await.unwrap()
    }
}

/// A minute and a second from now: every order created so far has been pending long enough.
fn later() -> Timestamp {
    clock::now().add_seconds(QUERY_AFTER_S + 1).unwrap()
}

on_both_backends!(the_job_completes_the_orders_the_channel_answers_about_and_leaves_the_rest_pending, |db| {
    let channel = StatusEndpoint::default();
    let w = world(&db.store, &start_channel(channel.clone()).await).await;
    let (member, basic) = w.member(1).await;
    for number in ["PAID-1", "UNPAID-1", "UNKNOWN-1", "WRONG-1", "OTHER-1", "ERROR-1", "SLOW-1"] {
        w.order(member, number, 10_000, "gateway").await;
    }
    w.order(member, "PAID-2", 10_000, "offline").await;
    w.order(member, "PAID-3", 10_000, "alipay").await;

    // Orders pending less than a minute are not asked about.
    assert_eq!(w.pass(clock::now()).await, CompensationPass::default());
    assert_eq!(channel.asked("PAID-1"), 0);

    let started = Instant::now();
    let pass = w.pass(later()).await;
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "a slow channel costs its timeout: {:?}",
        started.elapsed()
    );
    // Unanswered: unknown, another amount, another order's answer, a 500, too slow, unreachable.
    assert_eq!(pass, CompensationPass { confirmed: 1, failed: 1, resumed: 0, unanswered: 6, refused: 0 });
    assert_eq!(w.status("PAID-1").await, RechargeStatus::Succeeded);
    assert_eq!(w.status("UNPAID-1").await, RechargeStatus::Failed);
    for number in ["UNKNOWN-1", "WRONG-1", "OTHER-1", "ERROR-1", "SLOW-1", "PAID-2", "PAID-3"] {
        assert_eq!(w.status(number).await, RechargeStatus::Pending, "{number}");
    }
    assert_eq!(w.balance(basic).await, 10_000, "only the paid order is credited, for its amount");
    // A channel without a status endpoint is never asked.
    assert_eq!(channel.asked("PAID-3"), 0);

    // Completed orders are not asked again; the others are.
    w.pass(later()).await;
    assert_eq!((channel.asked("PAID-1"), channel.asked("UNPAID-1")), (1, 1));
    assert_eq!((channel.asked("UNKNOWN-1"), channel.asked("ERROR-1")), (2, 2));
    assert_eq!(w.balance(basic).await, 10_000);
    w.verify_clean().await;
});

on_both_backends!(a_stuck_order_is_credited_once_when_the_job_and_a_late_confirmation_race, |db| {
    let channel = StatusEndpoint::default();
    let url = start_channel(channel.clone()).await;
    let w = world(&db.store, &url).await;
    let other = world(&db.open_another().await, &url).await;
    let (member, basic) = w.member(1).await;
    for round in 0..6 {
        let number = format!("PAID-R{round}");
        w.order(member, &number, 2_000, "gateway").await;
        let at = later();
        let (number, by) = (no(&number), actor());
        // The job on two instances and the channel's late notification, all at once.
        let (a, b, confirmed) =
            tokio::join!(w.pass(at), other.pass(at), w.wallets.confirm_recharge(client(), &number, &by));
        let confirmed = confirmed.unwrap();
        assert!(matches!(confirmed.status, RechargeStatus::Succeeded | RechargeStatus::Crediting), "{confirmed:?}");
        assert_eq!(a.refused + b.refused, 0, "{a:?} {b:?}");
        assert_eq!(w.status(number.as_str()).await, RechargeStatus::Succeeded);
        assert_eq!(w.balance(basic).await, 2_000 * (round + 1), "credited exactly once in round {round}");
    }
    // Nothing is left to ask about.
    assert_eq!(w.pass(later()).await, CompensationPass::default());
    w.verify_clean().await;
});

on_both_backends!(the_channel_is_asked_through_the_outbound_client_with_its_size_limit_redirects_and_ssrf_rule, |db| {
    let channel = StatusEndpoint::default();
    let url = start_channel(channel.clone()).await;
    let w = world(&db.store, &url).await;
    let (member, basic) = w.member(1).await;
    for number in ["BIG-1", "MOVED-1"] {
        w.order(member, number, 10_000, "gateway").await;
    }
    // Asked, and neither answer is taken: one is over the size limit, the other a redirect.
    let pass = w.pass(later()).await;
    assert_eq!(pass, CompensationPass { confirmed: 0, failed: 0, resumed: 0, unanswered: 2, refused: 0 });
    assert_eq!((channel.asked("BIG-1"), channel.asked("MOVED-1"), channel.asked("PAID-1")), (1, 1, 0));
    assert_eq!(w.status("BIG-1").await, RechargeStatus::Pending);
    assert_eq!(w.balance(basic).await, 0);

    // As in production: a plain http endpoint on loopback is not asked at all.
    let strict = Arc::new(HttpChannelQuery::new(ChannelQueryConfig::default()));
    w.order(member, "PAID-7", 10_000, "gateway").await;
    let pass = compensate_recharge_orders(&w.wallets, &strict, later()).await.unwrap();
    assert_eq!(pass.confirmed, 0);
    assert_eq!(channel.asked("PAID-7"), 0, "refused before connecting");
    assert_eq!(w.status("PAID-7").await, RechargeStatus::Pending);
    // An https endpoint whose host is loopback is refused before connecting too.
    let https = HttpChannelQuery::new(ChannelQueryConfig { allow_plain_http: false, ..ChannelQueryConfig::default() });
    let query = sanhu_service::wallet::ChannelOrderQuery {
        channel: "gateway".into(),
        status_url: url.replace("http://", "https://"),
        client: client(),
        order_number: "PAID-8".into(),
        amount: 10_000,
        currency: cny(),
    };
    let error = sanhu_service::wallet::ChannelQuery::order_status(&https, &query).await.unwrap_err();
    assert!(format!("{error:#}").contains("internal"), "{error:#}");
    assert_eq!(channel.asked("PAID-8"), 0);
    w.verify_clean().await;
});
