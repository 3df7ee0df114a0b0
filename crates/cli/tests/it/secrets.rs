//! No secret in the logs or the database, end to end with the real binary on both backends: a full
//! workload (a member registered, authenticated with an ID card, an enterprise registered with its
//! credit code and its legal person's ID number and its business licence verified, a card bound, a pay
//! password set and verified, a one-time code issued and verified, card and certificate numbers written
//! into free text: reasons of a member's lock and unlock and of a customer's freeze, an address, a
//! ledger account's metadata, a transfer's reference and metadata; every request signed) with logging
//! at its most verbose (`SANHU_LOG=trace`); then the server's standard output and error and the
//! database (SQLite: its files, byte for byte; PostgreSQL: every row of every table as text) are
//! searched for every secret the run used. None may appear.

use crate::common;

use common::*;
use serde_json::{json, Value};

const ID_NUMBER: &str = "110101199003071233";
const LEGAL_PERSON_NUMBER: &str = "310115198511114560";
const CREDIT_CODE: &str = "91350100M000100Y43";
const CARD_NUMBER: &str = "6222020000000000018";
const PAY_PASSWORD: &str = "135792";
/// Numbers that only ever appear in free text: a test Visa number (whole, in groups of four with
/// spaces, with hyphens) and an ID number ending in X.
const FREE_TEXT_CARD: &str = "4111111111111111";
const FREE_TEXT_CARD_SPACED: &str = "4111 1111 1111 1111";
const FREE_TEXT_CARD_DASHED: &str = "4111-1111-1111-1111";
const FREE_TEXT_ID_NUMBER: &str = "44030520000229007X";

/// A signed POST that must answer `status`; its JSON.
fn post(server: &Server, credential: &Credential, path: &str, body: Value, key: Option<&str>, status: u16) -> Value {
    let body = body.to_string();
    let answer = send(server.port, "POST", path, Some(&body), key, Some(credential))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert_eq!(answer.status, status, "POST {path}: {answer:?}\n{}", server.output());
    answer.json()
}

/// Everything the database keeps, as bytes: SQLite's files as they are on disk (the database, its
/// WAL and shared memory); on PostgreSQL every row of every table of the run's schema as text.
fn database_contents(dir: &std::path::Path, database: &Database) -> Vec<u8> {
    match database {
        Database::Sqlite => {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(dir).expect("list the working directory") {
                let path = entry.expect("a directory entry").path();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.starts_with("sanhu.db") && path.is_file() {
                    bytes.extend(std::fs::read(&path).expect("read a database file"));
                }
            }
            assert!(!bytes.is_empty(), "no SQLite file in {}", dir.display());
            bytes
        }
        Database::Postgres(schema) => postgres_runtime().block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
            tokio::spawn(connection);
            let tables = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
                     AND table_type = 'BASE TABLE' ORDER BY 1",
                    &[&schema.schema],
                )
                .await
                .expect("list the tables");
            assert!(tables.len() > 5, "the schema has its tables");
            let mut text = String::new();
            for table in tables {
                let name: String = table.get(0);
                let rows = client
                    .query(&format!("SELECT t::text FROM {}.{name} t", schema.schema), &[])
                    .await
                    .unwrap_or_else(|e| panic!("dump {name}: {e}"));
                for row in rows {
                    text.push_str(&format!("{name}: {}\n", row.get::<_, String>(0)));
                }
            }
            text.into_bytes()
        }),
    }
}

