//! `sanhu client` with scopes, a binding and keys, against the real `sanhu serve`, on SQLite and
//! PostgreSQL: the first start's client holds every scope; `--scope` restricts a client to what it
//! names; `--bound-to` takes only an enterprise member and only the scopes a bound client may hold,
//! and the bound client reaches nothing of another member; `add-key` gives a client a second key,
//! both verify, a third is refused, and `revoke-key` stops a key while the other goes on; `list`
//! shows all of it.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

/// `sanhu client ARGS` on the run's database: exit status, stdout, stderr.
fn client(dir: &Path, database: &Database, args: &[&str]) -> (bool, String, String) {
    let mut full: Vec<String> = vec!["client".to_owned()];
    full.extend(database.args());
    full.extend(args.iter().map(|a| a.to_string()));
    let (status, stdout, stderr) = run_bounded(sanhu(dir, &full), COMMAND_TIMEOUT);
    (status.success(), stdout, stderr)
}

fn client_ok(dir: &Path, database: &Database, args: &[&str]) -> String {
    let (ok, stdout, stderr) = client(dir, database, args);
    assert!(ok, "sanhu client {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

fn client_refused(dir: &Path, database: &Database, args: &[&str]) -> String {
    let (ok, stdout, stderr) = client(dir, database, args);
    assert!(!ok, "sanhu client {args:?} succeeded:\n{stdout}");
    stderr
}

/// The value printed after `name` (`client_id:`, `private_key:`, `key:`...).
fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in:\n{output}"))
}

/// The credential `client create` or `client add-key` printed.
fn credential(output: &str, client_id: &str) -> Credential {
    let seed = base64::engine::general_purpose::STANDARD.decode(field(output, "private_key:")).expect("base64");
    Credential { client_id: client_id.to_owned(), key: SigningKey::from_bytes(&seed.try_into().expect("32 bytes")) }
}

/// The lines `client list` shows for one client: its own line and the indented ones after it.
fn listed(dir: &Path, database: &Database, client_id: &str) -> String {
    let list = client_ok(dir, database, &["list"]);
    let mut lines = list.lines().skip_while(|l| !l.starts_with(client_id));
    let first = lines.next().unwrap_or_else(|| panic!("{client_id} is not listed:\n{list}"));
    let details: Vec<&str> = lines.take_while(|l| l.starts_with("    ")).collect();
    format!("{first}\n{}", details.join("\n"))
}

fn call(port: u16, credential: &Credential, method: &str, path: &str, body: Option<Value>) -> Answer {
    let body = body.map(|b| b.to_string());
    send(port, method, path, body.as_deref(), None, Some(credential)).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn clients_with_scopes_bindings_and_keys(database: Database) {
    let dir = WorkDir::new(&format!("clients-{}", database.name()));
    let dir = dir.path.as_path();
    let mut server = Server::new(dir, &database);
    server.start();
    let port = server.port;
    let platform = Credential::load(dir);

    // The first start's client holds every scope.
    let first = listed(dir, &database, &platform.client_id);
    assert!(
        first.contains("scopes:   ledger:read ledger:write parties:read parties:write wallet:read wallet:write admin:read admin:write audit:read cards:read cards:write"),
        "{first}"
    );
    assert!(first.contains("key 1:    active"), "{first}");

    // An enterprise and a personal member, made by the platform.
    let company = json!({
        "name": "某某科技有限公司", "credit_code": "91110108MA01ABCD0B", "legal_person": "张三",
        "legal_person_certificate_number": "110101199003071233", "contact": "李四",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let registered = call(
        port,
        &platform,
        "POST",
        "/v1/enterprises",
        Some(json!({"email": "finance@example.com", "company": company, "admin": {"phone": "13900000001"}})),
    );
    assert_eq!(registered.status, 201, "{registered:?}");
    let enterprise = registered.json()["member"]["id"].as_str().unwrap().to_owned();
    let person = call(port, &platform, "POST", "/v1/members", Some(json!({"phone": "13800138001"})));
    let person = person.json()["member"]["id"].as_str().unwrap().to_owned();

    // --scope restricts; an unknown one is named.
    let refused = client_refused(dir, &database, &["create", "--name", "x", "--scope", "ledger:admin"]);
    assert!(refused.contains("\"ledger:admin\" is not a scope"), "{refused}");
    let created =
        client_ok(dir, &database, &["create", "--name", "reader", "--scope", "ledger:read", "--scope", "audit:read"]);
    let reader = credential(&created, &field(&created, "client_id:"));
    assert_eq!(field(&created, "scopes:"), "ledger:read audit:read");
    assert_eq!(call(port, &reader, "GET", "/v1/ledger/accounts", None).status, 200);
    let refused = call(port, &reader, "POST", "/v1/ledger/accounts", Some(json!({"currency": "CNY"})));
    assert_eq!((refused.status, refused.code().as_str()), (403, "scope_missing"), "{refused:?}");
    assert!(listed(dir, &database, &reader.client_id).contains("scopes:   ledger:read audit:read"));

    // --bound-to: an enterprise member only, and only the scopes of one member's parties and wallet.
    let refused = client_refused(dir, &database, &["create", "--name", "x", "--bound-to", &person]);
    assert!(refused.contains("enterprise"), "{refused}");
    let refused =
        client_refused(dir, &database, &["create", "--name", "x", "--bound-to", "mem_01JBQ8Z5S3M4V7X9Y2A6C8E0G1"]);
    assert!(refused.contains("no member"), "{refused}");
    let refused =
        client_refused(dir, &database, &["create", "--name", "x", "--bound-to", &enterprise, "--scope", "ledger:read"]);
    assert!(refused.contains("cannot hold ledger:read"), "{refused}");
    let created = client_ok(dir, &database, &["create", "--name", "merchant", "--bound-to", &enterprise]);
    let merchant = credential(&created, &field(&created, "client_id:"));
    assert_eq!(field(&created, "bound_to:"), enterprise);
    assert_eq!(
        field(&created, "scopes:"),
        "parties:read parties:write wallet:read wallet:write cards:read cards:write"
    );
    assert!(listed(dir, &database, &merchant.client_id).contains(&format!("bound_to: {enterprise}")));
    assert_eq!(call(port, &merchant, "GET", &format!("/v1/members/{enterprise}"), None).status, 200);
    let hidden = call(port, &merchant, "GET", &format!("/v1/members/{person}"), None);
    assert_eq!((hidden.status, hidden.code().as_str()), (404, "member_not_found"), "{hidden:?}");
    let refused = call(port, &merchant, "POST", "/v1/members", Some(json!({"phone": "13800138002"})));
    assert_eq!((refused.status, refused.code().as_str()), (403, "client_bound"), "{refused:?}");

    // Keys: a second one verifies beside the first; a third waits for a revocation.
    let added = client_ok(dir, &database, &["add-key", &merchant.client_id]);
    assert_eq!(field(&added, "key:"), "2");
    let second = credential(&added, &merchant.client_id);
    for caller in [&merchant, &second] {
        assert_eq!(call(port, caller, "GET", &format!("/v1/members/{enterprise}/wallet"), None).status, 200);
    }
    let refused = client_refused(dir, &database, &["add-key", &merchant.client_id]);
    assert!(refused.contains("holds 2 active keys already"), "{refused}");
    let revoked = client_ok(dir, &database, &["revoke-key", &merchant.client_id, "1"]);
    assert!(revoked.contains("revoked key 1"), "{revoked}");
    // The server trusts a client as read for up to a second (docs/SECURITY.md, "Keys").
    std::thread::sleep(sanhu_http::client_cache::CLIENT_TRUSTED_FOR);
    let stale = call(port, &merchant, "GET", &format!("/v1/members/{enterprise}"), None);
    assert_eq!((stale.status, stale.code().as_str()), (401, "invalid_signature"), "{stale:?}");
    assert_eq!(call(port, &second, "GET", &format!("/v1/members/{enterprise}"), None).status, 200);
    let shown = listed(dir, &database, &merchant.client_id);
    assert!(shown.contains("key 1:    revoked") && shown.contains("key 2:    active"), "{shown}");
    let refused = client_refused(dir, &database, &["revoke-key", &merchant.client_id, "7"]);
    assert!(refused.contains("has no key 7"), "{refused}");
    let added = client_ok(dir, &database, &["add-key", &merchant.client_id]);
    assert_eq!(field(&added, "key:"), "3");
    let third = credential(&added, &merchant.client_id);
    assert_eq!(call(port, &third, "GET", &format!("/v1/members/{enterprise}"), None).status, 200);

    // A revoked client takes no new key.
    client_ok(dir, &database, &["revoke", &reader.client_id]);
    let refused = client_refused(dir, &database, &["add-key", &reader.client_id]);
    assert!(refused.contains("is revoked"), "{refused}");
    server.stop();
}

#[test]
fn clients_with_scopes_bindings_and_keys_on_sqlite() {
    clients_with_scopes_bindings_and_keys(Database::Sqlite);
}

#[test]
fn clients_with_scopes_bindings_and_keys_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    clients_with_scopes_bindings_and_keys(Database::Postgres(schema));
}

#[test]
fn the_rate_limit_comes_from_the_configuration_and_answers_429_past_the_burst() {
    let dir = WorkDir::new("clients-rate");
    let dir = dir.path.as_path();
    std::fs::write(dir.join("sanhu.toml"), "rate_limit_per_s = 0\n").expect("write sanhu.toml");
    let (status, _, stderr) = run_bounded(sanhu(dir, &["migrate".to_owned()]), COMMAND_TIMEOUT);
    assert!(!status.success() && stderr.contains("rate_limit_per_s must be at least 1"), "{stderr}");

    std::fs::write(dir.join("sanhu.toml"), "rate_limit_per_s = 1\nrate_limit_burst = 2\n").expect("write sanhu.toml");
    let mut server = Server::new(dir, &Database::Sqlite);
    server.start();
    let platform = Credential::load(dir);
    for _ in 0..2 {
        assert_eq!(call(server.port, &platform, "GET", "/v1/ledger/accounts", None).status, 200);
    }
    let limited = call(server.port, &platform, "GET", "/v1/ledger/accounts", None);
    assert_eq!((limited.status, limited.code().as_str()), (429, "rate_limited"), "{limited:?}");
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    server.stop();
}
