//! What operators read: `/metrics` (on its own router, as the metrics listener serves it), `/docs`,
//! and `/openapi.json` compressed. The metrics are the process's, shared by the tests running beside
//! this one, so each check is that a number moved by at least what this test did.

use std::collections::BTreeMap;
use std::io::Read as _;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use sanhu_service::party::{PartyConfig, PartySecret};
use sanhu_testkit::app::TestApp;
use sanhu_testkit::{on_both_backends, TestDatabase};
use serde_json::json;
use tower::ServiceExt as _;

async fn app(db: TestDatabase) -> TestApp {
    let secret = PartySecret::from_bytes(&[7; 32]).expect("a 32-byte secret");
    TestApp::plain(db, PartyConfig { secret, ..PartyConfig::default() }).await
}

/// An unsigned GET with these headers: status, headers and body bytes.
async fn get(router: &Router, path: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

/// One scrape: each series (`name{labels}`) and its value, and the text.
async fn scrape(metrics: &Router) -> (BTreeMap<String, f64>, String) {
    let (status, headers, body) = get(metrics, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], sanhu_http::metrics::CONTENT_TYPE);
    let text = String::from_utf8(body).expect("the exposition is text");
    let mut series = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        assert!(series.insert(name.to_owned(), value).is_none(), "{name} twice");
    }
    (series, text)
}

fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    let after = after.get(series).unwrap_or_else(|| panic!("no series {series}"));
    after - before.get(series).copied().unwrap_or(0.0)
}

on_both_backends!(metrics_count_requests_by_route_template_batches_nonces_and_idempotency, |db| {
    let app = app(db).await;
    let metrics = sanhu_http::metrics::router(app.state.clone());
    let (before, _) = scrape(&metrics).await;

    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    for _ in 0..3 {
        app.get(&format!("/v1/ledger/accounts/{wallet}")).await.assert_status(StatusCode::OK);
    }
    app.get("/v1/ledger/accounts/acc_01JD7S0M8R4Y3V6QF2K9N5X1TB").await.assert_status(StatusCode::NOT_FOUND);
    let transfer = json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 250});
    let key = format!("metrics-{}", sanhu_testkit::unique_suffix());
    app.post_keyed("/v1/ledger/transfers", &key, transfer.clone()).await.assert_status(StatusCode::CREATED);
    assert!(app.post_keyed("/v1/ledger/transfers", &key, transfer).await.replayed());
    let (status, _, _) = get(&app.router, "/v2/a-guessed-path-7f3a", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (after, text) = scrape(&metrics).await;
    let requests = |method: &str, route: &str, status: u16| {
        format!("sanhu_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
    };
    assert!(moved(&before, &after, &requests("GET", "/v1/ledger/accounts/{id}", 200)) >= 3.0);
    assert!(moved(&before, &after, &requests("GET", "/v1/ledger/accounts/{id}", 404)) >= 1.0);
    assert!(moved(&before, &after, &requests("POST", "/v1/ledger/accounts", 201)) >= 2.0);
    assert!(moved(&before, &after, &requests("POST", "/v1/ledger/transfers", 201)) >= 2.0);
    assert!(moved(&before, &after, &requests("GET", "unmatched", 404)) >= 1.0);
    let latency = "sanhu_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/ledger/accounts/{id}\"}";
    assert!(moved(&before, &after, latency) >= 4.0);
    let slowest =
        "sanhu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/ledger/accounts/{id}\",le=\"+Inf\"}";
    assert_eq!(after[slowest], after[latency], "+Inf counts every request");
    assert!(!text.contains("a-guessed-path") && !text.contains(&wallet), "raw paths and ids are never labels");

    assert!(moved(&before, &after, "sanhu_ledger_batches_total{outcome=\"committed\"}") >= 1.0);
    assert!(moved(&before, &after, "sanhu_ledger_batch_transfers_count") >= 1.0);
    assert!(moved(&before, &after, "sanhu_ledger_batch_commit_seconds_count") >= 1.0);
    assert!(after["sanhu_ledger_batch_commit_seconds_sum"] > 0.0);
    assert!(moved(&before, &after, "sanhu_idempotency_requests_total{outcome=\"claimed\"}") >= 1.0);
    assert!(moved(&before, &after, "sanhu_idempotency_requests_total{outcome=\"replayed\"}") >= 1.0);
    assert!(moved(&before, &after, "sanhu_nonces_total{outcome=\"fresh\"}") >= 8.0, "one nonce a signed request");
    assert!(moved(&before, &after, "sanhu_nonce_batch_size_count") >= 1.0);

    let backend = app.state.ledger().store().backend();
    let pool = after[&format!("sanhu_db_pool_connections{{backend=\"{backend}\"}}")];
    let in_use = after[&format!("sanhu_db_pool_connections_in_use{{backend=\"{backend}\"}}")];
    assert!(pool >= 1.0 && (0.0..=pool).contains(&in_use), "{pool} {in_use}");
    assert!(after.contains_key("sanhu_ledger_writer_queue_depth"));
    assert!(after.contains_key("sanhu_nonce_queue_depth"));

    // The API's own address does not answer it.
    let (status, _, body) = get(&app.router, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("route_not_found"));
});

on_both_backends!(the_docs_page_is_served_whole_and_the_document_compressed_when_accepted, |db| {
    let app = app(db).await;
    let (status, headers, page) = get(&app.router, "/docs", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("fetch(\"/openapi.json\")"), "the page reads this server's document");
    assert!(
        !page.contains("src=") && !page.contains("https://") && !page.contains("http://"),
        "nothing from elsewhere"
    );
    assert!(page.len() < 16 * 1024, "the embedded page stays small: {} bytes", page.len());

    let (status, headers, plain) = get(&app.router, "/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("content-encoding").is_none());
    assert_eq!(headers["vary"], "accept-encoding");
    let document: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert!(document["paths"]["/docs"]["get"].is_object(), "/docs is a line of the route table");

    let (status, headers, gzipped) = get(&app.router, "/openapi.json", &[("accept-encoding", "br, gzip;q=0.8")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "application/json");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice()).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain, "the same document");
    assert!(gzipped.len() * 6 < plain.len(), "{} bytes gzipped of {}", gzipped.len(), plain.len());
    println!("/openapi.json: {} bytes, {} gzipped", plain.len(), gzipped.len());

    for refused in ["gzip;q=0", "br", "identity"] {
        let (_, headers, body) = get(&app.router, "/openapi.json", &[("accept-encoding", refused)]).await;
        assert!(headers.get("content-encoding").is_none(), "{refused}");
        assert_eq!(body, plain, "{refused}");
    }
});
