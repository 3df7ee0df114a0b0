//! CSV exports of the search lists (orders, customers, merchants): within the list's criteria (a list
//! that shows nothing without criteria exports nothing without them), read page by page through the
//! API as the staff member ([`Visit::api`], so the same scopes and reach), and bounded: at most
//! [`EXPORT_ROWS_MAX`] rows, after which the file's last line says it was cut. Amounts as ¥1,234.56,
//! times in the platform's time zone, headings and values in the page's language; a UTF-8 byte order
//! mark first, for spreadsheets.
//!
//! Every export is in the audit log (`sanhu_service::audit::ExportRecord`): the staff member, the
//! list's route, its criteria, the rows written. The file is read whole (it is bounded) before it
//! is answered, so that the event, with its row count, is committed before any row leaves, as a
//! change's event is committed before its answer.

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sanhu_core::{PlatformCalendar, Timestamp};
use serde_json::Value;

use super::messages::{label, Lang};
use super::render::yuan;
use super::{encode, Me, Visit};
use sanhu_service::audit::ExportRecord;

/// The most rows one export writes.
pub(super) const EXPORT_ROWS_MAX: usize = 10_000;
/// The most API pages one export reads (an order search may answer pages with few rows).
const PAGES_MAX: usize = 1_000;

/// One export: what it reads, and how a row is written.
pub(super) struct Export {
    /// The API's list, with its criteria and `limit`, without `after`.
    pub uri: String,
    /// The file's name, without `.csv`.
    pub name: String,
    /// The headings' catalogue keys.
    pub headings: &'static [&'static str],
    /// A row's fields from one of the API's items.
    pub row: fn(&Value, Lang, &PlatformCalendar) -> Vec<String>,
    /// Whether the API's list has a cursor (`next_cursor`).
    pub paged: bool,
}

/// A field quoted as CSV needs, and kept from being read as a formula by a spreadsheet (a leading
/// `= + - @`, tab or carriage return); the platform's own negative amounts (`-¥12.00`) are left as
/// they are.
pub(crate) fn field(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !text.starts_with("-¥");
    let text = if formula { format!("'{text}") } else { text.to_owned() };
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub(crate) fn line(fields: &[String]) -> String {
    let mut out = fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn local(v: &Value, calendar: &PlatformCalendar) -> String {
    v.as_str().and_then(Timestamp::parse_rfc3339).map(|at| calendar.local_text(at)).unwrap_or_default()
}

pub(super) fn amount(v: &Value) -> String {
    v.as_i64().map(yuan).unwrap_or_default()
}

/// A value of the API in the page's language (`<group>_<value>` in the catalogue), as the pages show it.
pub(super) fn word(lang: Lang, group: &str, v: &Value) -> String {
    let value = text(v);
    let key = format!("{group}_{}", value.replace('.', "_"));
    match label(lang, &key) {
        shown if shown == key => value,
        shown => shown.to_owned(),
    }
}

/// The export: its pages read, then its audit event recorded (the staff member, the list, its
/// criteria, the rows written), then the file answered. An export whose event cannot be written is
/// not answered (503), as a change whose event cannot be written is withheld.
pub(super) async fn stream(visit: Visit, export: Export) -> Response {
    let me = match visit.me().await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let first = visit.get(&export.uri).await;
    if !first.ok() {
        return visit.refusal(Some(&me), &first);
    }
    let calendar = visit.state.parties.config().calendar.clone();
    let name: String = export.name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let lang = visit.lang;
    let headings: Vec<String> = export.headings.iter().map(|k| label(lang, k).to_owned()).collect();
    let mut file = format!("\u{feff}{}", line(&headings));
    let (mut rows, mut pages, mut cut) = (0usize, 1usize, false);
    let mut page = first.body;
    'pages: loop {
        for item in page["data"].as_array().into_iter().flatten() {
            if rows == EXPORT_ROWS_MAX {
                file.push_str(&line(&[format!("… {}", label(lang, "export_cut"))]));
                cut = true;
                break 'pages;
            }
            file.push_str(&line(&(export.row)(item, lang, &calendar)));
            rows += 1;
        }
        let cursor = page["next_cursor"].as_str().filter(|_| export.paged).map(str::to_owned);
        match cursor {
            Some(cursor) if pages < PAGES_MAX => {
                let answer = visit.get(&format!("{}&after={}", export.uri, encode(&cursor))).await;
                if !answer.ok() {
                    file.push_str(&line(&[format!("… {} ({})", label(lang, "export_cut"), answer.code())]));
                    cut = true;
                    break;
                }
                page = answer.body;
                pages += 1;
            }
            Some(_) => {
                file.push_str(&line(&[format!("… {}", label(lang, "export_cut"))]));
                cut = true;
                break;
            }
            None => break,
        }
    }
    if let Err(error) = record(&visit, &me, &export.uri, rows, cut).await {
        tracing::error!(error = %error, "an export's audit event could not be written; the export is withheld");
        return crate::audit::audit_unavailable();
    }
    let mut response = (StatusCode::OK, file).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The export's audit event: the list's route and criteria read back from the API query it made
/// (all but `limit`), as the staff member signed in.
async fn record(visit: &Visit, me: &Me, uri: &str, rows: usize, cut: bool) -> anyhow::Result<()> {
    let (route, query) = uri.split_once('?').unwrap_or((uri, ""));
    let criteria: serde_json::Map<String, Value> = super::url_pairs(query.as_bytes())
        .into_iter()
        .filter(|(name, _)| name != "limit")
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let source = crate::audit::source_of(
        &visit.headers,
        visit.connect.map(|ConnectInfo(address)| address),
        visit.state.config.trusted_proxy_header.as_deref(),
    );
    visit
        .state
        .audit
        .record_export(ExportRecord {
            at: sanhu_service::clock::now(),
            actor: format!("staff:{}", me.username),
            request_id: crate::request_id::current(),
            source,
            route: route.to_owned(),
            format: "csv",
            criteria,
            rows,
            cut,
        })
        .await?;
    Ok(())
}
