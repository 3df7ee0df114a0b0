//! docs/OPERATIONS.md against the real binary: `sanhu serve` started with the settings of the page's
//! `sh` blocks serves every metric the page names on its metrics listener (and not on the API's
//! address), logs one JSON object per line filtered per module, and serves `/docs`; a log setting it
//! does not understand stops it. And `sanhu client create --save FILE` (docs/SECURITY.md).

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{free_port, run_bounded, sanhu, send, Credential, Database, Server, WorkDir, COMMAND_TIMEOUT};
use serde_json::Value;

const GUIDE: &str = include_str!("../../../../docs/OPERATIONS.md");
const DASHBOARD: &str = include_str!("../../../../docs/grafana-dashboard.json");

/// Every `SANHU_NAME=value` assignment in the guide's `sh` blocks, in order.
fn guide_settings() -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut in_sh = false;
    for line in GUIDE.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if in_sh {
            for word in line.split_whitespace() {
                if let Some((name, value)) = word.split_once('=').filter(|(name, _)| name.starts_with("SANHU_")) {
                    settings.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    settings
}

/// Every metric of the guide's table (its rows' first cells).
fn guide_metrics() -> BTreeSet<String> {
    let metrics: BTreeSet<String> = GUIDE
        .lines()
        .filter_map(|line| line.strip_prefix("| `sanhu_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("sanhu_{name}"))
        .collect();
    assert!(metrics.len() >= 10, "the guide's table of metrics: {metrics:?}");
    metrics
}

#[test]
fn a_server_started_as_the_operations_guide_says_serves_its_metrics_json_logs_and_docs_page() {
    let dir = WorkDir::new("operations-guide");
    let mut server = Server::new(dir.path(), &Database::Sqlite);
    let metrics_port = free_port();
    let settings = guide_settings();
    let names: Vec<&str> = settings.iter().map(|(name, _)| name.as_str()).collect();
    for wanted in ["SANHU_METRICS_LISTEN", "SANHU_LOG_FORMAT", "SANHU_LOG"] {
        assert!(names.contains(&wanted), "docs/OPERATIONS.md sets {wanted} in a sh block: {names:?}");
    }
    for (name, value) in settings {
        // The guide's metrics address, on a port of the test's own.
        let value = if name == "SANHU_METRICS_LISTEN" { format!("127.0.0.1:{metrics_port}") } else { value };
        server.env.push((name, value));
    }
    server.start();
    let credential = Credential::load(dir.path());

    let funding = common::open_account(server.port, &credential, r#"{"currency":"CNY","normal_side":"debit"}"#);
    let wallet = common::open_account(server.port, &credential, r#"{"currency":"CNY"}"#);
    let body = common::transfer_body(None, &funding, &wallet, 500);
    for _ in 0..2 {
        let answer = send(server.port, "POST", "/v1/ledger/transfers", Some(&body), Some("ops-1"), Some(&credential))
            .expect("the transfer's answer");
        assert_eq!(answer.status, 201, "{answer:?}");
    }
    assert_eq!(common::get_ok(server.port, &credential, &format!("/v1/ledger/accounts/{wallet}"))["balance"], 500);

    let scraped = send(metrics_port, "GET", "/metrics", None, None, None).expect("a scrape");
    assert_eq!(scraped.status, 200);
    let samples: BTreeSet<&str> = scraped
        .body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    // A metric the guide says is counted only with read replicas configured (this server, on SQLite,
    // has none) is declared with no samples yet.
    let declared_only: BTreeSet<String> = GUIDE
        .lines()
        .filter(|line| line.contains("counted only with replicas configured"))
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect();
    for name in guide_metrics() {
        let served =
            ["", "_bucket", "_count"].iter().any(|suffix| samples.contains(format!("{name}{suffix}").as_str()))
                || (declared_only.contains(&name)
                    && scraped.body.lines().any(|line| line == format!("# TYPE {name} counter")));
        assert!(served, "docs/OPERATIONS.md names {name}, which /metrics does not serve:\n{}", scraped.body);
    }
    // The dashboard charts only what is served.
    let charted: BTreeSet<&str> = DASHBOARD
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("sanhu_"))
        .collect();
    assert!(charted.len() >= 10, "{charted:?}");
    for name in charted {
        assert!(samples.contains(name), "docs/grafana-dashboard.json charts {name}, which /metrics does not serve");
    }
    let route = "sanhu_http_requests_total{method=\"GET\",route=\"/v1/ledger/accounts/{id}\",status=\"200\"} 1";
    assert!(scraped.body.lines().any(|line| line == route), "{route}\n{}", scraped.body);
    assert!(scraped.body.contains("sanhu_idempotency_requests_total{outcome=\"replayed\"} 1"), "{}", scraped.body);

    let on_api = send(server.port, "GET", "/metrics", None, None, None).expect("an answer");
    assert_eq!((on_api.status, on_api.code().as_str()), (404, "route_not_found"));
    let docs = send(server.port, "GET", "/docs", None, None, None).expect("the docs page");
    assert_eq!(docs.status, 200);
    assert!(docs.body.contains("<title>sanhu API</title>"));
    server.stop();

    // One JSON object a line; the writer's debug lines (its module was set to debug), no other module's.
    let log = std::fs::read_to_string(&server.logs[0].1).expect("the server's log");
    let lines: Vec<Value> = log
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
        if line["level"] == "debug" {
            assert!(line["target"].as_str().unwrap().starts_with("sanhu_service::writer"), "{line}");
        }
    }
    assert!(lines.iter().any(|l| l["message"] == "batch committed" && l["level"] == "debug"), "{log}");
    let read = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/v1/ledger/accounts/{id}")
        .unwrap_or_else(|| panic!("no request line of the account's read:\n{log}"));
    assert_eq!(read["status"], 200);
    assert!(read["request.id"].as_str().is_some_and(|id| id.starts_with("req_")), "{read}");
    assert_eq!(read["client.id"], credential.client_id.as_str());
}

#[test]
fn a_log_setting_sanhu_does_not_understand_stops_it_before_anything_is_done() {
    let dir = WorkDir::new("operations-log-settings");
    for (name, value) in [
        ("SANHU_LOG", "json"),
        ("SANHU_LOG", "verbose"),
        ("SANHU_LOG", "sanhu_http=loud"),
        ("SANHU_LOG_FORMAT", "yaml"),
    ] {
        let mut command = sanhu(dir.path(), &["serve", "--listen", &format!("127.0.0.1:{}", free_port())]);
        command.env(name, value);
        let (status, _, stderr) = run_bounded(command, COMMAND_TIMEOUT);
        assert!(!status.success(), "{name}={value} was accepted");
        assert!(stderr.starts_with(&format!("error: {name}")) && stderr.contains(value), "{name}={value}: {stderr}");
        assert!(!dir.file("sanhu.db").exists(), "{name}={value}: a database was made");
    }
    let mut command = sanhu(dir.path(), &["serve", "--listen", "127.0.0.1:1"]);
    command.env("SANHU_LOG", "json");
    let (_, _, stderr) = run_bounded(command, COMMAND_TIMEOUT);
    assert!(stderr.contains("SANHU_LOG_FORMAT=json"), "the message points at the format's setting: {stderr}");
}

#[test]
fn the_configuration_files_log_table_sets_the_format_and_filter_and_the_environment_wins_over_it() {
    let dir = WorkDir::new("operations-log-table");
    std::fs::write(dir.file("sanhu.toml"), "[log]\nformat = \"json\"\nfilter = \"info\"\n").unwrap();
    let (status, _, stderr) = run_bounded(sanhu(dir.path(), &["migrate"]), COMMAND_TIMEOUT);
    assert!(status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.is_empty()).collect();
    assert!(!lines.is_empty(), "migrate logged nothing");
    for line in &lines {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(line["message"].is_string(), "{line}");
    }

    // SANHU_LOG_FORMAT wins over the file.
    let dir = WorkDir::new("operations-log-table-env");
    std::fs::write(dir.file("sanhu.toml"), "[log]\nformat = \"json\"\n").unwrap();
    let mut command = sanhu(dir.path(), &["migrate"]);
    command.env("SANHU_LOG_FORMAT", "text");
    let (status, _, stderr) = run_bounded(command, COMMAND_TIMEOUT);
    assert!(status.success(), "{stderr}");
    assert!(stderr.lines().any(|line| line.contains("INFO") && !line.starts_with('{')), "{stderr}");

    // A value it does not understand, or a key it does not know, stops it before anything is done.
    for (table, named) in [
        ("[log]\nformat = \"yaml\"\n", "[log] format"),
        ("[log]\nfilter = \"loud\"\n", "[log] filter"),
        ("[log]\ncolour = true\n", "colour"),
    ] {
        let other = WorkDir::new("operations-log-table-refused");
        std::fs::write(other.file("sanhu.toml"), table).unwrap();
        let (status, _, stderr) = run_bounded(sanhu(other.path(), &["migrate"]), COMMAND_TIMEOUT);
        assert!(!status.success(), "{table:?} was accepted");
        assert!(stderr.starts_with("error: ") && stderr.contains(named), "{table:?}: {stderr}");
        assert!(!other.file("sanhu.db").exists(), "{table:?}: a database was made");
    }
}

#[test]
fn client_create_saves_its_credential_to_the_file_named_and_call_signs_with_it() {
    let dir = WorkDir::new("operations-save");
    let (status, stdout, stderr) = run_bounded(
        sanhu(dir.path(), &["client", "create", "--name", "reports", "--save", "reports.json"]),
        COMMAND_TIMEOUT,
    );
    assert!(status.success(), "{stdout}\n{stderr}");
    let path = dir.file("reports.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("the file is JSON");
    let fields: BTreeSet<&str> = saved.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, BTreeSet::from(["url", "client_id", "private_key"]), "the format docs/SECURITY.md gives");
    assert!(stdout.contains(saved["client_id"].as_str().unwrap()) && stdout.contains("reports.json"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "owner only");
    }
    assert!(!dir.file("sanhu-credentials.json").exists(), "only the file named is written");

    let (status, _, stderr) = run_bounded(
        sanhu(dir.path(), &["client", "create", "--name", "again", "--save", "reports.json"]),
        COMMAND_TIMEOUT,
    );
    assert!(!status.success() && stderr.contains("reports.json exists"), "{stderr}");

    let mut server = Server::new(dir.path(), &Database::Sqlite);
    server.start();
    let url = format!("http://127.0.0.1:{}", server.port);
    let command =
        sanhu(dir.path(), &["call", "--credentials", "reports.json", "--url", &url, "GET", "/v1/ledger/accounts"]);
    let (status, stdout, stderr) = run_bounded(command, Duration::from_secs(30));
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(serde_json::from_str::<Value>(&stdout).expect("the answer")["data"].is_array(), "{stdout}");
    server.stop();
}
