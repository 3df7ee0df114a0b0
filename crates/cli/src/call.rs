//! `sanhu call METHOD PATH [--data JSON]`: a signed request from the shell with a saved credential, so
//! that a new user can try the API without writing a signer. Prints the response body (pretty JSON) and
//! exits non-zero on a non-2xx status.
//!
//! `sanhu call --staff USERNAME ...` makes the request as a staff member instead: it signs in with the
//! password in `SANHU_STAFF_PASSWORD` (`POST /v1/staff/sessions`), sends the request with the session
//! cookie and its CSRF token, and signs out. So a walk through the API can show staff's decisions
//! (maker-checker: one staff member's request held, another's approval) from the shell too.

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
    /// Sent as the Sanhu-Consistency header: `strong` reads the primary, never a read replica
    /// (docs/OPERATIONS.md, "Read replicas").
    #[arg(long)]
    consistency: Option<String>,
    /// Also print the status line and response headers (to standard error).
    #[arg(long, short = 'i')]
    include: bool,
    /// Make the request as this staff member, signed in with the password in SANHU_STAFF_PASSWORD
    /// (no signature; the credential gives the server's URL only).
    #[arg(long)]
    staff: Option<String>,
}

/// What identifies a request: a signature by the saved API client, or a staff member's session.
enum Caller {
    Client { client_id: String, key: ed25519_dalek::SigningKey },
    Staff { cookie: String, csrf: String },
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(
    client: &HttpClient,
    request: hyper::Request<Full<Bytes>>,
    base: &str,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    tokio::time::timeout(std::time::Duration::from_secs(CALL_TIMEOUT_S), client.request(request))
        .await
        .context("the server did not answer in time")?
        .with_context(|| format!("failed to reach {base} (is `sanhu serve` running?)"))
}

/// Signs `username` in: the session cookie (`name=value`) and its CSRF token.
async fn sign_in(client: &HttpClient, base: &str, username: &str) -> anyhow::Result<(String, String)> {
    let password = std::env::var("SANHU_STAFF_PASSWORD")
        .context("--staff signs in with the password in SANHU_STAFF_PASSWORD, which is not set")?;
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/staff/sessions", base.trim_end_matches('/')))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = send(client, request, base).await?;
    let status = response.status();
    let cookie = response
        .headers()
        .get(hyper::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await?.to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{username} could not sign in ({status}): {answer}");
    let csrf = answer["csrf_token"].as_str().context("the sign-in's answer has no csrf_token")?.to_owned();
    Ok((cookie.context("the sign-in's answer set no session cookie")?, csrf))
}

pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let (base, caller) = match &args.staff {
        None => {
            let credential = Credential::load(&args.credentials)?;
            let key = credential.signing_key()?;
            let base = args.url.clone().unwrap_or(credential.url.clone());
            (base, Caller::Client { client_id: credential.client_id, key })
        }
        Some(username) => {
            let base = match &args.url {
                Some(url) => url.clone(),
                None => {
                    Credential::load(&args.credentials)
                        .context("--staff takes the server's URL from --url or SANHU_URL, or the saved credential")?
                        .url
                }
            };
            let (cookie, csrf) = sign_in(&client, &base, username).await?;
            (base, Caller::Staff { cookie, csrf })
        }
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
    let uri: hyper::Uri =
        format!("{}{}", base.trim_end_matches('/'), args.path).parse().context("the URL is not valid")?;

    let mut request = hyper::Request::builder().method(method.as_str()).uri(uri);
    match &caller {
        Caller::Client { client_id, key } => {
            let timestamp = sanhu_service::clock::now().nanos() / 1_000_000_000;
            let nonce = sanhu_http::signature::new_nonce();
            let signed = sanhu_http::signature::sign(key, &method, &args.path, &body, timestamp, &nonce);
            for (name, value) in signed.with_client(client_id) {
                request = request.header(name, value);
            }
        }
        Caller::Staff { cookie, csrf } => {
            request = request.header("cookie", cookie.as_str()).header("x-csrf-token", csrf.as_str());
        }
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    if let Some(consistency) = &args.consistency {
        request = request.header("sanhu-consistency", consistency);
    }
    let request = request.body(Full::new(Bytes::from(body)))?;

    let response = send(&client, request, &base).await?;
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
    // The session was for this one request: it ends now (a failure to end it leaves it to expire).
    if let Caller::Staff { cookie, csrf } = &caller {
        let logout = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/v1/staff/sessions/current/logout", base.trim_end_matches('/')))
            .header("cookie", cookie.as_str())
            .header("x-csrf-token", csrf.as_str())
            .body(Full::new(Bytes::new()))?;
        if let Err(error) = send(&client, logout, &base).await {
            eprintln!("warning: the staff session was not ended: {error:#}");
        }
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
