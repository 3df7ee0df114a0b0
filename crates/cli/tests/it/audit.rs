//! The audit log end to end, with the real binary on both backends: requests to `sanhu serve` leave a
//! chain that `sanhu verify` accepts; an audit event edited with SQL behind sanhu's back makes
//! `sanhu verify` fail naming it (and pass again once the edit is undone); an event deleted makes it
//! fail naming the missing event; each run is recorded and the last one is read back over the API.

use crate::common;

use common::*;
use serde_json::json;

/// Runs SQL on the run's database as someone with access to it would (the server stopped).
fn sql(dir: &std::path::Path, database: &Database, statements: &str) {
    match database {
        Database::Sqlite => {
            let connection = rusqlite::Connection::open(dir.join("sanhu.db")).expect("open sanhu.db");
            connection.execute_batch(statements).unwrap_or_else(|e| panic!("{statements}: {e}"));
        }
        Database::Postgres(schema) => postgres_runtime().block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
            tokio::spawn(connection);
            client.batch_execute(statements).await.unwrap_or_else(|e| panic!("{statements}: {e}"));
        }),
    }
}

/// The stored status of audit event `seq`.
fn status_of(dir: &std::path::Path, database: &Database, seq: i64) -> i64 {
    let query = format!("SELECT status FROM audit_events WHERE seq = {seq}");
    match database {
        Database::Sqlite => {
            let connection = rusqlite::Connection::open(dir.join("sanhu.db")).expect("open sanhu.db");
            connection.query_row(&query, [], |row| row.get(0)).expect("read an audit event")
        }
        Database::Postgres(schema) => postgres_runtime().block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
            tokio::spawn(connection);
            let status: i32 = client.query_one(&query, &[]).await.expect("read an audit event").get(0);
            i64::from(status)
        }),
    }
}

/// `sanhu verify` on the run's database: whether it passed, and what it printed.
fn verify(dir: &std::path::Path, database: &Database) -> (bool, String) {
    let mut args = vec!["verify".to_owned()];
    args.extend(database.args());
    let (status, stdout, stderr) = run_bounded(sanhu(dir, &args), COMMAND_TIMEOUT);
    (status.success(), format!("{stdout}\n--- stderr ---\n{stderr}"))
}

