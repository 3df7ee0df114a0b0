//! `sanhu call METHOD PATH [--data JSON]`: a signed request from the shell with a saved credential, so
//! that a new user can try the API without writing a signer. Prints the response body (pretty JSON) and
//! exits non-zero on a non-2xx status.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::credentials::{self, Credential};

/// Longest a call waits for its response.
const CALL_TIMEOUT_S: u64 = 60;

#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// GET, POST, ...
    method: String,
    /// Path with query, e.g. /v1/ledger/accounts?limit=10
    path: String,
    /// Request body (JSON); `@file` reads it from a file, `@-` from standard input.
    #[arg(long, short = 'd')]
    data: Option<String>,
    /// Sent as the Idempotency-Key header.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// The saved credential to sign with.
    #[arg(long, env = "SANHU_CREDENTIALS", default_value = credentials::DEFAULT_CREDENTIALS_FILE)]
    credentials: PathBuf,
    /// Server base URL; default: the credential's.
    #[arg(long, env = "SANHU_URL")]
    url: Option<String>,
    /// Also print the status line and response headers (to standard error).
    #[arg(long, short = 'i')]
    include: bool,
    /// Send the request as this staff member instead of signing it: sign in with the password in
    /// `SANHU_STAFF_PASSWORD`, then send the session cookie (and, on a POST, its CSRF token).
    #[arg(long)]
    staff: Option<String>,
}

/// The password `--staff` signs in with.
const STAFF_PASSWORD_VARIABLE: &str = "SANHU_STAFF_PASSWORD";

pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let credential = match (&args.staff, &args.url) {
        // A staff member needs no API client's key, only where the server is.
        (Some(_), Some(_)) => None,
        _ => Some(Credential::load(&args.credentials)?),
    };
    let method = args.method.to_ascii_uppercase();
    anyhow::ensure!(args.path.starts_with('/'), "the path must start with /, e.g. /v1/ledger/accounts");
    let body: Vec<u8> = match args.data.as_deref() {
        None => Vec::new(),
        Some("@-") => {
            let mut buffer = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer)?;
            buffer
        }
        Some(data) if data.starts_with('@') => {
            std::fs::read(&data[1..]).with_context(|| format!("failed to read {}", &data[1..]))?
        }
        Some(data) => data.as_bytes().to_vec(),
    };
    let base = match (&args.url, &credential) {
        (Some(url), _) => url.clone(),
        (None, Some(credential)) => credential.url.clone(),
        (None, None) => anyhow::bail!("--url is needed"),
    };
    let uri: hyper::Uri =
        format!("{}{}", base.trim_end_matches('/'), args.path).parse().context("the URL is not valid")?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    let mut request = hyper::Request::builder().method(method.as_str()).uri(uri);
    match (&args.staff, &credential) {
        (Some(username), _) => {
            let (cookie, csrf) = staff_session(&client, &base, username).await?;
            request = request.header("cookie", cookie);
            if method != "GET" {
                request = request.header("x-csrf-token", csrf);
            }
        }
        (None, Some(credential)) => {
            let signing_key = credential.signing_key()?;
            let timestamp = sanhu_service::clock::now().nanos() / 1_000_000_000;
            let nonce = sanhu_http::signature::new_nonce();
            let signed = sanhu_http::signature::sign(&signing_key, &method, &args.path, &body, timestamp, &nonce);
            for (name, value) in signed.with_client(&credential.client_id) {
                request = request.header(name, value);
            }
        }
        (None, None) => unreachable!("a credential is loaded unless --staff is given"),
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let request = request.body(Full::new(Bytes::from(body)))?;

    let response = tokio::time::timeout(std::time::Duration::from_secs(CALL_TIMEOUT_S), client.request(request))
        .await
        .context("the server did not answer in time")?
        .with_context(|| format!("failed to reach {base} (is `sanhu serve` running?)"))?;
    let status = response.status();
    if args.include {
        eprintln!("{:?} {}", response.version(), status);
        for (name, value) in response.headers() {
            eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
        }
        eprintln!();
    }
    let bytes = response.into_body().collect().await?.to_bytes();
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{}", String::from_utf8_lossy(&bytes)),
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Signs `username` in with the password in [`STAFF_PASSWORD_VARIABLE`]: the session's cookie (as a
/// `Cookie` header's value) and its CSRF token.
async fn staff_session(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: &str,
    username: &str,
) -> anyhow::Result<(String, String)> {
    let password = std::env::var(STAFF_PASSWORD_VARIABLE).with_context(|| {
        format!("--staff signs in with the password in {STAFF_PASSWORD_VARIABLE}, which is not set")
    })?;
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let uri: hyper::Uri = format!("{}/v1/staff/sessions", base.trim_end_matches('/')).parse()?;
    let request = hyper::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(CALL_TIMEOUT_S), client.request(request))
        .await
        .context("the server did not answer the sign-in in time")?
        .with_context(|| format!("failed to reach {base} (is `sanhu serve` running?)"))?;
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "{username} could not sign in: {}", String::from_utf8_lossy(&bytes));
    let answer: serde_json::Value = serde_json::from_slice(&bytes).context("the sign-in's answer is not JSON")?;
    let csrf = answer["csrf_token"].as_str().context("the sign-in answered no CSRF token")?.to_owned();
    Ok((cookie.context("the sign-in set no session cookie")?, csrf))
}
