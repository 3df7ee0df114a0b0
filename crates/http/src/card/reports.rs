//! The card liability report (负债报表) over the signed API: as JSON, and as a CSV file streamed as
//! the console's exports are (bounded, a byte order mark first, fields kept from being read as
//! formulas, and the export in the audit log before any row leaves).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sanhu_service::audit::ExportRecord;
use sanhu_service::card::{LiabilityLine, LiabilityReport};
use serde::Serialize;
use utoipa::ToSchema;

use super::CardCaller;
use crate::console::export::line;
use crate::error::ApiError;
use crate::query::QueryParams;
use crate::AppState;

/// Cards of a type by status, as they are now.
#[derive(Serialize, ToSchema)]
#[schema(as = CardStatusCounts)]
pub struct StatusCountsView {
    sold: i64,
    active: i64,
    frozen: i64,
    lost: i64,
    expired: i64,
    reissued: i64,
    cancelled: i64,
}

/// One card type's line (or the total's). Amounts in minor units.
#[derive(Serialize, ToSchema)]
#[schema(as = CardLiabilityLine)]
pub struct LiabilityLineView {
    /// The card type; null on the total.
    #[schema(required = true, pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    type_id: Option<String>,
    #[schema(required = true)]
    type_name: Option<String>,
    /// The issuing merchant; null for a platform type (and on the total).
    #[schema(required = true, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
    cards: StatusCountsView,
    /// Stored value outstanding at the day's end: for today, what the ledger holds in the type's
    /// card accounts.
    outstanding: i64,
    /// Cards sold in the day, and the stored value their sales put on them.
    issued_cards: i64,
    issued: i64,
    recharged: i64,
    /// What payments took from the cards.
    spent: i64,
    /// Refunds of payments credited to a card (the card paid with, or its last successor).
    refunded: i64,
    /// Refunds of payments credited to the member's wallet, the card cancelled to it (not card money).
    refunded_to_wallet: i64,
    /// Expired cards' balances forfeited to the platform's income.
    forfeited: i64,
    /// Cancelled cards' balances refunded (to the wallet, or in cash).
    cancelled: i64,
}

impl LiabilityLineView {
    fn of(l: &LiabilityLine, total: bool) -> LiabilityLineView {
        let [sold, active, frozen, lost, expired, reissued, cancelled] = l.cards;
        LiabilityLineView {
            type_id: (!total).then(|| l.type_id.clone()),
            type_name: (!total).then(|| l.type_name.clone()),
            merchant_id: l.merchant_id.clone(),
            cards: StatusCountsView { sold, active, frozen, lost, expired, reissued, cancelled },
            outstanding: l.outstanding,
            issued_cards: l.issued_cards,
            issued: l.issued,
            recharged: l.recharged,
            spent: l.spent,
            refunded: l.refunded,
            refunded_to_wallet: l.refunded_to_wallet,
            forfeited: l.forfeited,
            cancelled: l.cancelled,
        }
    }
}

/// The card liability report of a day.
#[derive(Serialize, ToSchema)]
#[schema(as = CardLiabilityReport)]
pub struct LiabilityReportView {
    /// The day, in the platform's calendar.
    #[schema(format = Date)]
    date: String,
    /// The platform's time zone (`Asia/Shanghai` unless configured).
    time_zone: String,
    /// The day's first instant, and the next day's.
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    until: String,
    /// A line per card type (and issuing merchant), in type order.
    lines: Vec<LiabilityLineView>,
    total: LiabilityLineView,
    /// More than 1,000 types: the lines (and the total) stop there.
    truncated: bool,
}

impl From<&LiabilityReport> for LiabilityReportView {
    fn from(r: &LiabilityReport) -> LiabilityReportView {
        LiabilityReportView {
            date: r.date.clone(),
            time_zone: r.time_zone.clone(),
            from: r.from.to_string(),
            until: r.until.to_string(),
            lines: r.lines.iter().map(|l| LiabilityLineView::of(l, false)).collect(),
            total: LiabilityLineView::of(&r.total, true),
            truncated: r.truncated,
        }
    }
}

const REPORT_DESCRIPTION: &str = "Per card type, and per issuing merchant where a merchant issues it, for one day of the platform's calendar (`date`, `YYYY-MM-DD` in Asia/Shanghai unless configured, today when absent; not after today, else 422 `card_report_date_invalid`): the cards by status (as they are now), the stored value outstanding at the day's end (for today, what the ledger holds in the card accounts), and what the day issued, recharged, spent, refunded (to a card; to a wallet apart), forfeited and paid out on cancellation. A client bound to a member sees its own merchants' types only; `merchant_id` narrows to one merchant, which must be the caller's (404 `merchant_not_found` otherwise, as if absent).";

async fn report(state: &AppState, caller: &CardCaller, query: QueryParams) -> Result<LiabilityReport, ApiError> {
    let query = query.only(&["date", "merchant_id"])?;
    let merchant =
        query.get("merchant_id").map(|m| crate::party::merchants::merchant_id("merchant_id", m)).transpose()?;
    Ok(state.cards().liability_report(query.get("date"), merchant, caller.binding).await?)
}