/// Whether `needle` occurs in `haystack`. A short secret of digits (a pay password, a code) counts
/// only where no other digit touches it: inside a longer number (a timestamp, an amount) it is
/// chance, not a leak.
fn leaks(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    let digits_only = needle.iter().all(u8::is_ascii_digit) && needle.len() < 10;
    haystack.windows(needle.len()).enumerate().any(|(at, window)| {
        if !window.eq_ignore_ascii_case(needle) {
            return false;
        }
        if !digits_only {
            return true;
        }
        let before = at.checked_sub(1).map(|i| haystack[i]);
        let after = haystack.get(at + needle.len()).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn no_secret_reaches_the_logs_or_the_database(database: Database) {
    let work = WorkDir::new(&format!("secrets-{}", database.name()));
    let dir = work.path.as_path();

    // The API client is made before the first start, so that `serve` makes none and prints no key:
    // the private key is then only in the credential file, where `client create --save` put it.
    let mut create = vec!["client".to_owned()];
    create.extend(database.args());
    create.extend(["create", "--name", "back office", "--save"].map(str::to_owned));
    let (status, stdout, stderr) = run_bounded(sanhu(dir, &create), COMMAND_TIMEOUT);
    assert!(status.success(), "client create:\n{stdout}\n{stderr}");

    let mut server = Server::new(dir, &database);
    server.env.push(("SANHU_LOG".to_owned(), "trace".to_owned()));
    server.start();
    let credential = Credential::load(dir);

    // A person: registered, activated, authenticated with an ID card (with an Idempotency-Key, so its
    // fingerprint and stored answer are kept), found by the number.
    let registered = post(&server, &credential, "/v1/members", json!({"phone": "13800138001"}), None, 201);
    let member = registered["member"]["id"].as_str().expect("a member id").to_owned();
    post(&server, &credential, &format!("/v1/members/{member}/activate"), json!({}), None, 200);
    let authentication = json!({
        "type": "id_card", "channel": "police_id_check", "name": "张三",
        "certificate_type": "id_card", "certificate_number": ID_NUMBER, "result": "verified"
    });
    let path = format!("/v1/members/{member}/authentications");
    let verified = post(&server, &credential, &path, authentication.clone(), Some("auth-1"), 201);
    assert!(verified.to_string().contains("110***********1233"), "the answer shows the masked number: {verified}");
    // The retry is answered from the stored response.
    let replayed =
        send(server.port, "POST", &path, Some(&authentication.to_string()), Some("auth-1"), Some(&credential))
            .expect("a retried authentication");
    assert!(replayed.replayed && replayed.status == 201, "{replayed:?}");
    let customer = verified["customer_id"].as_str().expect("the customer").to_owned();
    let found = get_ok(server.port, &credential, &format!("/v1/customers?certificate_number={ID_NUMBER}"));
    assert_eq!(found["data"][0]["id"], customer.as_str(), "found by its number: {found}");
    assert_eq!(found["data"][0]["certificate"]["masked_number"], "110***********1233", "{found}");

    // An enterprise: its credit code and its legal person's ID number, then its business licence.
    let company = json!({
        "name": "某某科技有限公司", "credit_code": CREDIT_CODE, "legal_person": "李四",
        "legal_person_certificate_number": LEGAL_PERSON_NUMBER, "contact": "王五",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": format!("北京市海淀区某某路1号 (card {FREE_TEXT_CARD_SPACED})")
    });
    let body = json!({"email": "finance@example.com", "company": company, "admin": {"phone": "13900139001"}});
    let enterprise = post(&server, &credential, "/v1/enterprises", body, Some("enterprise-1"), 201);
    let enterprise_member = enterprise["member"]["id"].as_str().expect("the enterprise member").to_owned();
    let licence = json!({
        "type": "business_licence", "channel": "business_registry", "name": "某某科技有限公司",
        "certificate_type": "unified_social_credit_code", "certificate_number": CREDIT_CODE, "result": "verified"
    });
    post(&server, &credential, &format!("/v1/members/{enterprise_member}/authentications"), licence, None, 201);
    let read = get_ok(server.port, &credential, &format!("/v1/members/{enterprise_member}/company"));
    assert_eq!(read["company"]["credit_code"]["masked_number"], "913***********0Y43", "{read}");
    let found = get_ok(server.port, &credential, &format!("/v1/customers?certificate_number={CREDIT_CODE}"));
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");

    // A card bound, a pay password set and verified (right and wrong), a one-time code issued and
    // verified (wrong, then right).
    let card = json!({"card_number": CARD_NUMBER, "holder": "张三"});
    let bound = post(&server, &credential, &format!("/v1/members/{member}/bank-cards"), card, None, 201);
    assert_eq!(bound["masked_number"], "622202*********0018", "{bound}");
    let pay_password = format!("/v1/members/{member}/pay-password");
    post(&server, &credential, &pay_password, json!({"pay_password": PAY_PASSWORD}), None, 201);
    post(&server, &credential, &format!("{pay_password}/verify"), json!({"pay_password": PAY_PASSWORD}), None, 200);
    post(&server, &credential, &format!("{pay_password}/verify"), json!({"pay_password": "246801"}), None, 403);
    let issued = post(
        &server,
        &credential,
        "/v1/one-time-codes",
        json!({"purpose": "sign_in", "phone": "13800138001"}),
        None,
        201,
    );
    let code = issued["code"].as_str().expect("the code").to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = json!({"purpose": "sign_in", "phone": "13800138001", "code": wrong});
    post(&server, &credential, "/v1/one-time-codes/verify", verify, None, 403);
    let verify = json!({"purpose": "sign_in", "phone": "13800138001", "code": code});
    post(&server, &credential, "/v1/one-time-codes/verify", verify, None, 200);
    // Card and certificate numbers in free text: the reasons of a lock, an unlock and a customer's
    // freeze (kept in the history, answered by it), a ledger account's metadata, a transfer's
    // reference and metadata. Each is answered masked.
    let lock = json!({"reason": format!("card {CARD_NUMBER} reported lost by {ID_NUMBER}")});
    post(&server, &credential, &format!("/v1/members/{member}/lock"), lock, None, 200);
    let unlock = json!({"reason": format!("ID {} checked, card {FREE_TEXT_CARD_DASHED} back", FREE_TEXT_ID_NUMBER.to_ascii_lowercase())});
    post(&server, &credential, &format!("/v1/members/{member}/unlock"), unlock, None, 200);
    let history = get_ok(server.port, &credential, &format!("/v1/members/{member}/history"));
    let history_text = history.to_string();
    for masked in ["622202*********0018", "110***********1233", "440***********007X", "411111******1111"] {
        assert!(history_text.contains(masked), "the history shows {masked}: {history}");
    }
    let freeze =
        json!({"status": "frozen", "reason": format!("court order against {CREDIT_CODE} and {FREE_TEXT_ID_NUMBER}")});
    post(&server, &credential, &format!("/v1/customers/{customer}/status"), freeze, None, 200);
    let thaw = json!({"status": "normal", "reason": format!("lifted; card {FREE_TEXT_CARD} unaffected")});
    post(&server, &credential, &format!("/v1/customers/{customer}/status"), thaw, None, 200);
    let history = get_ok(server.port, &credential, &format!("/v1/customers/{customer}/history"));
    assert!(history.to_string().contains("913***********0Y43"), "the customer's history masks the code: {history}");
    let metadata = json!({"holder_card": FREE_TEXT_CARD_DASHED, "note": format!("ID {FREE_TEXT_ID_NUMBER}")});
    let funding = post(
        &server,
        &credential,
        "/v1/ledger/accounts",
        json!({"currency": "CNY", "normal_side": "debit", "metadata": metadata}),
        None,
        201,
    );
    assert_eq!(funding["metadata"]["holder_card"], "411111******1111", "{funding}");
    let wallet = post(&server, &credential, "/v1/ledger/accounts", json!({"currency": "CNY"}), None, 201);
    let transfer = json!({
        "debit_account_id": funding["id"], "credit_account_id": wallet["id"], "amount": 1000, "code": "recharge",
        "reference": format!("card {FREE_TEXT_CARD}"), "metadata": {"payer": ID_NUMBER, "card": FREE_TEXT_CARD_SPACED}
    });
    let transferred = post(&server, &credential, "/v1/ledger/transfers", transfer, Some("transfer-1"), 201);
    let transferred_text = transferred.to_string();
    assert!(transferred_text.contains("card 411111******1111"), "the reference is masked: {transferred}");
    assert!(transferred_text.contains("110***********1233"), "the metadata is masked: {transferred}");
    let read = get_ok(server.port, &credential, &format!("/v1/members/{enterprise_member}/company"));
    assert!(read.to_string().contains("(card 411111******1111)"), "the address is masked: {read}");

    // A request refused with an error that could echo its input.
    let refused = json!({"type": "id_card", "channel": "police_id_check", "name": "张三",
                         "certificate_type": "id_card", "certificate_number": "110101199003071234", "result": "verified"});
    post(&server, &credential, &path, refused, None, 422);
    let audit = get_ok(server.port, &credential, "/v1/audit-events?limit=100");
    assert!(audit["data"].as_array().is_some_and(|events| events.len() >= 10), "{audit}");
    server.stop();

    // The secrets the run used, and the keys sanhu holds.
    let read_key = |file: &str| -> String {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        text.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).expect("a key").trim().to_owned()
    };
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("sanhu-credentials.json")).unwrap())
        .expect("the credential is JSON");
    let private_key = saved["private_key"].as_str().expect("the private key").to_owned();
    let secrets = [
        ("the ID card number", ID_NUMBER.to_owned()),
        ("the legal person's ID number", LEGAL_PERSON_NUMBER.to_owned()),
        ("the credit code", CREDIT_CODE.to_owned()),
        ("the card number", CARD_NUMBER.to_owned()),
        ("the card number in free text", FREE_TEXT_CARD.to_owned()),
        ("the card number in free text, in groups", FREE_TEXT_CARD_SPACED.to_owned()),
        ("the card number in free text, with hyphens", FREE_TEXT_CARD_DASHED.to_owned()),
        ("the ID number in free text", FREE_TEXT_ID_NUMBER.to_owned()),
        ("the pay password", PAY_PASSWORD.to_owned()),
        ("the one-time code", code.clone()),
        ("the client's private key", private_key.clone()),
        ("the client's private key in hex", hex(&credential.key.to_bytes())),
        ("the server secret", read_key("sanhu-secret.key")),
        ("the data key", read_key("sanhu-data.key")),
    ];

    let mut logs = Vec::new();
    for (stdout, stderr) in &server.logs {
        logs.extend(std::fs::read(stdout).expect("the server's stdout"));
        logs.extend(std::fs::read(stderr).expect("the server's stderr"));
    }
    let log_text = String::from_utf8_lossy(&logs).into_owned();
    assert!(log_text.contains("TRACE") || log_text.contains("DEBUG"), "the log is at its most verbose:\n{log_text}");
    assert!(log_text.contains("110***********1233"), "the authentication is logged, masked:\n{log_text}");
    let stored = database_contents(dir, &database);
    assert!(leaks(&stored, "s1."), "the database holds sealed certificate numbers");
    for (what, secret) in &secrets {
        assert!(!leaks(&logs, secret), "the server's output holds {what} ({secret}):\n{log_text}");
        assert!(!leaks(&stored, secret), "the {} database holds {what} ({secret})", database.name());
    }
}

#[test]
fn no_secret_reaches_the_logs_or_the_database_on_sqlite() {
    no_secret_reaches_the_logs_or_the_database(Database::Sqlite);
}

#[test]
fn no_secret_reaches_the_logs_or_the_database_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    no_secret_reaches_the_logs_or_the_database(Database::Postgres(schema));
}

#[test]
fn a_short_secret_inside_a_longer_number_is_not_a_leak_but_standing_alone_it_is() {
    assert!(!leaks(b"\"at\":1718000135792123", PAY_PASSWORD));
    assert!(leaks(b"\"pay_password\":\"135792\"", PAY_PASSWORD));
    assert!(leaks(b"x=135792", PAY_PASSWORD));
    assert!(leaks(b"id 91350100m000100y43", CREDIT_CODE), "letters in any case");
}
