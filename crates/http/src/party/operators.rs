//! Operators (操作员) of enterprise members: added, found, re-roled, granted per account and
//! operation, limited, disabled, enabled and removed; and the authorisation check asked before an
//! operator moves money.
//!
//! Who manages: the calling client (the platform), or, with `acting_operator_id`, an admin operator of
//! the same enterprise on whose behalf the platform calls; the service then checks that this operator
//! is an active admin of the enterprise (`operator_not_admin`, `operator_other_member`, ...), and the
//! history names it as the actor.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::operator::OperatorLimits;
use sanhu_core::party::{Actor, Operation, OperatorRequest};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::fields::{self, ThirdPartyField};
use super::{run, ClientActor, OperatorList, OperatorView};
use crate::error::{code, ApiError};
use crate::ids::{self, MemberIdPath, OperatorIdPath};
use crate::json::{double_option, parse_body};
use crate::ledger::fields as ledger_fields;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

/// Who manages: the admin operator named, or else the calling client.
fn manager(client: Actor, acting_operator_id: Option<&str>) -> Result<Actor, ApiError> {
    match acting_operator_id {
        None => Ok(client),
        Some(text) => ids::operator_id("acting_operator_id", text).map(Actor::Operator),
    }
}

/// GET /v1/members/{id}/operators: every operator of an enterprise member, removed ones included,
/// oldest first.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/operators",
    tag = "operators",
    operation_id = "listMemberOperators",
    summary = "List an enterprise member's operators",
    description = "Every operator, removed ones included (kept for the record), oldest first.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The operators.", body = OperatorList),
    )
)]
pub async fn member_operators(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<OperatorList>, ApiError> {
    let operators = state.parties.member_operators(id).await?;
    Ok(Json(OperatorList { data: operators.iter().map(OperatorView::from).collect() }))
}

/// At most one login identity for the operator to sign in with (several: `invalid_field`); none: it has none yet.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AddOperatorRequest)]
struct AddOperatorBody {
    #[schema(value_type = crate::party::choices::Role, inline)]
    role: String,
    /// A mainland mobile (11 digits, read as +86) or +country and number (`phone_invalid` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: Option<String>,
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254, examples("zhang.san@example.cn"))]
    email: Option<String>,
    /// 2 to 20 letters, digits, '_' or '-', not all digits.
    #[schema(min_length = 2, max_length = 20)]
    nickname: Option<String>,
    #[schema(inline)]
    third_party: Option<ThirdPartyField>,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// POST /v1/members/{id}/operators: an active operator with `role` and no grants, signing in with the
/// login identity given (at most one; unique in the platform).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/operators",
    tag = "operators",
    operation_id = "addOperator",
    summary = "Add an operator",
    description = "An active operator with a role and no grants, for an enterprise member (`member_not_enterprise`), \
        added by the platform or by an active admin of the enterprise (`acting_operator_id`).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = AddOperatorBody,
    responses(
        (status = 201, description = "The operator.", body = OperatorView),
    )
)]
pub async fn add_operator(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<OperatorView>), ApiError> {
    let body: AddOperatorBody = parse_body(&body)?;
    let role = fields::role(&body.role)?;
    let identity = fields::optional_login_identity(
        body.phone.as_deref(),
        body.email.as_deref(),
        body.nickname.as_deref(),
        body.third_party.as_ref(),
    )?;
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let added =
        run(move || async move { parties.add_operator(id, role, identity.as_ref(), &actor, &reason).await }).await?;
    tracing::info!(member.id = %id, operator.id = %added.operator.id(), role = role.as_str(), "operator added");
    Ok((StatusCode::CREATED, Json(OperatorView::from(&added))))
}

/// GET /v1/operators/{id}
#[utoipa::path(
    get,
    path = "/v1/operators/{id}",
    tag = "operators",
    operation_id = "getOperator",
    summary = "Get an operator",
    description = "Its role, status, grants, limits and identities.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn get_operator(
    State(state): State<AppState>,
    OperatorIdPath(id): OperatorIdPath,
) -> Result<Json<OperatorView>, ApiError> {
    Ok(Json(OperatorView::from(&state.parties.get_operator(id).await?)))
}

