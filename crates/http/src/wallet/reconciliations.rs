//! Channel reconciliation (渠道对账) over the API: a channel's daily statement file imported (read
//! through the channel's layout, matched with sanhu's recharges, refunds and withdrawal payouts of the
//! channel and day), its differences listed and resolved: explained, or a recharge the channel paid
//! credited through the recharge's own completion (held for a second staff member). The platform's
//! back office only: the route table's platform reach and admin scopes, which a client bound to a
//! member never holds (`scope_missing`), like every finance endpoint.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use sanhu_core::reconciliation::{parse_statement, ReconciliationError, FILE_BYTES_MAX, FILE_LINES_MAX};
use sanhu_service::party::Rejection;
use sanhu_service::wallet::{ReconciliationImport, StoredDifference};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{code, ApiError, ErrorCodeInfo};
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::principal::ApprovedRequest;
use crate::query::QueryParams;
use crate::AppState;

fn refused(error: ReconciliationError) -> ApiError {
    ApiError::refused(Rejection::of(error))
}

/// What an import found, by kind of difference.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationCounts)]
pub struct CountsJson {
    /// Lines that agree with sanhu (or where neither moved money).
    matched: u32,
    /// 长款: the channel moved money sanhu has not (no order, or one not completed).
    missing_in_sanhu: u32,
    /// 短款: sanhu completed an order of the day the file does not have.
    missing_in_channel: u32,
    amount_mismatch: u32,
    /// The channel says the money did not move; sanhu completed the order.
    status_mismatch: u32,
}

/// An import of a channel's statement file.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationImport)]
pub struct ImportJson {
    #[schema(pattern = "^rcn_[0-9a-f]{24}$")]
    id: String,
    channel: String,
    /// The business day, in the platform's time zone.
    #[schema(format = Date)]
    date: String,
    /// The file's SHA-256 (hex): the same file of the same channel is imported once.
    file_sha256: String,
    /// The file's transaction lines.
    lines: u32,
    counts: CountsJson,
    /// Differences not yet resolved.
    open_differences: u32,
    imported_by: String,
    #[schema(format = DateTime)]
    imported_at: String,
}

impl From<&ReconciliationImport> for ImportJson {
    fn from(i: &ReconciliationImport) -> Self {
        ImportJson {
            id: i.id.clone(),
            channel: i.channel.clone(),
            date: i.date.clone(),
            file_sha256: i.file_sha256.clone(),
            lines: i.lines,
            counts: CountsJson {
                matched: i.matched,
                missing_in_sanhu: i.counts.missing_in_sanhu,
                missing_in_channel: i.counts.missing_in_channel,
                amount_mismatch: i.counts.amount_mismatch,
                status_mismatch: i.counts.status_mismatch,
            },
            open_differences: i.open(),
            imported_by: i.imported_by.clone(),
            imported_at: i.imported_at.to_string(),
        }
    }
}

/// How a difference was resolved.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationResolution)]
pub struct ResolutionJson {
    /// `explain` or `credit`.
    action: String,
    reason: String,
    /// Who resolved it (who asked, for a credit).
    by: String,
    /// Who approved a credit.
    #[schema(required)]
    approved_by: Option<String>,
    #[schema(format = DateTime)]
    at: String,
}

/// A difference between a channel's file and sanhu.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationDifference)]
pub struct DifferenceJson {
    /// 1, 2, ... in its import.
    number: u32,
    /// `missing_in_sanhu` (长款), `missing_in_channel` (短款), `amount_mismatch` or `status_mismatch`.
    kind: String,
    /// `open` or `resolved`.
    status: String,
    /// `recharge`, `refund` or `payout` (a withdrawal paid out).
    order_kind: String,
    order_number: String,
    #[schema(required)]
    refund_number: Option<String>,
    /// The file's line (none for a difference missing in the channel).
    #[schema(required)]
    line: Option<u32>,
    /// The channel's transaction id, where the file has one.
    #[schema(required)]
    transaction_id: Option<String>,
    /// The channel's amount, in minor units.
    #[schema(required)]
    channel_amount: Option<i64>,
    #[schema(required)]
    channel_status: Option<String>,
    /// Sanhu's record of the order, where it has one.
    #[schema(required)]
    sanhu_record: Option<String>,
    #[schema(required)]
    sanhu_amount: Option<i64>,
    #[schema(required)]
    sanhu_status: Option<String>,
    #[schema(required)]
    resolution: Option<ResolutionJson>,
}

