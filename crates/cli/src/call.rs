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
}

pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let credential = Credential::load(&args.credentials)?;
    let signing_key = credential.signing_key()?;
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
    let base = args.url.unwrap_or(credential.url.clone());
    let uri: hyper::Uri =
        format!("{}{}", base.trim_end_matches('/'), args.path).parse().context("the URL is not valid")?;

    let timestamp = sanhu_service::clock::now().nanos() / 1_000_000_000;
    let nonce = sanhu_http::signature::new_nonce();
    let signed = sanhu_http::signature::sign(&signing_key, &method, &args.path, &body, timestamp, &nonce);
    let mut request = hyper::Request::builder().method(method.as_str()).uri(uri);
    for (name, value) in signed.with_client(&credential.client_id) {
        request = request.header(name, value);
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let request = request.body(Full::new(Bytes::from(body)))?;

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
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