/// GET /v1/operators?phone=|email=|nickname=: the operator that signs in with this identity, as a list
/// of one, or empty (a member's identity is not an operator's; for a client bound to a member, neither
/// is another member's operator).
#[utoipa::path(
    get,
    path = "/v1/operators",
    tag = "operators",
    operation_id = "findOperators",
    summary = "Find the operator that signs in with an identity",
    description = "Exactly one of `phone`, `email`, `nickname` (none: `missing_parameter`; several: `invalid_query`). \
        A list of one, or empty: a member's identity is not an operator's.",
    params(
        ("phone" = Option<String>, Query, pattern = "^\\+?[0-9][0-9 -]{6,30}$", description = "A login phone (`phone_invalid` if it is not a phone number)."),
        ("email" = Option<String>, Query, pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254, description = "A login email (`email_invalid`)."),
        ("nickname" = Option<String>, Query, min_length = 2, max_length = 20, description = "A login nickname."),
    ),
    responses(
        (status = 200, description = "The operator found, if any.", body = OperatorList),
    )
)]
pub async fn find_operators(
    State(state): State<AppState>,
    Binding(bound_to): Binding,
    query: QueryParams,
) -> Result<Json<OperatorList>, ApiError> {
    const CRITERIA: [&str; 3] = ["phone", "email", "nickname"];
    let query = query.only(&CRITERIA)?;
    let given: Vec<&str> = CRITERIA.into_iter().filter(|name| query.get(name).is_some()).collect();
    let [name] = given.as_slice() else {
        let error = if given.is_empty() { code::MISSING_PARAMETER } else { code::INVALID_QUERY };
        return Err(ApiError::new(error, "give exactly one of the query parameters `phone`, `email`, `nickname`"));
    };
    let text = query.get(name).unwrap_or_default();
    let identity = match *name {
        "phone" => fields::login_identity(Some(text), None, None, None),
        "email" => fields::login_identity(None, Some(text), None, None),
        _ => fields::login_identity(None, None, Some(text), None),
    }?;
    let found = match state.parties.operator_by_identity(&identity).await {
        Ok(operator) => {
            let reached = match bound_to {
                None => true,
                Some(member) => state.parties.reaches(member, operator.operator.member()).await?,
            };
            if reached {
                vec![OperatorView::from(&operator)]
            } else {
                Vec::new()
            }
        }
        Err(error) if error.code() == "operator_not_found" => Vec::new(),
        Err(error) => return Err(ApiError::from(error)),
    };
    Ok(Json(OperatorList { data: found }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorRoleRequest)]
struct RoleBody {
    #[schema(value_type = crate::party::choices::Role, inline)]
    role: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// POST /v1/operators/{id}/role: never the last active admin's; never a role that would not allow
/// what the operator is granted (revoke first).
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/role",
    tag = "operators",
    operation_id = "changeOperatorRole",
    summary = "Change an operator's role",
    description = "Never the last active admin's (`last_admin`); never to a role that would not allow what the \
        operator is granted (`operation_not_allowed_for_role`: revoke first).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = RoleBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn change_role(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    let body: RoleBody = parse_body(&body)?;
    let role = fields::role(&body.role)?;
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let changed = run(move || async move { parties.change_operator_role(id, role, &actor, &reason).await }).await?;
    tracing::info!(operator.id = %id, role = role.as_str(), "operator role changed");
    Ok(Json(OperatorView::from(&changed)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GrantOperatorRequest)]
struct GrantBody {
    /// An account of the operator's enterprise (`account_other_member` otherwise).
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(value_type = Vec<crate::party::choices::Operation>, inline)]
    operations: Vec<String>,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// POST /v1/operators/{id}/grants: the operations the operator may perform on one of its enterprise's
/// accounts, replacing what it had there (none: nothing).
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/grants",
    tag = "operators",
    operation_id = "grantOperator",
    summary = "Grant an operator operations on an account",
    description = "Replaces what the operator may do on this account of its enterprise, within its role.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = GrantBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn grant(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    let body: GrantBody = parse_body(&body)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let operations = fields::operations(&body.operations)?;
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let granted =
        run(move || async move { parties.grant_operator(id, account, operations, &actor, &reason).await }).await?;
    tracing::info!(operator.id = %id, account.id = %account, "operator granted");
    Ok(Json(OperatorView::from(&granted)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RevokeOperatorRequest)]
struct RevokeBody {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// POST /v1/operators/{id}/grants/revoke: everything the operator may do on one account.
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/grants/revoke",
    tag = "operators",
    operation_id = "revokeOperator",
    summary = "Revoke an operator's grant on an account",
    description = "Everything the operator may do on the account.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    let body: RevokeBody = parse_body(&body)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let revoked = run(move || async move { parties.revoke_operator(id, account, &actor, &reason).await }).await?;
    tracing::info!(operator.id = %id, account.id = %account, "operator grant revoked");
    Ok(Json(OperatorView::from(&revoked)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorLimitsRequest)]
struct LimitsBody {
    /// Null clears the limits.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(required = true, inline, value_type = Option<LimitsField>)]
    limits: Option<Option<LimitsField>>,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// The limits to set, in one currency.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LimitsField {
    /// Upper-case ISO 4217 code that sanhu supports (`unknown_currency` otherwise).
    #[schema(pattern = "^[A-Z]{3}$", examples("CNY"))]
    currency: String,
    /// Most per payment, transfer or withdrawal, in minor units; null or absent: none.
    #[schema(value_type = Option<i64>, minimum = 1)]
    per_transaction: Option<Number>,
    /// Most per day (UTC+8), in minor units, over all three; null or absent: none. Below per_transaction:
    /// `operator_limits_inconsistent`.
    #[schema(value_type = Option<i64>, minimum = 1)]
    per_day: Option<Number>,
}

impl LimitsField {
    fn limits(&self) -> Result<OperatorLimits, ApiError> {
        let currency = ledger_fields::currency(&self.currency)?;
        let amount =
            |field: &str, number: &Option<Number>| number.as_ref().map(|n| ledger_fields::amount(field, n)).transpose();
        let per_transaction = amount("limits.per_transaction", &self.per_transaction)?;
        let per_day = amount("limits.per_day", &self.per_day)?;
        OperatorLimits::new(currency, per_transaction, per_day).map_err(|e| fields::refused("limits", e))
    }
}

/// POST /v1/operators/{id}/limits: limits per transaction and per day in one currency (null clears).
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/limits",
    tag = "operators",
    operation_id = "setOperatorLimits",
    summary = "Set an operator's limits",
    description = "Per transaction and per day, in one currency; null clears them. An authorisation in another \
        currency is `operator_limit_currency_mismatch`.\n\nMade by a staff member, it waits for a second staff \
        member's approval (202, an approval).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = LimitsBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn set_limits(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    let body: LimitsBody = parse_body(&body)?;
    let limits = match &body.limits {
        None => return Err(ApiError::new(code::MISSING_FIELD, "missing field `limits` (null clears them)")),
        Some(None) => None,
        Some(Some(field)) => Some(field.limits()?),
    };
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let limited = run(move || async move { parties.set_operator_limits(id, limits, &actor, &reason).await }).await?;
    tracing::info!(operator.id = %id, limited = limits.is_some(), "operator limits set");
    Ok(Json(OperatorView::from(&limited)))
}

/// The body of a status change: a reason, and the admin who makes it if not the platform.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorReasonRequest)]
struct StatusBody {
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
    /// The admin operator of the enterprise on whose behalf the platform calls: the service checks that it is an active
    /// admin of the same enterprise (`operator_not_admin`, `operator_other_member`, `operator_disabled`...) and records
    /// it as the actor. Absent: the calling client manages, as the platform.
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    acting_operator_id: Option<String>,
}

/// Which status change an endpoint makes.
#[derive(Clone, Copy)]
enum StatusAction {
    Disable,
    Enable,
    Remove,
}

async fn change_status(
    state: AppState,
    client: Actor,
    id: sanhu_core::id::OperatorId,
    body: &[u8],
    action: StatusAction,
) -> Result<Json<OperatorView>, ApiError> {
    let body: StatusBody = parse_body(body)?;
    let reason = fields::reason(&body.reason)?;
    let actor = manager(client, body.acting_operator_id.as_deref())?;
    let parties = state.parties.clone();
    let changed = run(move || async move {
        match action {
            StatusAction::Disable => parties.disable_operator(id, &actor, &reason).await,
            StatusAction::Enable => parties.enable_operator(id, &actor, &reason).await,
            StatusAction::Remove => parties.remove_operator(id, &actor, &reason).await,
        }
    })
    .await?;
    tracing::info!(operator.id = %id, status = changed.operator.status().as_str(), "operator status changed");
    Ok(Json(OperatorView::from(&changed)))
}

/// POST /v1/operators/{id}/disable: kept with its grants but allowed nothing; never the last active
/// admin.
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/disable",
    tag = "operators",
    operation_id = "disableOperator",
    summary = "Disable an operator",
    description = "Kept with its grants but allowed nothing until enabled; never the last active admin (`last_admin`).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    change_status(state, client, id, &body, StatusAction::Disable).await
}

/// POST /v1/operators/{id}/enable
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/enable",
    tag = "operators",
    operation_id = "enableOperator",
    summary = "Enable an operator",
    description = "Active again (`operator_status_unchanged` if it is; `operator_removed` if removed).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn enable(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    change_status(state, client, id, &body, StatusAction::Enable).await
}

