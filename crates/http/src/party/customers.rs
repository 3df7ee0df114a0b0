//! Customers (客户): the back office's search and view, statuses that reach every account below the
//! customer, merges (归并) decided by an administrator, history.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use sanhu_core::party::merge::{MergeBasis, MergeRecord};
use sanhu_service::party::CustomerSearch;
use serde::{Deserialize, Serialize};

use super::{
    fields, history_window, run, ClientActor, CustomerList, CustomerView, HistoryEntryView, HistoryPage,
    MemberAccountView, MemberView,
};
use crate::error::{code, ApiError};
use crate::ids::{self, CustomerIdPath};
use crate::json::parse_body;
use crate::query::QueryParams;
use crate::AppState;

/// The longest name or certificate number a search takes, in bytes.
const SEARCH_TEXT_BYTES_MAX: usize = 200;

/// GET /v1/customers?certificate_number=|phone=|name=: exactly one criterion; a merged customer is
/// found as its survivor.
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    operation_id = "searchCustomers",
    summary = "Search customers",
    description = "By exactly one of `certificate_number` (any certificate type), `phone` (a member's) or `name` \
        (exact, without case). A merged customer is found as its survivor.",
    params(
        (
            "certificate_number" = Option<String>,
            Query,
            description = "A certificate number.",
            min_length = 1,
            max_length = 200,
        ),
        (
            "phone" = Option<String>,
            Query,
            description = "A member's login phone (`phone_invalid` if it is not a phone number).",
            pattern = "^\\+?[0-9][0-9 -]{6,30}$",
        ),
        (
            "name" = Option<String>,
            Query,
            description = "The customer's verified name.",
            min_length = 1,
            max_length = 200,
        ),
    ),
    responses(
        (
            status = 200,
            description = "The customers found (at most one for a certificate or a phone).",
            body = CustomerList,
        ),
    )
)]
pub async fn search_customers(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<CustomerList>, ApiError> {
    const CRITERIA: [&str; 3] = ["certificate_number", "phone", "name"];
    let query = query.only(&CRITERIA)?;
    let given: Vec<&str> = CRITERIA.into_iter().filter(|name| query.get(name).is_some()).collect();
    let search = match given.as_slice() {
        [] => {
            return Err(ApiError::new(
                code::MISSING_PARAMETER,
                "give one of the query parameters `certificate_number`, `phone`, `name`",
            ))
        }
        ["phone"] => CustomerSearch::Phone(fields::phone("phone", query.get("phone").unwrap_or_default())?),
        [name] => {
            let text = query.get(name).unwrap_or_default().trim();
            if text.is_empty() || text.len() > SEARCH_TEXT_BYTES_MAX || text.chars().any(char::is_control) {
                return Err(ApiError::new(
                    code::INVALID_QUERY,
                    format!("{name} must be 1 to {SEARCH_TEXT_BYTES_MAX} bytes of text"),
                ));
            }
            if *name == "name" {
                CustomerSearch::Name(text.to_owned())
            } else {
                CustomerSearch::CertificateNumber(text.to_owned())
            }
        }
        _ => {
            return Err(ApiError::new(
                code::INVALID_QUERY,
                "give only one of the query parameters `certificate_number`, `phone`, `name`",
            ))
        }
    };
    let found = state.parties.search_customers(&search).await?;
    Ok(Json(CustomerList { data: found.iter().map(CustomerView::from).collect() }))
}

/// Everything the back office sees of one customer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CustomerOverview)]
pub struct CustomerOverview {
    customer: CustomerView,
    members: Vec<MemberView>,
    /// Every account of every member, with balances.
    accounts: Vec<MemberAccountView>,
    /// The latest changes (at most 100), oldest first; GET /v1/customers/{id}/history pages through all of them.
    history: Vec<HistoryEntryView>,
}

/// GET /v1/customers/{id}
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "customers",
    operation_id = "getCustomer",
    summary = "Get a customer",
    description = "The customer with its members, their accounts with balances, statuses, and its latest history.",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The customer.", body = CustomerOverview),
    )
)]
pub async fn get_customer(
    State(state): State<AppState>,
    CustomerIdPath(id): CustomerIdPath,
) -> Result<Json<CustomerOverview>, ApiError> {
    let view = state.parties.customer_view(id).await?;
    Ok(Json(CustomerOverview {
        customer: CustomerView::from(&view.customer),
        members: view.members.iter().map(MemberView::from).collect(),
        accounts: view.accounts.iter().map(|(account, ledger)| MemberAccountView::of(account, ledger)).collect(),
        history: view.history.iter().map(HistoryEntryView::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CustomerStatusRequest)]
struct CustomerStatusBody {
    #[schema(value_type = crate::party::choices::CustomerStatusChange, inline)]
    status: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
}

/// POST /v1/customers/{id}/status: normal, banned, frozen or stop_payment; every account of the
/// customer's members takes the ledger flags this status and its own make together.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/status",
    tag = "customers",
    operation_id = "setCustomerStatus",
    summary = "Set a customer's status",
    description = "normal, banned, frozen or stop_payment. Every account of the customer's members takes the ledger \
        flags this status and its own status make together: frozen blocks debits and credits, stop_payment debits; \
        back to normal gives back exactly what the status took.\n\nMade by a staff member, it waits for a second staff \
        member's approval (202, an approval).",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = CustomerStatusBody,
    responses(
        (status = 200, description = "The customer.", body = CustomerView),
    )
)]
pub async fn set_customer_status(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    CustomerIdPath(id): CustomerIdPath,
    body: Bytes,
) -> Result<Json<CustomerView>, ApiError> {
    let body: CustomerStatusBody = parse_body(&body)?;
    let status = fields::customer_status(&body.status)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let customer =
        run(move || async move { parties.change_customer_status(id, status, &actor, &reason).await }).await?;
    tracing::info!(customer.id = %id, status = status.as_str(), "customer status changed");
    Ok(Json(CustomerView::from(&customer)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MergeCustomersRequest)]
struct MergeBody {
    /// The customer that merges into the one of the path.
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    absorbed: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
}

/// A merge's record.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Merge)]
pub struct MergeView {
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    survivor: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    absorbed: String,
    // `administrator` (this endpoint) or `authentication` (a verified authentication).
    #[schema(value_type = crate::party::choices::MergeBasis, inline)]
    basis: &'static str,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
    #[schema(required, value_type = Option<sanhu_core::id::AuthenticationId>, inline)]
    authentication_id: Option<String>,
    #[schema(value_type = Vec<sanhu_core::id::MemberId>, inline)]
    members_moved: Vec<String>,
    #[schema(value_type = Vec<sanhu_core::AccountId>, inline)]
    accounts_moved: Vec<String>,
    /// The survivor had no certificate and took the absorbed customer's.
    certificate_moved: bool,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    at: String,
}

impl From<&MergeRecord> for MergeView {
    fn from(r: &MergeRecord) -> MergeView {
        let (basis, reason, authentication_id) = match &r.basis {
            MergeBasis::Administrator(reason) => ("administrator", Some(reason.as_str().to_owned()), None),
            MergeBasis::Authentication(id) => ("authentication", None, Some(id.to_string())),
        };
        MergeView {
            survivor: r.survivor.to_string(),
            absorbed: r.absorbed.to_string(),
            basis,
            reason,
            authentication_id,
            members_moved: r.members_moved.iter().map(ToString::to_string).collect(),
            accounts_moved: r.accounts_moved.iter().map(ToString::to_string).collect(),
            certificate_moved: r.certificate_moved,
            at: r.at.to_string(),
        }
    }
}

/// POST /v1/customers/{id}/merge: `absorbed` merges into the customer of the path (the survivor), on
/// an administrator's decision, with a reason.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/merge",
    tag = "customers",
    operation_id = "mergeCustomers",
    summary = "Merge two customers",
    description = "`absorbed` merges into the customer of the path (归并), on an administrator's decision: its members \
        and accounts move with their balances, it is kept as merged into the survivor, and the merge is recorded on \
        both. Refused if it would lift a ban or freeze (`merge_would_lift_restriction`) or the two hold different \
        certificates.\n\nMade by a staff member, it waits for a second staff member's approval (202, an approval).",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = MergeBody,
    responses(
        (status = 200, description = "The merge's record.", body = MergeView),
    )
)]
pub async fn merge_customers(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    CustomerIdPath(survivor): CustomerIdPath,
    body: Bytes,
) -> Result<Json<MergeView>, ApiError> {
    let body: MergeBody = parse_body(&body)?;
    let absorbed = ids::customer_id("absorbed", &body.absorbed)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let record = run(move || async move { parties.merge_customers(survivor, absorbed, &actor, &reason).await }).await?;
    tracing::info!(
        customer.id = %survivor,
        absorbed = %absorbed,
        members_moved = record.members_moved.len(),
        accounts_moved = record.accounts_moved.len(),
        "customers merged"
    );
    Ok(Json(MergeView::from(&record)))
}

/// GET /v1/customers/{id}/history?after=&limit=: every change recorded under the customer (its own,
/// its members', accounts' and authentications'), oldest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/history",
    tag = "customers",
    operation_id = "getCustomerHistory",
    summary = "A customer's history",
    description = "Every change recorded under the customer (its own, its members', accounts' and authentications'), \
        with actor and reason, oldest first, cursor-paginated.",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<crate::query::SequenceCursor>,
    ),
    responses(
        (status = 200, description = "A page of history.", body = HistoryPage),
    )
)]
pub async fn customer_history(
    State(state): State<AppState>,
    CustomerIdPath(id): CustomerIdPath,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let (after, limit) = history_window(query, state.config.page_size_max)?;
    state.parties.get_customer(id).await?;
    let entries = state.parties.customer_history(id, after, limit).await?;
    Ok(Json(HistoryPage::of(&entries, limit)))
}
