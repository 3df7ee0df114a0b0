//! Pay codes (付款码): the member's app asks for a short-lived one-time code, shows it as a QR or bar
//! code, and the store's terminal sends it with the payment (`pay_code` on `POST /v1/payments`)
//! instead of the payer's ids. The rules are the service's (`sanhu_service::wallet`'s `pay_code.rs`):
//! 18 digits, a minute's life unless configured, kept only as a keyed hash, spent once by the write
//! that records the payment, unknown codes counted per client.
//!
//! Issuing is the member's: a client bound to another member reaches no member here (404 as if
//! absent). The answer carries the code, so the route takes no Idempotency-Key (a retry gets a new
//! code; the old one expires unused).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::IssuedPayCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::ids::{self, MemberIdPath};
use crate::json::parse_body_or_empty;
use crate::party::{run, ClientActor};
use crate::AppState;

/// A pay code to show the member.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = PayCode)]
pub struct PayCodeJson {
    /// 18 digits, to render as a QR or bar code; presented once on `POST /v1/payments` (`pay_code`).
    #[schema(pattern = "^[0-9]{18}$")]
    pub code: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    /// The one account the code pays from; null: the member's wallet in its deduction order.
    #[schema(required, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: Option<String>,
    #[schema(format = DateTime)]
    pub issued_at: String,
    /// After this the code is refused (`pay_code_expired`).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Its life, in seconds.
    #[schema(minimum = 1)]
    pub expires_in_s: i64,
}

impl From<&IssuedPayCode> for PayCodeJson {
    fn from(issued: &IssuedPayCode) -> PayCodeJson {
        PayCodeJson {
            code: issued.code.as_str().to_owned(),
            member_id: issued.member_id.to_string(),
            account_id: issued.account_id.map(|a| a.to_string()),
            issued_at: issued.issued_at.to_string(),
            expires_at: issued.expires_at.to_string(),
            expires_in_s: (issued.expires_at.nanos() - issued.issued_at.nanos()) / 1_000_000_000,
        }
    }
}

/// A pay code's request; the body may be left out.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = IssuePayCodeRequest)]
struct IssueBody {
    /// Bind the code to this one of the member's accounts (`account_not_members` otherwise).
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: Option<String>,
}

/// POST /v1/members/{id}/pay-codes
#[utoipa::path(
    post,
    path = "/v1/members/{id}/pay-codes",
    tag = "wallet",
    operation_id = "issuePayCode",
    summary = "Issue a member's pay code",
    description = "A one-time code of 18 digits for the member's app to show as a QR or bar code; a store's terminal sends it on `POST /v1/payments` (`pay_code`) instead of `member_id`. It lives 60 seconds unless the platform configures another life (`pay_code_ttl_s`), pays one order (`pay_code_used` after; a payment refused before it is recorded leaves it unspent) and is kept only as a keyed hash. Bound to the member, and to `account_id` when given. The member must be able to pay (its status and its customer's). Takes no Idempotency-Key: the answer carries the code.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = IssueBody,
    responses((status = 201, description = "The code.", body = PayCodeJson)),
)]
pub async fn issue_pay_code(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<PayCodeJson>), ApiError> {
    let body: IssueBody = parse_body_or_empty(&body)?;
    let account = body.account_id.as_deref().map(|a| ids::account_id("account_id", a)).transpose()?;
    let wallets = state.wallets().clone();
    let issued = run(move || async move { wallets.issue_pay_code(id, account, &actor).await }).await?;
    tracing::info!(member.id = %id, "pay code issued");
    Ok((StatusCode::CREATED, Json(PayCodeJson::from(&issued))))
}