/// POST /v1/operators/{id}/remove: for good (the record stays, its identities are freed); never the
/// last active admin.
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/remove",
    tag = "operators",
    operation_id = "removeOperator",
    summary = "Remove an operator",
    description = "For good: the record stays for the audit trail, its login identities are freed; never the last \
        active admin (`last_admin`, 409).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The operator.", body = OperatorView),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    ClientActor(client): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<OperatorView>, ApiError> {
    change_status(state, client, id, &body, StatusAction::Remove).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuthoriseOperatorRequest)]
struct AuthoriseBody {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(value_type = crate::party::choices::Operation, inline)]
    operation: String,
    /// Minor units, for pay, transfer and withdraw (missing: `missing_field`); not for view (`invalid_field`).
    #[schema(value_type = Option<i64>, minimum = 1)]
    amount: Option<Number>,
    /// If given, must be the account's currency (`currency_mismatch`).
    #[schema(pattern = "^[A-Z]{3}$", examples("CNY"))]
    currency: Option<String>,
}

/// An allowed request.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OperatorAuthorisation)]
pub struct AuthorisationView {
    #[schema(schema_with = crate::party::choices::always_true)]
    allowed: bool,
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    operator_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(value_type = crate::party::choices::Operation, inline)]
    operation: &'static str,
    #[schema(required = true, minimum = 1)]
    amount: Option<i64>,
    /// The account's currency, in which the amount counts.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    /// What the operator has been allowed to move today (UTC+8) in this currency, this request included.
    #[schema(minimum = 0)]
    spent_today: i64,
}

