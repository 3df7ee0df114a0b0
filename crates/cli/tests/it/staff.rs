//! `sanhu staff` end to end, with the real binary on both backends: accounts are created (with a
//! password generated and shown once, or read from standard input), listed, disabled, enabled and
//! given a new password; the server then signs them in, or refuses them, with exactly those passwords.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// `sanhu staff ARGS` on the run's database: whether it succeeded, and its standard output and error.
fn staff(dir: &Path, database: &Database, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    // The configuration's flags belong to `staff`, before its command.
    let mut all = vec!["staff".to_owned()];
    all.extend(database.args());
    all.extend(args.iter().map(|a| a.to_string()));
    let mut command = sanhu(dir, &all);
    if let Some(input) = stdin {
        let path = dir.join(format!("stdin-{}", unique_suffix()));
        std::fs::write(&path, input).expect("write the standard input");
        command.stdin(std::fs::File::open(&path).expect("open the standard input"));
    }
    let (status, stdout, stderr) = run_bounded(command, COMMAND_TIMEOUT);
    (status.success(), stdout, stderr)
}

/// The password a command printed once.
fn printed_password(stdout: &str) -> String {
    let line = stdout.lines().find_map(|l| l.strip_prefix("password: ")).unwrap_or_else(|| panic!("{stdout}"));
    line.trim().to_owned()
}

/// Signs in over HTTP: the status, the body, and the session cookie's value.
fn sign_in(port: u16, username: &str, password: &str) -> (u16, Value, Option<String>) {
    let body = json!({"username": username, "password": password}).to_string();
    let request = format!(
        "POST /v1/staff/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, headers, body) = exchange(port, &request);
    let cookie = headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    (status, body, cookie)
}

/// GET `path` with a session cookie: the status and body.
fn get_with(port: u16, path: &str, cookie: &str) -> (u16, Value) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n");
    let (status, _, body) = exchange(port, &request);
    (status, body)
}

fn exchange(port: u16, request: &str) -> (u16, String, Value) {
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), CONNECT_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(RESPONSE_TIMEOUT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    (status, head.to_owned(), serde_json::from_str(body).unwrap_or(Value::Null))
}

fn staff_accounts_are_managed_from_the_command_line(database: Database) {
    let work = WorkDir::new(&format!("staff-{}", database.name()));
    let dir = work.path.as_path();

    let (ok, stdout, stderr) = staff(dir, &database, &["create", "--username", "Li.Wei", "--role", "finance"], None);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("username: li.wei") && stdout.contains("role:     finance"), "{stdout}");
    assert!(stdout.contains("shown only now"), "{stdout}");
    let li_password = printed_password(&stdout);
    assert_eq!(li_password.len(), 20);

    let wang_password = "a password typed by wang";
    let created = staff(
        dir,
        &database,
        &["create", "--username", "wang", "--role", "auditor", "--password-stdin"],
        Some(&format!("{wang_password}\n")),
    );
    assert!(created.0, "{}{}", created.1, created.2);
    assert!(!created.1.contains("password:"), "a password read from stdin is not printed: {}", created.1);

    for (args, message) in [
        (vec!["create", "--username", "li.wei", "--role", "auditor"], "has this username already"),
        (vec!["create", "--username", "zhao", "--role", "admin"], "staff role is"),
        (vec!["create", "--username", "x y", "--role", "auditor"], "staff username is"),
        (vec!["disable", "nobody"], "no staff member has this username"),
    ] {
        let (ok, stdout, stderr) = staff(dir, &database, &args, None);
        assert!(!ok && stderr.contains(message), "{args:?}: {stdout}{stderr}");
    }
    let short = staff(
        dir,
        &database,
        &["create", "--username", "zhao", "--role", "auditor", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!short.0 && short.2.contains("12 to 128 characters"), "{}", short.2);

    let (ok, listed, _) = staff(dir, &database, &["list"], None);
    assert!(ok);
    let rows: Vec<Vec<&str>> = listed.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1], r[2])).collect::<Vec<_>>(),
        [("li.wei", "finance", "active"), ("wang", "auditor", "active")]
    );

    // The server signs them in with exactly those passwords.
    let mut server = Server::new(dir, &database);
    server.start();
    let port = server.port;
    let (status, body, cookie) = sign_in(port, "li.wei", &li_password);
    assert_eq!(status, 201, "{body}");
    let cookie = cookie.expect("a session cookie");
    let (status, body) = get_with(port, "/v1/staff/sessions/current", &cookie);
    assert_eq!((status, body["role"].as_str()), (200, Some("finance")), "{body}");
    assert_eq!(sign_in(port, "wang", wang_password).0, 201);
    assert_eq!(sign_in(port, "wang", "not wang's password").0, 401);

    // Disabled, li.wei's session ends and the password no longer signs in; enabled again, it does.
    let (ok, stdout, _) = staff(dir, &database, &["disable", "li.wei"], None);
    assert!(ok && stdout.contains("1 session(s) ended"), "{stdout}");
    assert_eq!(get_with(port, "/v1/staff/sessions/current", &cookie).0, 401);
    let (status, body, _) = sign_in(port, "li.wei", &li_password);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("staff_disabled")));
    let (_, listed, _) = staff(dir, &database, &["list"], None);
    assert!(listed.lines().any(|l| l.starts_with("li.wei") && l.contains("disabled")), "{listed}");
    assert!(staff(dir, &database, &["enable", "li.wei"], None).0);
    assert_eq!(sign_in(port, "li.wei", &li_password).0, 201);

    // A new password replaces the old one.
    let (ok, stdout, stderr) = staff(dir, &database, &["reset-password", "wang"], None);
    assert!(ok, "{stdout}{stderr}");
    let new_password = printed_password(&stdout);
    assert_eq!(sign_in(port, "wang", wang_password).0, 401);
    assert_eq!(sign_in(port, "wang", &new_password).0, 201);
    server.stop();
}

#[test]
fn staff_accounts_are_managed_from_the_command_line_on_sqlite() {
    staff_accounts_are_managed_from_the_command_line(Database::Sqlite);
}

#[test]
fn staff_accounts_are_managed_from_the_command_line_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    staff_accounts_are_managed_from_the_command_line(Database::Postgres(schema));
}