impl From<&StoredDifference> for DifferenceJson {
    fn from(d: &StoredDifference) -> Self {
        DifferenceJson {
            number: d.number,
            kind: d.kind.clone(),
            status: if d.is_open() { "open" } else { "resolved" }.to_owned(),
            order_kind: d.order_kind.clone(),
            order_number: d.order_number.clone(),
            refund_number: d.refund_number.clone(),
            line: d.line,
            transaction_id: d.transaction_id.clone(),
            channel_amount: d.channel_amount,
            channel_status: d.channel_status.clone(),
            sanhu_record: d.sanhu_record.clone(),
            sanhu_amount: d.sanhu_amount,
            sanhu_status: d.sanhu_status.clone(),
            resolution: d.resolution.as_ref().map(|r| ResolutionJson {
                action: r.action.clone(),
                reason: r.reason.clone(),
                by: r.by.clone(),
                approved_by: r.approved_by.clone(),
                at: r.at.to_string(),
            }),
        }
    }
}

/// A channel's statement file to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReconciliationImportRequest)]
struct ImportBody {
    /// The channel as sanhu's recharges name it (`wechat`), or a payout channel of the configuration.
    #[schema(examples("wechat"))]
    channel: String,
    /// The business day the file is of, `YYYY-MM-DD` in the platform's time zone.
    #[schema(examples("2026-12-07"))]
    date: String,
    /// The file's text (UTF-8), at most 786,432 bytes and 10,000 lines.
    csv: String,
}

/// POST /v1/reconciliation/imports
#[utoipa::path(
    post,
    path = "/v1/reconciliation/imports",
    tag = "reconciliation",
    operation_id = "importStatement",
    summary = "Import a channel's statement file and reconcile it",
    description = "Reads the file with the channel's layout (`[[reconciliation.channels]]`, or the common layout for a wallet \
        channel: comma-separated, one header row, columns found by their usual names) and matches each line with sanhu's \
        recharge, refund or withdrawal payout of its order number: `matched`, `missing_in_sanhu` (长款), `amount_mismatch`, \
        `status_mismatch`; sanhu's orders of the channel and day that no line names and that completed are \
        `missing_in_channel` (短款). A line that cannot be read is 422 `reconciliation_file_invalid`, its message naming the \
        line and the column; nothing is kept. The same file (by SHA-256) of the same channel again answers its first import.",
    request_body = ImportBody,
    responses((status = 200, description = "The import (the first one, for a file imported before).", body = ImportJson))
)]
pub async fn import_statement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<Json<ImportJson>, ApiError> {
    let body: ImportBody = parse_body(&body)?;
    let wallets = state.wallets().clone();
    let layout = wallets.reconciliation_layout(&body.channel)?;
    wallets.reconciliation_date(&body.date)?;
    if body.csv.len() > FILE_BYTES_MAX || body.csv.split('\n').count() > FILE_LINES_MAX + 1 {
        return Err(refused(ReconciliationError::FileTooLarge));
    }
    let lines = parse_statement(&layout, &body.csv, &body.date).map_err(|problem| {
        let info = ErrorCodeInfo::from(Rejection::of(ReconciliationError::FileInvalid));
        ApiError::new(info, format!("the file cannot be read with the {} layout: {problem}", layout.channel))
    })?;
    let sha256 = hex::encode(Sha256::digest(body.csv.as_bytes()));
    let date = body.date;
    let import =
        run(move || async move { wallets.import_statement(&layout, &date, &sha256, &lines, &actor).await }).await?;
    Ok(Json(ImportJson::from(&import)))
}

/// A page of imports.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationImportPage)]
pub struct ImportPageJson {
    data: Vec<ImportJson>,
    #[schema(max_length = 40)]
    next_cursor: Option<String>,
}

