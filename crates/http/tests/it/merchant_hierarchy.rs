//! The merchant hierarchy over HTTP, on SQLite and on PostgreSQL: merchants placed under parents at
//! configured levels (checked: parent, level, type, depth), bound clients at three levels tested
//! against every other level's and a sibling's ids (below: reached; beside or above: 404 as if
//! absent), moves (staff's, maker-checker) and who reaches a merchant before and after, concurrent
//! moves that would make a cycle, and sub-merchants opened through a special merchant's client.

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::id::MemberId;
use sanhu_core::party::merchant::{
    DocumentKind, MerchantLimits, MerchantType, MerchantTypeCode, MerchantTypeSpec, MerchantTypes, SettlementKind,
};
use sanhu_core::party::merchant_level::{MerchantLevelSpec, MerchantLevels};
use sanhu_core::party::{AccountTypeCode, PartyKind};
use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::{body_bytes, bound_client, Client, TestApp, TestResponse};
use sanhu_testkit::ids::{credit_code_of, ID_CARD};
use sanhu_testkit::{on_both_backends, staff, world, TestDatabase};
use serde_json::{json, Value};

/// A unified social credit code whose first 17 characters end in `n`, with its check character.
pub(crate) fn credit_code(n: u32) -> String {
    credit_code_of(2, n)
}

/// Levels: channel partners at the top; agents under them or under agents; merchants at the top or
/// under either, special; stores, the merchants' sub-merchants. At most 4 deep. One enterprise type.
pub(crate) fn parties() -> PartyConfig {
    let code = |c: &str| AccountTypeCode::parse(c).unwrap();
    let enterprise = MerchantTypeSpec {
        code: MerchantTypeCode::parse("enterprise").unwrap(),
        name: "企业商户".into(),
        member_kind: PartyKind::Enterprise,
        real_name_required: false,
        documents: DocumentKind::ALL.to_vec(),
        settlement_accounts: vec![SettlementKind::Corporate],
        limits: MerchantLimits::new(300_000, 500_000, 800_000).unwrap(),
        accounts: vec![code("settlement")],
    };
    let level = |c: &str, top: bool, under: &[&str]| MerchantLevelSpec {
        code: c.to_owned(),
        name: c.to_owned(),
        top,
        under: under.iter().map(|u| (*u).to_owned()).collect(),
        merchant_types: Vec::new(),
        special: false,
        sub_merchant: false,
        service_provider: c == "service_provider",
    };
    let levels = vec![
        level("channel_partner", true, &[]),
        level("agent", false, &["channel_partner", "agent"]),
        MerchantLevelSpec { special: true, ..level("merchant", true, &["channel_partner", "agent"]) },
        MerchantLevelSpec { sub_merchant: true, ..level("store", false, &["merchant"]) },
    ];
    PartyConfig {
        merchant_types: MerchantTypes::new(vec![MerchantType::configure(enterprise).unwrap()]).unwrap(),
        merchant_levels: MerchantLevels::new(levels, 4).unwrap(),
        merchants_per_customer_max: 5,
        ..world::party_config()
    }
}

pub(crate) async fn app(db: TestDatabase) -> TestApp {
    app_with(db, parties()).await
}

/// The API with an API client and two staff members, `MAKER` and `CHECKER` (cheap password hashing),
/// under `parties`.
pub(crate) async fn app_with(db: TestDatabase, parties: PartyConfig) -> TestApp {
    app_with_wallet(db, parties, world::wallet_config()).await
}

/// [`app_with`] under the wallet configuration `wallet`.
pub(crate) async fn app_with_wallet(
    db: TestDatabase,
    parties: PartyConfig,
    wallet: sanhu_service::wallet::WalletConfig,
) -> TestApp {
    TestApp::staffed(db, parties, wallet, &staff::REVIEWERS).await
}

pub(crate) fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

/// The name of the business numbered `n`.
pub(crate) fn business(n: u32) -> String {
    format!("某某科技{n}有限公司")
}

