//! CSV exports of the search lists (orders, customers, merchants): within the list's criteria (a list
//! that shows nothing without criteria exports nothing without them), read page by page through the
//! API as the staff member ([`Visit::api`], so the same scopes and reach), written to the browser as
//! they are read (streamed), and bounded: at most [`EXPORT_ROWS_MAX`] rows, after which the file's
//! last line says it was cut. Amounts as ¥1,234.56, times in the platform's time zone, headings and
//! values in the page's language; a UTF-8 byte order mark first, for spreadsheets.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sanhu_core::{PlatformCalendar, Timestamp};
use serde_json::Value;

use super::messages::{label, Lang};
use super::render::yuan;
use super::{encode, Visit};

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
fn field(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !text.starts_with("-¥");
    let text = if formula { format!("'{text}") } else { text.to_owned() };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn line(fields: &[String]) -> String {
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

/// The export, streamed: its first page read before answering, so that a refusal is a page.
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
    let head = format!("\u{feff}{}", line(&headings));
    struct Progress {
        visit: Visit,
        export: Export,
        page: Option<Value>,
        rows: usize,
        pages: usize,
        done: bool,
    }
    let progress = Progress { visit, export, page: Some(first.body), rows: 0, pages: 1, done: false };
    let body = futures_util::stream::unfold(progress, move |mut p| {
        let calendar = calendar.clone();
        async move {
            if p.done {
                return None;
            }
            let page = p.page.take().unwrap_or(Value::Null);
            let mut chunk = String::new();
            for item in page["data"].as_array().into_iter().flatten() {
                if p.rows == EXPORT_ROWS_MAX {
                    chunk.push_str(&line(&[format!("… {}", label(lang, "export_cut"))]));
                    p.done = true;
                    return Some((Ok::<_, std::io::Error>(chunk), p));
                }
                chunk.push_str(&line(&(p.export.row)(item, lang, &calendar)));
                p.rows += 1;
            }
            let cursor = page["next_cursor"].as_str().filter(|_| p.export.paged).map(str::to_owned);
            match cursor {
                Some(cursor) if p.pages < PAGES_MAX => {
                    let answer = p.visit.get(&format!("{}&after={}", p.export.uri, encode(&cursor))).await;
                    if answer.ok() {
                        p.page = Some(answer.body);
                        p.pages += 1;
                    } else {
                        chunk.push_str(&line(&[format!("… {} ({})", label(lang, "export_cut"), answer.code())]));
                        p.done = true;
                    }
                }
                Some(_) => {
                    chunk.push_str(&line(&[format!("… {}", label(lang, "export_cut"))]));
                    p.done = true;
                }
                None => p.done = true,
            }
            Some((Ok(chunk), p))
        }
    });
    let head = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) });
    let body = Body::from_stream(futures_util::StreamExt::chain(head, body));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