/// POST /v1/operators/{id}/authorise: whether the operator may do `operation` (with `amount` where
/// money moves) on the account; a refusal is answered with its code (403 `operator_not_authorised`,
/// `operator_limit_per_transaction`, ...). An allowed amount counts towards the operator's day at
/// once.
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/authorise",
    tag = "operators",
    operation_id = "authoriseOperator",
    summary = "Authorise an operator's request",
    description = "Whether the operator may do the operation on the account now: its enterprise may act, it is active, \
        granted the operation on this account by a role that allows it, and within its limits. A refusal is answered \
        with its code (403 `operator_not_authorised`, `operator_limit_per_transaction`, `operator_limit_per_day`, \
        ...). An allowed amount counts towards the operator's day at once.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = AuthoriseBody,
    responses(
        (status = 200, description = "Allowed.", body = AuthorisationView),
    )
)]
pub async fn authorise(
    State(state): State<AppState>,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<AuthorisationView>, ApiError> {
    let body: AuthoriseBody = parse_body(&body)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let operation = fields::operation(&body.operation)?;
    let amount = match (operation, &body.amount) {
        (Operation::View, None) => None,
        (Operation::View, Some(_)) => {
            return Err(ApiError::new(code::INVALID_FIELD, "`amount` does not apply to the view operation"))
        }
        (_, None) => return Err(ApiError::new(code::MISSING_FIELD, "missing field `amount`")),
        (_, Some(number)) => Some(ledger_fields::amount("amount", number)?),
    };
    let request = match (operation, amount) {
        (Operation::Pay, Some(a)) => OperatorRequest::Pay(a),
        (Operation::Transfer, Some(a)) => OperatorRequest::Transfer(a),
        (Operation::Withdraw, Some(a)) => OperatorRequest::Withdraw(a),
        _ => OperatorRequest::View,
    };
    if let Some(text) = &body.currency {
        // Checked before the authorisation counts anything.
        let currency = ledger_fields::currency(text)?;
        let account_currency = state.parties.get_member_account(account).await?.ledger.currency;
        if currency != account_currency {
            return Err(ApiError::new(
                code::CURRENCY_MISMATCH,
                format!("the account holds {}, not {}", account_currency.code(), currency.code()),
            ));
        }
    }
    let parties = state.parties.clone();
    let allowed = run(move || async move { parties.authorise_operator(id, account, request).await }).await?;
    Ok(Json(AuthorisationView {
        allowed: true,
        operator_id: id.to_string(),
        account_id: account.to_string(),
        operation: operation.as_str(),
        amount: amount.map(|a| a.get()),
        currency: allowed.currency.code().to_owned(),
        spent_today: allowed.spent_today,
    }))
}