fn verify_names_the_first_edited_or_deleted_audit_event(database: Database) {
    let work = WorkDir::new(&format!("audit-{}", database.name()));
    let dir = work.path.as_path();
    let mut server = Server::new(dir, &database);
    server.start();
    let credential = Credential::load(dir);
    let port = server.port;

    // Six state-changing requests: five succeed, one is refused. A read adds nothing.
    let platform = open_account(port, &credential, r#"{"currency":"CNY","normal_side":"debit","code":"platform"}"#);
    let wallet = open_account(port, &credential, r#"{"currency":"CNY","code":"wallet"}"#);
    let moved = send(
        port,
        "POST",
        "/v1/ledger/transfers",
        Some(&transfer_body(None, &platform, &wallet, 500)),
        None,
        Some(&credential),
    )
    .expect("a transfer");
    assert_eq!(moved.status, 201, "{moved:?}");
    let refused = send(
        port,
        "POST",
        "/v1/ledger/transfers",
        Some(&transfer_body(None, &wallet, &platform, 9_999)),
        None,
        Some(&credential),
    )
    .expect("a transfer beyond the balance");
    assert_eq!((refused.status, refused.code().as_str()), (422, "insufficient_funds"), "{refused:?}");
    let registered =
        send(port, "POST", "/v1/members", Some(&json!({"phone": "13700000001"}).to_string()), None, Some(&credential))
            .expect("a registration");
    assert_eq!(registered.status, 201, "{registered:?}");
    let member = registered.json()["member"]["id"].as_str().expect("a member id").to_owned();
    let locked = send(
        port,
        "POST",
        &format!("/v1/members/{member}/lock"),
        Some(r#"{"reason":"fraud review"}"#),
        None,
        Some(&credential),
    )
    .expect("a lock");
    assert_eq!(locked.status, 200, "{locked:?}");
    get_ok(port, &credential, &format!("/v1/members/{member}"));

    let events = get_ok(port, &credential, "/v1/audit-events");
    let events = events["data"].as_array().expect("events").clone();
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(events[3]["error_code"], "insufficient_funds");
    assert_eq!(events[5]["reason"], "fraud review");
    assert_eq!(events[0]["source"], "127.0.0.1", "the peer's address");
    // No run of `sanhu verify` is recorded yet.
    let none = send(port, "GET", "/v1/verifications/latest", None, None, Some(&credential)).expect("a read");
    assert_eq!((none.status, none.code().as_str()), (404, "verification_not_found"), "{none:?}");
    server.stop();

    let (ok, output) = verify(dir, &database);
    assert!(ok, "verify fails on an untouched chain:\n{output}");
    assert!(output.contains("audit chain: 6 events checked; head: event 6"), "{output}");
    assert!(output.contains("recorded as verification 1"), "{output}");

    // Someone with access to the database lifts the append-only guard and edits event 3 (the
    // transfer's status).
    let guard = match database {
        Database::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        Database::Postgres(_) => "DROP TRIGGER audit_events_append_only ON audit_events;",
    };
    sql(dir, &database, guard);
    let status = status_of(dir, &database, 3);
    sql(dir, &database, "UPDATE audit_events SET status = 200 WHERE seq = 3");
    let (ok, output) = verify(dir, &database);
    assert!(!ok, "verify passes an edited audit event:\n{output}");
    assert!(
        output.lines().any(|l| l.contains("problem") && l.contains("broken at event 3") && l.contains("edited")),
        "verify does not name event 3:\n{output}"
    );
    assert!(output.contains("every account equals its entries"), "the ledger itself holds:\n{output}");

    // Undone, the chain holds again: the check is of what is stored, not of a flag set once.
    sql(dir, &database, &format!("UPDATE audit_events SET status = {status} WHERE seq = 3"));
    let (ok, output) = verify(dir, &database);
    assert!(ok, "verify fails once the edit is undone:\n{output}");

    // Event 2 is deleted.
    sql(dir, &database, "DELETE FROM audit_events WHERE seq = 2");
    let (ok, output) = verify(dir, &database);
    assert!(!ok, "verify passes a deleted audit event:\n{output}");
    assert!(
        output.lines().any(|l| l.contains("problem") && l.contains("audit event 2 is missing")),
        "verify does not name event 2:\n{output}"
    );

    // The server starts again and appends after the head; the gap stays named.
    server.start();
    send(port, "POST", "/v1/members", Some(&json!({"phone": "13700000002"}).to_string()), None, Some(&credential))
        .expect("a registration");
    server.stop();
    let (ok, output) = verify(dir, &database);
    assert!(!ok && output.contains("audit event 2 is missing"), "{output}");

    // Every run was recorded; the last one is read back with its outcome and its finding.
    assert!(output.contains("recorded as verification 5"), "{output}");
    server.start();
    let latest = get_ok(port, &credential, "/v1/verifications/latest");
    assert_eq!(latest["id"], 5, "{latest}");
    assert_eq!(latest["outcome"], "problems", "{latest}");
    assert_eq!(latest["findings"], 1, "{latest}");
    assert!(latest["details"][0].as_str().unwrap().contains("audit event 2 is missing"), "{latest}");
    assert!(latest["accounts_checked"].as_i64().unwrap() >= 2, "{latest}");
    assert_eq!(latest["audit_events_checked"], 1, "{latest}");
    assert!(latest["ran_by"].as_str().unwrap().starts_with("sanhu verify"), "{latest}");
    assert!(latest["started_at"].as_str().unwrap() <= latest["finished_at"].as_str().unwrap(), "{latest}");
    server.stop();
}

#[test]
fn verify_names_the_first_edited_or_deleted_audit_event_on_sqlite() {
    verify_names_the_first_edited_or_deleted_audit_event(Database::Sqlite);
}

#[test]
fn verify_names_the_first_edited_or_deleted_audit_event_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    verify_names_the_first_edited_or_deleted_audit_event(Database::Postgres(schema));
}