fn cursor_ok(after: &str) -> bool {
    after.len() == 28 && after.starts_with("rcn_") && after[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// GET /v1/reconciliation/imports
#[utoipa::path(
    get,
    path = "/v1/reconciliation/imports",
    tag = "reconciliation",
    operation_id = "listReconciliationImports",
    summary = "List a channel's imports",
    description = "The imports of a channel (`channel` is required), of one business day where `date` is given, in id \
        order, cursor-paginated.",
    params(
        ("channel" = String, Query, description = "The channel."),
        ("date" = Option<String>, Query, nullable = false, description = "A business day, `YYYY-MM-DD`."),
        ("after" = Option<String>, Query, nullable = false, max_length = 28, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Imports per page, 1 to 100; 100 when absent.", minimum = 1),
    ),
    responses((status = 200, description = "A page of imports.", body = ImportPageJson)),
)]
pub async fn list_imports(State(state): State<AppState>, query: QueryParams) -> Result<Json<ImportPageJson>, ApiError> {
    let query = query.only(&["channel", "date", "after", "limit"])?;
    let channel = query.required("channel")?;
    let wallets = state.wallets();
    wallets.reconciliation_layout(channel)?;
    let date = query.get("date");
    if let Some(date) = date {
        wallets.reconciliation_date(date)?;
    }
    let limit = match query.get("limit") {
        None => 100.min(state.config.page_size_max),
        Some(_) => query.limit(state.config.page_size_max)?,
    };
    let after = query.get("after");
    if after.is_some_and(|a| !cursor_ok(a)) {
        return Err(ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"));
    }
    let page = wallets.reconciliation_imports(channel, date, after, limit).await?;
    Ok(Json(ImportPageJson { data: page.imports.iter().map(ImportJson::from).collect(), next_cursor: page.next }))
}

/// GET /v1/reconciliation/imports/{id}
#[utoipa::path(
    get,
    path = "/v1/reconciliation/imports/{id}",
    tag = "reconciliation",
    operation_id = "getReconciliationImport",
    summary = "Get an import",
    params(("id" = String, Path, description = "The import's id.", pattern = "^rcn_[0-9a-f]{24}$")),
    responses((status = 200, description = "The import.", body = ImportJson))
)]
pub async fn get_import(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ImportJson>, ApiError> {
    let import = state.wallets().reconciliation_import(&id).await?;
    Ok(Json(ImportJson::from(&import)))
}

/// A page of differences.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = ReconciliationDifferencePage)]
pub struct DifferencePageJson {
    data: Vec<DifferenceJson>,
    /// The next page's `after`: a difference's number.
    #[schema(max_length = 10)]
    next_cursor: Option<String>,
}

/// GET /v1/reconciliation/imports/{id}/differences
#[utoipa::path(
    get,
    path = "/v1/reconciliation/imports/{id}/differences",
    tag = "reconciliation",
    operation_id = "listReconciliationDifferences",
    summary = "List an import's differences",
    description = "In number order, cursor-paginated; `status` `open` or `resolved` lists those only.",
    params(
        ("id" = String, Path, description = "The import's id.", pattern = "^rcn_[0-9a-f]{24}$"),
        ("status" = Option<String>, Query, nullable = false, description = "`open` or `resolved`."),
        ("after" = Option<String>, Query, nullable = false, max_length = 10, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Differences per page, 1 to 100; 100 when absent.", minimum = 1),
    ),
    responses((status = 200, description = "A page of differences.", body = DifferencePageJson)),
)]
pub async fn list_differences(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<DifferencePageJson>, ApiError> {
    let query = query.only(&["status", "after", "limit"])?;
    let open = match query.get("status") {
        None => None,
        Some("open") => Some(true),
        Some("resolved") => Some(false),
        Some(_) => return Err(ApiError::new(code::INVALID_STATUS, "status is open or resolved")),
    };
    let limit = match query.get("limit") {
        None => 100.min(state.config.page_size_max),
        Some(_) => query.limit(state.config.page_size_max)?,
    }
    .min(100) as usize;
    let after =
        match query.get("after") {
            None => 0,
            Some(after) => after.parse::<u32>().ok().filter(|_| after.len() <= 10).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })?,
        };
    let import = state.wallets().reconciliation_import(&id).await?;
    let chosen: Vec<&StoredDifference> = import
        .differences
        .iter()
        .filter(|d| d.number > after && open.is_none_or(|open| d.is_open() == open))
        .take(limit + 1)
        .collect();
    let next = (chosen.len() > limit).then(|| chosen[limit - 1].number.to_string());
    Ok(Json(DifferencePageJson {
        data: chosen.into_iter().take(limit).map(DifferenceJson::from).collect(),
        next_cursor: next,
    }))
}

