//! Limits on wallet payments (支付限额) per account type, and a member's own override: per payment,
//! per platform day and per platform month on what a payment takes from the member's accounts of one
//! type (`payment_limit_exceeded`, 422, naming the limit). The platform configures the types'
//! limits; staff (admin scope) override them for one member, with a reason kept in the member's
//! history.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use sanhu_core::party::AccountTypeCode;
use sanhu_service::wallet::{EffectiveLimits, PaymentLimits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{code, ApiError};
use crate::ids::MemberIdPath;
use crate::json::parse_body;
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// Limits in minor units; null: no limit.
#[derive(Serialize, Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PaymentLimits)]
pub struct LimitsJson {
    #[schema(required, minimum = 1)]
    pub per_payment: Option<i64>,
    #[schema(required, minimum = 1)]
    pub per_day: Option<i64>,
    #[schema(required, minimum = 1)]
    pub per_month: Option<i64>,
}

/// A member's limits for one account type, as they apply.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = MemberPaymentLimit)]
pub struct TypeLimitsJson {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub account_type: String,
    pub limits: LimitsJson,
    /// The member's own limits (an override) rather than the account type's.
    pub overridden: bool,
}

/// Every account type with limits for the member.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = MemberPaymentLimits)]
pub struct MemberLimitsJson {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    pub data: Vec<TypeLimitsJson>,
}

fn view(member: String, all: Vec<EffectiveLimits>) -> MemberLimitsJson {
    MemberLimitsJson {
        member_id: member,
        data: all
            .into_iter()
            .map(|e| TypeLimitsJson {
                account_type: e.account_type,
                limits: LimitsJson {
                    per_payment: e.limits.per_payment,
                    per_day: e.limits.per_day,
                    per_month: e.limits.per_month,
                },
                overridden: e.overridden,
            })
            .collect(),
    }
}

/// GET /v1/members/{id}/payment-limits
#[utoipa::path(
    get,
    path = "/v1/members/{id}/payment-limits",
    tag = "wallet",
    operation_id = "getMemberPaymentLimits",
    summary = "Read a member's payment limits",
    description = "Per account type with limits: per payment, per platform day and per platform month on what a payment takes from the member's accounts of that type; the member's own override where staff set one, else the type's configured limits.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The limits.", body = MemberLimitsJson)),
)]
pub async fn get_payment_limits(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<MemberLimitsJson>, ApiError> {
    let all = state.wallets().member_payment_limits(id).await?;
    Ok(Json(view(id.to_string(), all)))
}

/// A member's own limits for one account type.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetPaymentLimitsRequest)]
struct SetBody {
    /// A configured account type's code (`account_type_not_configured` otherwise).
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$", examples("b2b"))]
    account_type: String,
    /// The member's own limits for this type, replacing the type's; null returns to the type's.
    #[schema(required)]
    limits: Option<LimitsJson>,
    /// Why, for the member's history: 1 to 200 characters without control characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/members/{id}/payment-limits: staff override the account type's limits for one member.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/payment-limits",
    tag = "wallet",
    operation_id = "setMemberPaymentLimits",
    summary = "Override a member's payment limits for one account type",
    description = "Staff or an admin-scoped client only; kept in the member's history (`member.payment_limits_set`) with the reason. Limits are positive, per payment at most per day at most per month (`payment_limits_invalid`). `limits: null` returns the member to the type's limits. What the member already paid today and this month counts at once.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = SetBody,
    responses((status = 200, description = "The member's limits now.", body = MemberLimitsJson)),
)]
pub async fn set_payment_limits(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberLimitsJson>, ApiError> {
    let body: SetBody = parse_body(&body)?;
    let account_type = AccountTypeCode::parse(&body.account_type)
        .map_err(|_| ApiError::new(code::INVALID_FIELD, "account_type is not an account type's code"))?;
    let limits =
        body.limits.map(|l| PaymentLimits { per_payment: l.per_payment, per_day: l.per_day, per_month: l.per_month });
    let reason = fields::reason(&body.reason)?;
    let wallets = state.wallets().clone();
    let all =
        run(move || async move { wallets.set_member_payment_limits(id, &account_type, limits, &actor, &reason).await })
            .await?;
    tracing::info!(member.id = %id, "member payment limits set");
    Ok(Json(view(id.to_string(), all)))
}