/// An active enterprise member, business `n`; its id.
pub(crate) async fn enterprise(app: &TestApp, n: u32) -> String {
    let company = json!({
        "name": business(n), "credit_code": credit_code(n), "legal_person": "张三",
        "legal_person_certificate_number": ID_CARD, "contact": "李四", "contact_phone": "13912345678",
        "industry": "I642", "licence_expiry": "2035-06-30", "address": "北京市海淀区某某路1号"
    });
    let body = json!({"email": format!("m{n}@example.com"), "company": company,
                      "admin": {"phone": format!("139{n:08}")}});
    let registered = app.post("/v1/enterprises", body).await;
    let member = id_of(&registered.assert_status(StatusCode::CREATED)["member"]);
    app.activate(&member).await;
    member
}

pub(crate) fn opening(member: &str, n: u32, level: &str, parent: Option<&str>) -> Value {
    let mut body = json!({
        "member_id": member, "merchant_type": "enterprise", "name": format!("商户{n}"),
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": business(n), "credit_code": credit_code(n)},
        "level": level,
    });
    if let Some(parent) = parent {
        body["parent_id"] = json!(parent);
    }
    body
}

/// Takes an applying merchant of business `n` through the review to active, as `client` (None: the
/// platform) for what the merchant's side does.
pub(crate) async fn activate_merchant(app: &TestApp, merchant: &str, n: u32, client: Option<&Client>) {
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": credit_code(n),
                           "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    let account = json!({"kind": "corporate", "account_name": business(n), "account_number": "1100000000000000000001",
                         "bank_code": "102", "branch_code": "102100000012"});
    for (step, body) in [("documents", documents), ("settlement-account", account)] {
        let answer = match client {
            Some(client) => app.send_as(client, "POST", &format!("{path}/{step}"), body).await,
            None => app.post(&format!("{path}/{step}"), body).await,
        };
        answer.assert_status(StatusCode::OK);
    }
    let verification = json!({"verified": true, "account_number": "1100000000000000000001"});
    app.post(&format!("{path}/settlement-account/verification"), verification).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let (status, body) = app.held_and_approved(&format!("{path}/review"), json!({"decision": "approve"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
}

/// An active merchant of a new enterprise member, business `n`, at `level` under `parent`:
/// (member, merchant).
pub(crate) async fn placed(app: &TestApp, n: u32, level: &str, parent: Option<&str>) -> (String, String) {
    let member = enterprise(app, n).await;
    let opened = app.post("/v1/merchants", opening(&member, n, level, parent)).await;
    let merchant = id_of(opened.assert_status(StatusCode::CREATED));
    activate_merchant(app, &merchant, n, None).await;
    (member, merchant)
}

/// A sub-merchant (a store) of business `n` opened by `client` under `parent`.
pub(crate) fn sub_merchant(n: u32) -> Value {
    json!({
        "merchant_type": "enterprise", "name": format!("门店{n}"),
        "scenario": {"kind": "offline_store", "address": "北京市朝阳区某某街2号"},
        "contact": {"name": "王五", "phone": "13912345679"},
        "business": {"registered_name": business(n), "credit_code": credit_code(n)},
    })
}

async fn reaches(app: &TestApp, client: &Client, merchant: &str) -> bool {
    let answer = app.send_as(client, "GET", &format!("/v1/merchants/{merchant}"), Value::Null).await;
    match answer.status {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => {
            answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
            false
        }
        other => panic!("{other}: {}", answer.body),
    }
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

on_both_backends!(bound_clients_at_each_level_reach_below_and_nothing_beside_or_above, |db| {
    let app = app(db).await;
    // channel partner C; agents A and its sibling A2 under C; merchants M under A and M2 under A2;
    // a store S, M's sub-merchant.
    let (c_member, c) = placed(&app, 1, "channel_partner", None).await;
    let (a_member, a) = placed(&app, 2, "agent", Some(&c)).await;
    let (a2_member, a2) = placed(&app, 3, "agent", Some(&c)).await;
    let (m_member, m) = placed(&app, 4, "merchant", Some(&a)).await;
    let (_, m2) = placed(&app, 5, "merchant", Some(&a2)).await;
    let at_c = bound_client(&app.db.store, &c_member, "channel").await;
    let at_a = bound_client(&app.db.store, &a_member, "agent").await;
    let at_m = bound_client(&app.db.store, &m_member, "merchant").await;
    let opened = app.send_as(&at_m, "POST", &format!("/v1/merchants/{m}/sub-merchants"), sub_merchant(6)).await;
    let opened = opened.assert_status(StatusCode::CREATED).clone();
    let s = id_of(&opened);
    assert_eq!((opened["level"].as_str(), opened["parent_id"].as_str()), (Some("store"), Some(m.as_str())));
    assert_eq!(opened["depth"], 4);
    let s_member = opened["member_id"].as_str().unwrap().to_owned();

    let all = [&c, &a, &a2, &m, &m2, &s];
    let expected: [(&Client, &[&String]); 3] =
        [(&at_c, &[&c, &a, &a2, &m, &m2, &s]), (&at_a, &[&a, &m, &s]), (&at_m, &[&m, &s])];
    for (client, reached) in expected {
        for merchant in all {
            assert_eq!(reaches(&app, client, merchant).await, reached.contains(&merchant), "{merchant}");
        }
        // Its list is what it reaches, and nothing else.
        let listed = app.send_as(client, "GET", "/v1/merchants", Value::Null).await;
        assert_eq!(ids(listed.assert_status(StatusCode::OK)), sorted(reached));
    }
    // Every kind of object follows its member: an agent reaches the member below it, its accounts;
    // a merchant reaches neither its agent nor its sibling's.
    let member_path = |m: &str| format!("/v1/members/{m}");
    app.send_as(&at_a, "GET", &member_path(&m_member), Value::Null).await.assert_status(StatusCode::OK);
    app.send_as(&at_a, "GET", &member_path(&s_member), Value::Null).await.assert_status(StatusCode::OK);
    for other in [&c_member, &a_member, &a2_member] {
        app.send_as(&at_m, "GET", &member_path(other), Value::Null)
            .await
            .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    }
    app.send_as(&at_a, "GET", &format!("{}/accounts", member_path(&a2_member)), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    let m_accounts = app.send_as(&at_a, "GET", &format!("{}/accounts", member_path(&m_member)), Value::Null).await;
    let m_account = m_accounts.assert_status(StatusCode::OK)["data"][0]["id"].as_str().unwrap().to_owned();
    app.send_as(&at_m, "GET", &format!("/v1/accounts/{m_account}"), Value::Null).await.assert_status(StatusCode::OK);
    app.send_as(&at_a, "GET", &format!("/v1/accounts/{m_account}"), Value::Null).await.assert_status(StatusCode::OK);

    // Children and subtrees, paged; of a merchant beside or above, 404.
    let children = app.send_as(&at_c, "GET", &format!("/v1/merchants/{c}/children?limit=1"), Value::Null).await;
    let first = children.assert_status(StatusCode::OK).clone();
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.send_as(&at_c, "GET", &format!("/v1/merchants/{c}/children?after={cursor}"), Value::Null).await;
    let mut both = ids(&first);
    both.extend(ids(rest.assert_status(StatusCode::OK)));
    both.sort();
    assert_eq!(both, sorted(&[&a, &a2]));
    let subtree = app.send_as(&at_a, "GET", &format!("/v1/merchants/{a}/subtree"), Value::Null).await;
    assert_eq!(ids(subtree.assert_status(StatusCode::OK)), sorted(&[&m, &s]));
    for path in [format!("/v1/merchants/{c}/children"), format!("/v1/merchants/{a2}/subtree")] {
        app.send_as(&at_a, "GET", &path, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    // Opening under a parent beside answers as if it did not exist; under its own, it may.
    let beside = opening(&m_member, 4, "merchant", Some(&a2));
    app.send_as(&at_a, "POST", "/v1/merchants", beside).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    // A new member is nobody's yet: the agent does not reach it either.
    let new_member = enterprise(&app, 7).await;
    let below = opening(&new_member, 7, "merchant", Some(&a));
    app.send_as(&at_a, "POST", "/v1/merchants", below).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
});

on_both_backends!(a_merchant_is_placed_as_the_levels_allow, |db| {
    let app = app(db).await;
    let (_, c) = placed(&app, 11, "channel_partner", None).await;
    let (_, a) = placed(&app, 12, "agent", Some(&c)).await;
    let member = enterprise(&app, 13).await;
    let refused = |level: &str, parent: Option<&str>| opening(&member, 13, level, parent);
    let cases: [(Value, StatusCode, &str); 5] = [
        (refused("agent", None), StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_not_allowed"),
        (refused("channel_partner", Some(&a)), StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_not_allowed"),
        (refused("store", Some(&a)), StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_not_allowed"),
        (refused("duke", Some(&a)), StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_unknown"),
        (
            refused("agent", Some("mch_01JAAAAAAAAAAAAAAAAAAAAAAA")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "merchant_parent_unknown",
        ),
    ];
    for (body, status, code) in cases {
        app.post("/v1/merchants", body).await.assert_error(status, code);
    }
    let mut no_level = refused("agent", Some(&a));
    no_level.as_object_mut().unwrap().remove("level");
    app.post("/v1/merchants", no_level).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_required");
    // A parent still applying has nothing under it yet.
    let pending_member = enterprise(&app, 14).await;
    let pending = app.post("/v1/merchants", opening(&pending_member, 14, "agent", Some(&a))).await;
    let pending = id_of(pending.assert_status(StatusCode::CREATED));
    app.post("/v1/merchants", refused("merchant", Some(&pending)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_parent_not_active");
    // At most 4 deep: C, A, A's agent, a merchant; its store would be a fifth.
    activate_merchant(&app, &pending, 14, None).await;
    let deep = app.post("/v1/merchants", refused("merchant", Some(&pending))).await;
    let deep = id_of(deep.assert_status(StatusCode::CREATED));
    assert_eq!(app.get(&format!("/v1/merchants/{deep}")).await.assert_status(StatusCode::OK)["depth"], 4);
    activate_merchant(&app, &deep, 13, None).await;
    app.post(&format!("/v1/merchants/{deep}/sub-merchants"), sub_merchant(15))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_depth_exceeded");
    // The levels, as configured.
    let levels = app.get("/v1/merchant-levels").await.assert_status(StatusCode::OK).clone();
    assert_eq!(levels["depth_max"], 4);
    assert_eq!(
        levels["data"][3],
        json!({"code": "store", "name": "store", "top": false, "under": ["merchant"],
        "merchant_types": [], "special": false, "sub_merchant": true, "service_provider": false})
    );
});

on_both_backends!(a_move_changes_who_reaches_the_merchant_and_its_subtree, |db| {
    let app = app(db).await;
    let (_, c) = placed(&app, 21, "channel_partner", None).await;
    let (a_member, a) = placed(&app, 22, "agent", Some(&c)).await;
    let (a2_member, a2) = placed(&app, 23, "agent", Some(&c)).await;
    let (m_member, m) = placed(&app, 24, "merchant", Some(&a)).await;
    let at_a = bound_client(&app.db.store, &a_member, "agent").await;
    let at_a2 = bound_client(&app.db.store, &a2_member, "agent-2").await;
    let at_m = bound_client(&app.db.store, &m_member, "merchant").await;
    let s = id_of(
        app.send_as(&at_m, "POST", &format!("/v1/merchants/{m}/sub-merchants"), sub_merchant(25))
            .await
            .assert_status(StatusCode::CREATED),
    );
    assert!(reaches(&app, &at_a, &m).await && reaches(&app, &at_a, &s).await);
    assert!(!reaches(&app, &at_a2, &m).await && !reaches(&app, &at_a2, &s).await);

    let path = format!("/v1/merchants/{m}/move");
    // Not a bound client's to do; not under itself or below it; not to a level it cannot sit under.
    app.send_as(&at_a, "POST", &path, json!({"parent_id": a2, "reason": "换代理"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "scope_missing");
    for (parent, code) in [(&m, "merchant_move_into_own_subtree"), (&s, "merchant_move_into_own_subtree")] {
        app.post(&path, json!({"parent_id": parent, "reason": "换代理"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    app.post(&format!("/v1/merchants/{a}/move"), json!({"parent_id": null, "reason": "独立"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_not_allowed");

    // Staff move it, two of them; the store goes with it.
    let (status, moved) = app.held_and_approved(&path, json!({"parent_id": a2, "reason": "换代理"})).await;
    assert_eq!((status, moved["parent_id"].as_str()), (200, Some(a2.as_str())), "{moved}");
    assert!(!reaches(&app, &at_a, &m).await && !reaches(&app, &at_a, &s).await);
    assert!(reaches(&app, &at_a2, &m).await && reaches(&app, &at_a2, &s).await);
    assert!(reaches(&app, &at_m, &s).await);
    let subtree = app.get(&format!("/v1/merchants/{a}/subtree")).await;
    assert_eq!(ids(subtree.assert_status(StatusCode::OK)), Vec::<String>::new());
    let subtree = app.get(&format!("/v1/merchants/{c}/subtree")).await;
    assert_eq!(ids(subtree.assert_status(StatusCode::OK)), sorted(&[&a, &a2, &m, &s]));
    let history = app.get(&format!("/v1/merchants/{m}/history")).await.assert_status(StatusCode::OK).clone();
    let moved = history["data"].as_array().unwrap().iter().find(|e| e["action"] == "merchant.moved").unwrap().clone();
    assert_eq!(
        (moved["detail"]["from"].as_str(), moved["detail"]["to"].as_str()),
        (Some(a.as_str()), Some(a2.as_str()))
    );
    assert_eq!(moved["reason"], "换代理");
    // To the top: a merchant may stand there; no agent reaches it then.
    app.post(&path, json!({"parent_id": null, "reason": "直营"})).await.assert_status(StatusCode::OK);
    assert!(!reaches(&app, &at_a2, &m).await && !reaches(&app, &at_a2, &s).await);
    assert_eq!(app.get(&format!("/v1/merchants/{s}")).await.assert_status(StatusCode::OK)["depth"], 2);
});

on_both_backends!(concurrent_moves_never_make_a_cycle_and_requests_meanwhile_are_answered, |db| {
    let app = app(db).await;
    let (_, c) = placed(&app, 31, "channel_partner", None).await;
    let (x_member, x) = placed(&app, 32, "agent", Some(&c)).await;
    let (_, y) = placed(&app, 33, "agent", Some(&c)).await;
    let at_x = bound_client(&app.db.store, &x_member, "x").await;
    for _ in 0..3 {
        // X under Y and Y under X at once: one of them, never both.
        let (x_path, y_path) = (format!("/v1/merchants/{x}/move"), format!("/v1/merchants/{y}/move"));
        let x_under_y = app.post(&x_path, json!({"parent_id": y, "reason": "a"}));
        let y_under_x = app.post(&y_path, json!({"parent_id": x, "reason": "b"}));
        let reads = join_all((0..4).map(|_| reaches(&app, &at_x, &y)));
        let (first, second, reads) = tokio::join!(x_under_y, y_under_x, reads);
        let moved: Vec<&TestResponse> = [&first, &second].into_iter().filter(|r| r.status == StatusCode::OK).collect();
        assert_eq!(moved.len(), 1, "{} / {}", first.body, second.body);
        for refused in [&first, &second].into_iter().filter(|r| r.status != StatusCode::OK) {
            refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_move_into_own_subtree");
        }
        assert_eq!(reads.len(), 4);
        let (x_read, y_read) =
            (app.get(&format!("/v1/merchants/{x}")).await, app.get(&format!("/v1/merchants/{y}")).await);
        let (x_read, y_read) = (x_read.assert_status(StatusCode::OK), y_read.assert_status(StatusCode::OK));
        let one_under_other = x_read["parent_id"] == json!(y) || y_read["parent_id"] == json!(x);
        assert!(one_under_other && !(x_read["parent_id"] == json!(y) && y_read["parent_id"] == json!(x)));
        // X reaches Y exactly when Y is under it now.
        assert_eq!(reaches(&app, &at_x, &y).await, y_read["parent_id"] == json!(x));
        // Back under C, both, for the next round.
        for id in [&x, &y] {
            app.post(&format!("/v1/merchants/{id}/move"), json!({"parent_id": c, "reason": "回"}))
                .await
                .assert_status(StatusCode::OK);
        }
    }
});

on_both_backends!(a_special_merchant_opens_sub_merchants_operated_only_through_its_client, |db| {
    let app = app(db).await;
    let (_, c) = placed(&app, 41, "channel_partner", None).await;
    let (a_member, a) = placed(&app, 42, "agent", Some(&c)).await;
    let (m_member, m) = placed(&app, 43, "merchant", Some(&a)).await;
    let (m2_member, m2) = placed(&app, 44, "merchant", None).await;
    let at_a = bound_client(&app.db.store, &a_member, "agent").await;
    let at_m = bound_client(&app.db.store, &m_member, "merchant").await;
    let at_m2 = bound_client(&app.db.store, &m2_member, "merchant-2").await;

    // Opened through the special merchant's client, under it, with a member of its own and no login.
    let opened = app.send_as(&at_m, "POST", &format!("/v1/merchants/{m}/sub-merchants"), sub_merchant(45)).await;
    let opened = opened.assert_status(StatusCode::CREATED).clone();
    let s = id_of(&opened);
    let s_member = opened["member_id"].as_str().unwrap().to_owned();
    assert_ne!(s_member, m_member);
    assert_eq!(opened["status"], "applying");
    let member = app.get(&format!("/v1/members/{s_member}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(member["status"], "normal");
    let identities = app.get(&format!("/v1/members/{s_member}/identities")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(identities["data"], json!([]), "a sub-merchant has no login");
    // No client is bound to it.
    let refused = app.state.parties().check_client_binding(MemberId::parse(&s_member).unwrap()).await.unwrap_err();
    assert_eq!(refused.code(), "sub_merchant_client_refused");
    assert!(app.state.parties().check_client_binding(MemberId::parse(&m_member).unwrap()).await.is_ok());

    // Operated through its parent's client, which takes it to active; another merchant's client
    // finds nothing.
    activate_merchant(&app, &s, 45, Some(&at_m)).await;
    assert!(reaches(&app, &at_m, &s).await && reaches(&app, &at_a, &s).await);
    assert!(!reaches(&app, &at_m2, &s).await);
    let photos = json!({"premises_photos": ["file:x"]});
    app.send_as(&at_m2, "POST", &format!("/v1/merchants/{s}/documents"), photos)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    app.send_as(&at_m2, "POST", &format!("/v1/merchants/{m}/sub-merchants"), sub_merchant(46))
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");

    // Only a special merchant opens them, and nothing goes under a sub-merchant: two levels.
    app.send_as(&at_a, "POST", &format!("/v1/merchants/{a}/sub-merchants"), sub_merchant(46))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_not_special");
    app.send_as(&at_m, "POST", &format!("/v1/merchants/{s}/sub-merchants"), sub_merchant(46))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_not_special");
    // A store is not opened as an ordinary merchant under anything.
    let store_member = enterprise(&app, 47).await;
    app.post("/v1/merchants", opening(&store_member, 47, "store", Some(&m)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_level_not_allowed");
    // Under an Idempotency-Key, a retry finds the sub-merchant its first run opened.
    let path = format!("/v1/merchants/{m}/sub-merchants");
    let body = body_bytes(&sub_merchant(48));
    let keyed = [("idempotency-key", "store-48")];
    let first = app.send_signed(&at_m, "POST", &path, &body, &keyed).await;
    let first = id_of(first.assert_status(StatusCode::CREATED));
    let again = app.send_signed(&at_m, "POST", &path, &body, &keyed).await;
    let again = id_of(again.assert_status(StatusCode::CREATED));
    assert_eq!(first, again);
    let children = app.get(&format!("/v1/merchants/{m}/children")).await;
    assert_eq!(ids(children.assert_status(StatusCode::OK)), sorted(&[&s, &first]));
    let _ = m2;
});