/// A resolution's reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReconciliationResolveRequest)]
struct ResolveBody {
    /// Why, 1 to 200 characters.
    #[schema(examples("到账时间差，次日文件已含"))]
    reason: String,
}

fn difference_path(id: &str, number: &str) -> Result<(String, u32), ApiError> {
    let number = number
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0 && number.len() <= 10)
        .ok_or_else(|| refused(ReconciliationError::DifferenceNotFound))?;
    Ok((id.to_owned(), number))
}

/// POST /v1/reconciliation/imports/{id}/differences/{number}/explain
#[utoipa::path(
    post,
    path = "/v1/reconciliation/imports/{id}/differences/{number}/explain",
    tag = "reconciliation",
    operation_id = "explainReconciliationDifference",
    summary = "Mark a difference explained",
    description = "Resolves an open difference with its reason (a timing difference, a fee, a channel's error corrected on \
        its side); nothing moves. A resolved difference is 409 `reconciliation_difference_resolved`.",
    params(
        ("id" = String, Path, description = "The import's id.", pattern = "^rcn_[0-9a-f]{24}$"),
        ("number" = u32, Path, description = "The difference's number."),
    ),
    request_body = ResolveBody,
    responses((status = 200, description = "The difference, resolved.", body = DifferenceJson))
)]
pub async fn explain_difference(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<DifferenceJson>, ApiError> {
    let body: ResolveBody = parse_body(&body)?;
    let (id, number) = difference_path(&id, &number)?;
    let wallets = state.wallets().clone();
    let difference =
        run(move || async move { wallets.explain_difference(&id, number, &body.reason, &actor).await }).await?;
    Ok(Json(DifferenceJson::from(&difference)))
}

/// POST /v1/reconciliation/imports/{id}/differences/{number}/credit
#[utoipa::path(
    post,
    path = "/v1/reconciliation/imports/{id}/differences/{number}/credit",
    tag = "reconciliation",
    operation_id = "creditReconciliationDifference",
    summary = "Credit a recharge the channel paid",
    description = "For a `missing_in_sanhu` recharge whose order sanhu has pending or in review, with the channel's amount: \
        credits it through the recharge's own completion (as `confirm` or `approve` would) and resolves the difference. \
        Made by a staff member and held for a second one (maker-checker; an API client alone is refused 403 \
        `reconciliation_credit_staff_only`). Another difference, or an order closed or failed, is 409 \
        `reconciliation_not_creditable`: explain it.",
    params(
        ("id" = String, Path, description = "The import's id.", pattern = "^rcn_[0-9a-f]{24}$"),
        ("number" = u32, Path, description = "The difference's number."),
    ),
    request_body = ResolveBody,
    responses((status = 200, description = "The difference, resolved; the member credited.", body = DifferenceJson))
)]
pub async fn credit_difference(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    approved: Option<axum::Extension<ApprovedRequest>>,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<DifferenceJson>, ApiError> {
    let body: ResolveBody = parse_body(&body)?;
    let (id, number) = difference_path(&id, &number)?;
    let Some(axum::Extension(approved)) = approved else {
        return Err(refused(ReconciliationError::CreditStaffOnly));
    };
    let checker = approved.checker.as_ref().map(|c| c.actor());
    let wallets = state.wallets().clone();
    let difference =
        run(
            move || async move { wallets.credit_difference(&id, number, &body.reason, &actor, checker.as_ref()).await },
        )
        .await?;
    Ok(Json(DifferenceJson::from(&difference)))
}
