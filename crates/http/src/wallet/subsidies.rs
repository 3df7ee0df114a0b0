//! Enterprise subsidies (企业补贴, the canteen case): an enterprise member funds its subsidy funding
//! account from its own money, then pays a round of subsidies into its employees' subsidy accounts
//! as one chain, never beyond what it funded, even when rounds run at once. Subsidy money is spent
//! first and is not withdrawable.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{
    SubsidyCredit, SubsidyDistribution, SubsidyDistributionRequest, SubsidyFund, SubsidyFunding, SubsidyFundingRequest,
    SubsidyStatus, SUBSIDY_CREDITS_MAX,
};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::{amount, client_of, order_number, OrderOf};
use crate::error::{code, ApiError};
use crate::ids::{self, MemberIdPath};
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::AppState;

/// A funding of an enterprise's subsidies.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SubsidyFunding)]
pub struct SubsidyFundingJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub enterprise_member_id: String,
    /// The enterprise's account the money came from.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    /// The enterprise's subsidy funding account (`subsidy:<mem_…>`).
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub funding_account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// applying, applied or refused.
    pub status: SubsidyStatus,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&SubsidyFunding> for SubsidyFundingJson {
    fn from(f: &SubsidyFunding) -> SubsidyFundingJson {
        SubsidyFundingJson {
            order_number: f.order_number.clone(),
            enterprise_member_id: f.enterprise_id.to_string(),
            account_id: f.account_id.to_string(),
            funding_account_id: f.funding_account_id.to_string(),
            amount: f.amount,
            status: f.status,
            reason: f.reason.clone(),
            created_at: f.created_at.to_string(),
        }
    }
}

/// A round of subsidies paid to employees.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SubsidyDistribution)]
pub struct SubsidyDistributionJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub enterprise_member_id: String,
    pub grants: Vec<SubsidyGrantJson>,
    #[schema(minimum = 0)]
    pub total: i64,
    /// applying, applied or refused.
    pub status: SubsidyStatus,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// One employee's subsidy: into which of its accounts, how much.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SubsidyGrant)]
pub struct SubsidyGrantJson {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
}

impl From<&SubsidyDistribution> for SubsidyDistributionJson {
    fn from(d: &SubsidyDistribution) -> SubsidyDistributionJson {
        SubsidyDistributionJson {
            order_number: d.order_number.clone(),
            enterprise_member_id: d.enterprise_id.to_string(),
            grants: d
                .grants
                .iter()
                .map(|g| SubsidyGrantJson {
                    member_id: g.member_id.to_string(),
                    account_id: g.account_id.to_string(),
                    amount: g.amount,
                })
                .collect(),
            total: d.total,
            status: d.status,
            reason: d.reason.clone(),
            created_at: d.created_at.to_string(),
        }
    }
}

/// An enterprise's subsidy fund: funded, distributed, and what may still be distributed.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SubsidyFund)]
pub struct SubsidyFundJson {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub enterprise_member_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub funding_account_id: String,
    #[schema(minimum = 0)]
    pub funded: i64,
    #[schema(minimum = 0)]
    pub distributed: i64,
    pub available: i64,
}

impl From<&SubsidyFund> for SubsidyFundJson {
    fn from(f: &SubsidyFund) -> SubsidyFundJson {
        SubsidyFundJson {
            enterprise_member_id: f.enterprise_id.to_string(),
            funding_account_id: f.funding_account_id.to_string(),
            funded: f.funded,
            distributed: f.distributed,
            available: f.available(),
        }
    }
}

/// A subsidy funding's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SubsidyFundingRequest)]
struct FundBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    enterprise_member_id: String,
    /// The enterprise's account to take the money from; its basic account when absent.
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: Option<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// POST /v1/subsidy-fundings: the enterprise moves its own money into its subsidy funding account.
#[utoipa::path(
    post,
    path = "/v1/subsidy-fundings",
    tag = "wallet",
    operation_id = "fundSubsidies",
    summary = "Fund an enterprise's subsidies",
    description = "From the enterprise member's own account into its subsidy funding account.",
    request_body = FundBody,
    responses((status = 201, description = "The funding.", body = SubsidyFundingJson)),
)]
pub async fn fund(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<SubsidyFundingJson>), ApiError> {
    let body: FundBody = parse_body(&body)?;
    let request = SubsidyFundingRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        enterprise: ids::member_id("enterprise_member_id", &body.enterprise_member_id)?,
        account: body.account_id.as_deref().map(|a| ids::account_id("account_id", a)).transpose()?,
        amount: amount("amount", &body.amount)?,
    };
    let wallets = state.wallets().clone();
    let funding = run(move || async move { wallets.fund_subsidies(&request, &actor).await }).await?;
    tracing::info!(order.number = %funding.order_number, enterprise = %funding.enterprise_id, amount = funding.amount, status = ?funding.status, "subsidies funded");
    Ok((StatusCode::CREATED, Json(SubsidyFundingJson::from(&funding))))
}

