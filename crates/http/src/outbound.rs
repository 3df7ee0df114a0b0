//! Outbound HTTP: the one client sanhu calls other systems with (webhook deliveries, and the channel
//! status questions of the recharge compensation job, `crate::channel_status`). HTTPS through
//! rustls (the `ring` provider, Mozilla's roots from `webpki-roots`, so no system store is needed and
//! every machine trusts alike); plain `http://` only where the configuration allows it.
//!
//! What a caller-supplied URL could otherwise make sanhu do is bounded here:
//! - **Internal targets.** The host is resolved, and every address is checked against the internal
//!   ranges (loopback, private, link-local, carrier-grade NAT, ...: `check_target_address`) unless
//!   `allow_private_targets`; the connection is made to an address checked, so a name that resolves
//!   elsewhere between the check and the connection cannot slip past.
//! - **Redirects** are not followed: a 3xx is an answer like any other (a failed delivery).
//! - **Time**: connecting and the whole exchange each have a timeout.
//! - **Size**: at most `response_bytes_max` of the answer's body is read; the rest is left unread.
//!
//! One connection per request, closed after it: deliveries go to many hosts a few times each, and an
//! idle pool would mostly hold connections the far side has closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use sanhu_service::webhook::{check_target_address, PostAnswer, WebhookTransport};
use tokio::net::TcpStream;

/// What the outbound client allows and how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundConfig {
    pub allow_private_targets: bool,
    pub allow_plain_http: bool,
    pub connect_timeout_ms: u64,
    /// The whole exchange, connecting included.
    pub exchange_timeout_ms: u64,
    /// The most of an answer's body read, in bytes.
    pub response_bytes_max: usize,
}

impl Default for OutboundConfig {
    fn default() -> OutboundConfig {
        OutboundConfig {
            allow_private_targets: false,
            allow_plain_http: false,
            connect_timeout_ms: 3_000,
            exchange_timeout_ms: 10_000,
            response_bytes_max: 16 * 1024,
        }
    }
}

/// The outbound HTTPS client.
#[derive(Clone)]
pub struct OutboundClient {
    config: OutboundConfig,
    tls: tokio_rustls::TlsConnector,
}

/// An answer: its status and the start of its body.
#[derive(Clone, Debug)]
pub struct OutboundAnswer {
    pub status: u16,
    pub body: Bytes,
    /// The body went on past `response_bytes_max` (the rest was not read).
    pub truncated: bool,
}

impl OutboundClient {
    pub fn new(config: OutboundConfig) -> OutboundClient {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // ring's provider, by choice: aws-lc would bring a second, C and assembly heavy, crypto
        // library. rustls marks it deprecated for its lack of post-quantum key exchange, which a
        // webhook's short-lived, signed notifications do not need.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        OutboundClient { config, tls: tokio_rustls::TlsConnector::from(Arc::new(tls)) }
    }

    /// POSTs `body` to `url` with `headers`; an `Err` says why no answer came.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<OutboundAnswer, String> {
        self.call(hyper::Method::POST, url, headers, Some(Bytes::copy_from_slice(body))).await
    }

    /// GETs `url` with `headers`; an `Err` says why no answer came.
    pub async fn get(&self, url: &str, headers: &[(&'static str, String)]) -> Result<OutboundAnswer, String> {
        self.call(hyper::Method::GET, url, headers, None).await
    }

    async fn call(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Option<Bytes>,
    ) -> Result<OutboundAnswer, String> {
        let limit = Duration::from_millis(self.config.exchange_timeout_ms);
        match tokio::time::timeout(limit, self.exchange(method, url, headers, body)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {} ms", self.config.exchange_timeout_ms)),
        }
    }

    async fn exchange(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Option<Bytes>,
    ) -> Result<OutboundAnswer, String> {
        let uri: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.config.allow_plain_http => false,
            _ => return Err("the URL is not https://".to_owned()),
        };
        let host = uri.host().ok_or("the URL has no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let address = self.resolve(&host, port).await?;
        let connect = Duration::from_millis(self.config.connect_timeout_ms);
        let tcp = match tokio::time::timeout(connect, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                tracing::info!(target.address = %address, error = %e, "an outbound connection failed");
                return Err("the connection failed".to_owned());
            }
            Err(_) => return Err(format!("the connection was not made within {} ms", self.config.connect_timeout_ms)),
        };
        let _ = tcp.set_nodelay(true);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_else(|| host.clone());
        if https {
            let name =
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| "the host is not a TLS name")?;
            let tls = self.tls.connect(name, tcp).await.map_err(|e| format!("TLS with {host} failed: {e}"))?;
            self.send(TokioIo::new(tls), method, &authority, &path, headers, body).await
        } else {
            self.send(TokioIo::new(tcp), method, &authority, &path, headers, body).await
        }
    }

    /// The first address of `host` that may be called.
    async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        // What the receiver's owner reads in the attempt log is a fixed text: the addresses a
        // name resolves to inside the platform's network, and the system's errors, stay in the
        // server's log, so that a subscription cannot map the network it is sent from.
        let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                tracing::info!(target.host = %host, error = %e, "an outbound name did not resolve");
                return Err("the host name did not resolve".to_owned());
            }
        };
        if addresses.is_empty() {
            return Err("the host name did not resolve".to_owned());
        }
        // Refused when any address is internal: a name that also resolves inside could be made to
        // reach it on another attempt.
        if let Some(inside) =
            addresses.iter().find(|a| check_target_address(a.ip(), self.config.allow_private_targets).is_err())
        {
            tracing::info!(target.host = %host, target.address = %inside.ip(), "an outbound call to an internal address refused");
            return Err("the target address is internal, which outbound calls are not made to".to_owned());
        }
        Ok(addresses[0])
    }

    async fn send<I>(
        &self,
        io: I,
        method: hyper::Method,
        authority: &str,
        path: &str,
        headers: &[(&'static str, String)],
        body: Option<Bytes>,
    ) -> Result<OutboundAnswer, String>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io).await.map_err(|e| format!("HTTP: {e}"))?;
        let driving = tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, concat!("sanhu/", env!("CARGO_PKG_VERSION")))
            .header(hyper::header::CONNECTION, "close");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("the request could not be built: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = Vec::new();
        let mut truncated = false;
        while !truncated {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = self.config.response_bytes_max - read.len();
                        truncated = data.len() > room;
                        read.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
        driving.abort();
        Ok(OutboundAnswer { status, body: Bytes::from(read), truncated })
    }
}

impl WebhookTransport for OutboundClient {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> Result<PostAnswer, String> {
        let answer = OutboundClient::post(self, url, headers, body).await?;
        Ok(PostAnswer { status: answer.status, body: answer.body.to_vec() })
    }
}