/// GET /v1/card-reports/liability
#[utoipa::path(
    get,
    path = "/v1/card-reports/liability",
    tag = "cards",
    operation_id = "cardLiabilityReport",
    summary = "The card liability report of a day",
    description = REPORT_DESCRIPTION,
    params(
        ("date" = Option<String>, Query, description = "The day, `YYYY-MM-DD` in the platform's calendar; today when absent.", format = Date),
        ("merchant_id" = Option<String>, Query, description = "Only this issuing merchant's types.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The report.", body = LiabilityReportView))
)]
pub async fn card_liability_report(
    State(state): State<AppState>,
    caller: CardCaller,
    query: QueryParams,
) -> Result<Json<LiabilityReportView>, ApiError> {
    let report = report(&state, &caller, query).await?;
    Ok(Json(LiabilityReportView::from(&report)))
}

/// The CSV's headings.
const CSV_HEADINGS: [&str; 20] = [
    "date",
    "type_id",
    "type_name",
    "merchant_id",
    "sold",
    "active",
    "frozen",
    "lost",
    "expired",
    "reissued",
    "cancelled_cards",
    "outstanding",
    "issued_cards",
    "issued",
    "recharged",
    "spent",
    "refunded",
    "refunded_to_wallet",
    "forfeited",
    "cancelled",
];

fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02}", minor / 100, minor % 100)
}

fn csv_row(date: &str, l: &LiabilityLine, total: bool) -> Vec<String> {
    let mut row = vec![
        date.to_owned(),
        if total { "total".to_owned() } else { l.type_id.clone() },
        if total { String::new() } else { l.type_name.clone() },
        l.merchant_id.clone().unwrap_or_default(),
    ];
    row.extend(l.cards.iter().map(|n| n.to_string()));
    row.push(yuan(l.outstanding));
    row.push(l.issued_cards.to_string());
    row.extend([l.issued, l.recharged, l.spent, l.refunded, l.refunded_to_wallet, l.forfeited, l.cancelled].map(yuan));
    row
}

/// GET /v1/card-reports/liability.csv
#[utoipa::path(
    get,
    path = "/v1/card-reports/liability.csv",
    tag = "cards",
    operation_id = "cardLiabilityReportCsv",
    summary = "The card liability report of a day, as CSV",
    description = "The same report as `GET /v1/card-reports/liability`, as a CSV file (UTF-8 with a byte order mark; amounts in yuan with two decimals, `1234.56`; a line per type, then `total`; at most 1,000 type lines). The export is recorded in the audit log (the client, the report's criteria, the rows written) before the file is answered; if it cannot be, nothing is answered (503 `audit_unavailable`).",
    params(
        ("date" = Option<String>, Query, description = "The day, `YYYY-MM-DD` in the platform's calendar; today when absent.", format = Date),
        ("merchant_id" = Option<String>, Query, description = "Only this issuing merchant's types.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The report, as CSV.", content_type = "text/csv", body = String))
)]
pub async fn card_liability_report_csv(
    State(state): State<AppState>,
    caller: CardCaller,
    headers: HeaderMap,
    extensions: Extensions,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let criteria: serde_json::Map<String, serde_json::Value> = query
        .pairs()
        .iter()
        .filter(|(name, _)| name == "date" || name == "merchant_id")
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let report = report(&state, &caller, query).await?;
    let headings: Vec<String> = CSV_HEADINGS.iter().map(|h| (*h).to_owned()).collect();
    let mut file = format!("\u{feff}{}", line(&headings));
    for l in &report.lines {
        file.push_str(&line(&csv_row(&report.date, l, false)));
    }
    file.push_str(&line(&csv_row(&report.date, &report.total, true)));
    let source = crate::audit::source_of(
        &headers,
        extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| *address),
        state.config.trusted_proxy_header.as_deref(),
    );
    let recorded = state
        .audit
        .record_export(ExportRecord {
            at: sanhu_service::clock::now(),
            actor: actor_text(&caller.actor),
            request_id: crate::request_id::current(),
            source,
            route: "/v1/card-reports/liability.csv".to_owned(),
            format: "csv",
            criteria,
            rows: report.lines.len() + 1,
            cut: report.truncated,
        })
        .await;
    if let Err(error) = recorded {
        tracing::error!(error = %error, "a report export's audit event could not be written; the export is withheld");
        return Ok(crate::audit::audit_unavailable());
    }
    let mut response = (StatusCode::OK, file).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"card-liability-{}.csv\"", report.date);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The actor as the audit log writes it (`client:<id>`, ...).
fn actor_text(actor: &sanhu_core::party::Actor) -> String {
    use sanhu_core::party::Actor;
    match actor {
        Actor::Client(id) => format!("client:{id}"),
        Actor::Staff(name) => format!("staff:{}", name.as_str()),
        Actor::Member(id) => format!("member:{id}"),
        Actor::Operator(id) => format!("operator:{id}"),
        Actor::System => "system".to_owned(),
    }
}