/// GET /v1/subsidy-fundings/{number}
#[utoipa::path(
    get,
    path = "/v1/subsidy-fundings/{number}",
    tag = "wallet",
    operation_id = "getSubsidyFunding",
    summary = "Read a subsidy funding",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The funding.", body = SubsidyFundingJson)),
)]
pub async fn get_funding(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<SubsidyFundingJson>, ApiError> {
    let funding = state.wallets().get_subsidy_funding(client, &number).await?;
    Ok(Json(SubsidyFundingJson::from(&funding)))
}

/// One employee's subsidy in a round's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SubsidyCredit)]
struct CreditBody {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// A round of subsidies' request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SubsidyDistributionRequest)]
struct DistributeBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    enterprise_member_id: String,
    /// At most 500 employees per round.
    #[schema(max_items = 500)]
    credits: Vec<CreditBody>,
}

/// POST /v1/subsidy-distributions: a round of subsidies into the employees' subsidy accounts, one
/// chain, at most the fund's available amount.
#[utoipa::path(
    post,
    path = "/v1/subsidy-distributions",
    tag = "wallet",
    operation_id = "distributeSubsidies",
    summary = "Pay a round of subsidies",
    description = "Into the employees' subsidy accounts as one chain, never beyond what the enterprise funded (`subsidy_fund_insufficient`), even when rounds run at once.",
    request_body = DistributeBody,
    responses((status = 201, description = "The round.", body = SubsidyDistributionJson)),
)]
pub async fn distribute(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<SubsidyDistributionJson>), ApiError> {
    let body: DistributeBody = parse_body(&body)?;
    if body.credits.len() > SUBSIDY_CREDITS_MAX {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            format!("credits: at most {SUBSIDY_CREDITS_MAX} employees per round"),
        ));
    }
    let credits = body
        .credits
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(SubsidyCredit {
                member: ids::member_id(&format!("credits[{i}].member_id"), &c.member_id)?,
                amount: amount(&format!("credits[{i}].amount"), &c.amount)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let request = SubsidyDistributionRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        enterprise: ids::member_id("enterprise_member_id", &body.enterprise_member_id)?,
        credits,
    };
    let wallets = state.wallets().clone();
    let round = run(move || async move { wallets.distribute_subsidies(&request, &actor).await }).await?;
    tracing::info!(order.number = %round.order_number, enterprise = %round.enterprise_id, total = round.total, employees = round.grants.len(), status = ?round.status, "subsidies distributed");
    Ok((StatusCode::CREATED, Json(SubsidyDistributionJson::from(&round))))
}

/// GET /v1/subsidy-distributions/{number}
#[utoipa::path(
    get,
    path = "/v1/subsidy-distributions/{number}",
    tag = "wallet",
    operation_id = "getSubsidyDistribution",
    summary = "Read a round of subsidies",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The round.", body = SubsidyDistributionJson)),
)]
pub async fn get_distribution(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<SubsidyDistributionJson>, ApiError> {
    let round = state.wallets().get_subsidy_distribution(client, &number).await?;
    Ok(Json(SubsidyDistributionJson::from(&round)))
}

/// GET /v1/members/{id}/subsidy-fund: the enterprise's fund.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/subsidy-fund",
    tag = "wallet",
    operation_id = "getSubsidyFund",
    summary = "Read an enterprise's subsidy fund",
    description = "What it funded, distributed, and may still distribute.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The fund.", body = SubsidyFundJson)),
)]
pub async fn get_fund(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<SubsidyFundJson>, ApiError> {
    let fund = state.wallets().subsidy_fund(id).await?;
    Ok(Json(SubsidyFundJson::from(&fund)))
}
