//! Paying from the wallet (余额支付): at once, or authorised (held) and later captured in full or
//! part, or released; split payment when the wallet falls short and the caller allows it; refunds
//! against a payment, in part or in full, several times, never more than was paid and not yet
//! refunded, back to the accounts the money came from.
//!
//! A payment may carry the member's pay password. It still takes an `Idempotency-Key`: the
//! idempotency layer leaves the `pay_password` field out of the request's fingerprint, and the
//! stored response never holds it.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::wallet::{ShareRule, Shortfall};
use sanhu_service::party::MemberObject;
use sanhu_service::wallet::{
    OrderNumber, Payment, PaymentMode, PaymentRequest, PaymentStatus, PlatformAccount, Receiver, Refund, RefundStatus,
    Refunder, ShareStatus, SplitPaymentRequest, SplitReceiver, PLATFORM_ACCOUNT_NOT_FOUND, RECEIVER_NOT_FOUND,
};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::recharges::EmptyBody;
use super::wallets::PartJson;
use super::{amount, client_of, order_number, OrderNumberPath, OrderOf};
use crate::error::{code, ApiError};
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{fields, run, ClientActor};
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

/// A payment from the wallet (余额支付) as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Payment)]
pub struct PaymentJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    /// The account that receives the money: a merchant's member account or a platform account.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub receiver_account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// What the wallet paid (or captured).
    #[schema(minimum = 0)]
    pub paid: i64,
    /// What the wallet did not cover, for another payment method (split payment).
    #[schema(minimum = 0)]
    pub remainder: i64,
    /// paying, paid, failed, authorising, authorised, capturing, captured, releasing, released,
    /// escrowing, escrowed, escrow_releasing, escrow_released, escrow_returning or escrow_returned.
    pub status: PaymentStatus,
    /// What was taken from each account, in deduction order.
    pub deductions: Vec<PartJson>,
    /// An authorisation's holds, one per account.
    pub holds: Vec<HoldJson>,
    pub refunds: Vec<RefundJson>,
    /// Refunded so far, counting refunds still processing.
    #[schema(minimum = 0)]
    pub refunded: i64,
    /// A split payment's receivers, in the order given; empty for a payment to one receiver.
    pub splits: Vec<SplitJson>,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The enterprise member's operator who made it; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub operator_id: Option<String>,
    /// The receiving merchant's store where it was paid; null when none was named.
    #[schema(required, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub store_id: Option<String>,
    /// The store's terminal that sent it; null when none was named.
    #[schema(required, pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub terminal_id: Option<String>,
    /// The family card (亲情卡) the payer paid with, from its owner's account; null when none.
    #[schema(required, pattern = "^fcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub family_card_id: Option<String>,
}

/// One hold of an authorised payment or a deposit.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Hold)]
pub struct HoldJson {
    #[schema(pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub pending_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
}

/// One receiver of a split payment (分账).
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Split)]
pub struct SplitJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    /// Its share of the payment.
    #[schema(minimum = 1)]
    pub amount: i64,
    /// Held until released (escrow), else the receiver's at once.
    pub escrow: bool,
    /// paid, escrowed, releasing or released.
    pub status: ShareStatus,
    /// Taken back from it by refunds so far, counting refunds still processing.
    #[schema(minimum = 0)]
    pub refunded: i64,
    /// The payer's accounts that paid it.
    pub sources: Vec<PartJson>,
    /// While escrowed, its holds.
    pub holds: Vec<HoldJson>,
}

/// One refund of a payment.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Refund)]
pub struct RefundJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub refund_number: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// processing, succeeded or failed.
    pub status: RefundStatus,
    /// What went back to each account.
    pub returns: Vec<PartJson>,
    /// A split payment's refund: what it took back from each receiver (`account_id` the receiver's).
    pub splits: Vec<PartJson>,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
}

impl From<&Refund> for RefundJson {
    fn from(r: &Refund) -> RefundJson {
        RefundJson {
            refund_number: r.refund_number.clone(),
            amount: r.amount,
            status: r.status,
            returns: r
                .returns
                .iter()
                .map(|p| PartJson { account_id: p.account_id.to_string(), amount: p.amount })
                .collect(),
            splits: r
                .shares
                .iter()
                .map(|p| PartJson { account_id: p.account_id.to_string(), amount: p.amount })
                .collect(),
            reason: r.reason.clone(),
        }
    }
}

impl From<&Payment> for PaymentJson {
    fn from(p: &Payment) -> PaymentJson {
        PaymentJson {
            order_number: p.order_number.clone(),
            member_id: p.member_id.to_string(),
            customer_id: p.customer_id.clone(),
            receiver_account_id: p.receiver.to_string(),
            amount: p.amount,
            paid: p.paid,
            remainder: p.remainder,
            status: p.status,
            deductions: p
                .deductions
                .iter()
                .map(|d| PartJson { account_id: d.account_id.to_string(), amount: d.amount })
                .collect(),
            holds: p
                .holds
                .iter()
                .map(|h| HoldJson {
                    pending_id: h.pending_id.to_string(),
                    account_id: h.account_id.to_string(),
                    amount: h.amount,
                })
                .collect(),
            refunds: p.refunds.iter().map(RefundJson::from).collect(),
            refunded: p.refunded(),
            splits: p
                .splits
                .iter()
                .map(|s| SplitJson {
                    account_id: s.account_id.to_string(),
                    amount: s.amount,
                    escrow: s.escrow,
                    status: s.status,
                    refunded: s.refunded(p),
                    sources: s
                        .sources
                        .iter()
                        .map(|d| PartJson { account_id: d.account_id.to_string(), amount: d.amount })
                        .collect(),
                    holds: s
                        .holds
                        .iter()
                        .map(|h| HoldJson {
                            pending_id: h.pending_id.to_string(),
                            account_id: h.account_id.to_string(),
                            amount: h.amount,
                        })
                        .collect(),
                })
                .collect(),
            reason: p.reason.clone(),
            created_at: p.created_at.to_string(),
            operator_id: p.operator_id().map(|o| o.to_string()),
            store_id: p.store_id.clone(),
            terminal_id: p.terminal_id.clone(),
            family_card_id: p.family_card_id().map(str::to_owned),
        }
    }
}

/// One receiver of a split payment: exactly one of `receiver_account_id` and
/// `receiver_platform_account`, and exactly one of `amount`, `rate_bp` and `rest`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SplitRequest)]
struct SplitBody {
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_account_id: Option<String>,
    /// A platform account's name configured to receive payments (`fee_income` for commission).
    #[schema(
        pattern = "^(channel:[a-z0-9_-]{1,32}|subsidy:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+)$",
        nullable = false,
        examples("fee_income")
    )]
    receiver_platform_account: Option<String>,
    /// A fixed share, in minor units.
    #[schema(nullable = false, value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Option<Number>,
    /// A share of the payment's amount in basis points (1 to 10000), rounded down to the minor unit.
    #[schema(nullable = false, value_type = Option<i64>, minimum = 1, maximum = 10000)]
    rate_bp: Option<u32>,
    /// The amount less every other share: what rates' rounding drops goes here. At most one.
    #[serde(default)]
    rest: bool,
    /// Held (escrow) until released to this receiver (`POST /v1/payments/{number}/split-release`).
    #[serde(default)]
    escrow: bool,
}

/// A payment's request: exactly one of `receiver_account_id` and `receiver_platform_account`, or
/// `splits`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PayRequest)]
struct PayBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    /// The payer; or `pay_code`, one of the two.
    #[schema(nullable = false, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: Option<String>,
    /// The payer's pay code as the store's terminal read it (`POST /v1/members/{id}/pay-codes`),
    /// instead of `member_id`: the payer is the code's member, paying from the account the code
    /// names if it names one. Spent by the payment (`pay_code_used` for another order after;
    /// `pay_code_expired`, `pay_code_not_found`); a payment refused before it is recorded leaves it
    /// unspent. Not with `splits`. A client bound to a member presents codes only to be paid itself:
    /// the receiver must be its member's account.
    #[schema(nullable = false, pattern = "^[0-9]{18}$")]
    pay_code: Option<String>,
    /// Where the platform allows it (`pay_by_phone`, else `pay_by_phone_not_allowed`): the payer's
    /// login phone instead of `member_id`, with `sms_code`, the code sent to it for the purpose
    /// `payment` (`POST /v1/one-time-codes`). A wrong code costs one of its attempts; a right one is
    /// spent by the payment, and a payment refused before it is recorded leaves it unspent. Not with
    /// `splits`; a bound client is paid itself, as with `pay_code`.
    #[schema(nullable = false, examples("13800000001"))]
    phone: Option<String>,
    /// With `phone`.
    #[schema(nullable = false, pattern = "^[0-9]{4,8}$")]
    sms_code: Option<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// A merchant's member account; or `receiver_platform_account`, one of the two.
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_account_id: Option<String>,
    /// A platform account's name (`fee_income`, `channel:alipay`, ...).
    #[schema(
        pattern = "^(channel:[a-z0-9_-]{1,32}|subsidy:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+)$",
        nullable = false,
        examples("fee_income")
    )]
    receiver_platform_account: Option<String>,
    /// Pay what the wallet can and answer the remainder (split payment); else all or nothing.
    #[serde(default)]
    allow_split: bool,
    /// Authorise only: hold the money for up to this many seconds, to be captured or released.
    #[schema(nullable = false, value_type = Option<i64>, minimum = 0, maximum = 4294967295i64)]
    authorise_timeout_s: Option<u32>,
    /// Escrow (担保支付): the receiver is credited as frozen until the payment is released to it or
    /// returned to the payer.
    #[serde(default)]
    escrow: bool,
    /// When the platform requires it. Left out of an Idempotency-Key's fingerprint; never stored.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
    /// The enterprise member's operator who makes the request: granted this operation on the
    /// accounts the money comes from, within its limits (`operator_not_authorised`,
    /// `operator_limit_exceeded`); required for enterprise members where the platform says so
    /// (`operator_required`).
    #[schema(nullable = false, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    operator_id: Option<String>,
    /// A family card (亲情卡) granted to the payer (`member_id`): the money comes from the card's
    /// owner's account, within the card's limit per payment and per platform month
    /// (`family_card_per_payment_limit_exceeded`, `family_card_monthly_limit_exceeded`), passing
    /// through the payer's account so that both members' flows show it. The payer's pay password,
    /// as for any payment. At once to one receiver only: not with `pay_code`, `phone`, `splits`,
    /// `allow_split`, `authorise_timeout_s`, `escrow` or `operator_id` (`family_card_payment_invalid`).
    /// A card that is not the payer's is `family_card_not_found`; a revoked one `family_card_revoked`.
    #[schema(nullable = false, pattern = "^fcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    family_card_id: Option<String>,
    /// Split payment (分账): 1 to 10 receivers sharing the amount, instead of `receiver_account_id` or
    /// `receiver_platform_account`; not with `allow_split`, `authorise_timeout_s` or `escrow` (each
    /// receiver's share is escrowed or not).
    #[schema(nullable = false, max_items = 10)]
    splits: Option<Vec<SplitBody>>,
    /// The receiving merchant's store where the payer pays (`POST /v1/merchants/{id}/stores`): a store
    /// of the merchant whose account receives (`store_not_receivers`), active (`store_closed`). Its
    /// settings apply: a payment method it does not take is refused (`payment_method_not_accepted`;
    /// `member_id` pays by `balance`, `pay_code` by `pay_code`, `phone` by `phone_sms`), and at or above its
    /// pay-password-free threshold the pay password is asked; below it none is, except where the
    /// platform requires one: then only below the platform's ceiling (`pay_password_free_max`). Recorded on the
    /// payment and in the flow. Not with `splits`.
    #[schema(nullable = false, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    store_id: Option<String>,
    /// The store's terminal that sends the payment: the store's (`terminal_not_stores`), active
    /// (`terminal_disabled`); alone, it names its store. Recorded with the store.
    #[schema(nullable = false, pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    terminal_id: Option<String>,
}

/// A split payment's request from its body.
fn split_request(body: PayBody, client: ClientId) -> Result<SplitPaymentRequest, ApiError> {
    let splits = body.splits.unwrap_or_default();
    if body.receiver_account_id.is_some()
        || body.receiver_platform_account.is_some()
        || body.allow_split
        || body.authorise_timeout_s.is_some()
        || body.escrow
    {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            "a split payment names its receivers in splits, and is not authorised, escrowed or allow_split as a whole",
        ));
    }
    let mut receivers = Vec::with_capacity(splits.len());
    for (i, split) in splits.into_iter().enumerate() {
        let field = |name: &str| format!("splits[{i}].{name}");
        let (account, platform) = (field("receiver_account_id"), field("receiver_platform_account"));
        let receiver = receiver_of(
            (account.as_str(), split.receiver_account_id.as_deref()),
            (platform.as_str(), split.receiver_platform_account.as_deref()),
        )?;
        let rule = match (&split.amount, split.rate_bp, split.rest) {
            (Some(n), None, false) => ShareRule::Amount(amount(&field("amount"), n)?),
            (None, Some(bp), false) => ShareRule::RateBp(bp),
            (None, None, true) => ShareRule::Rest,
            _ => {
                return Err(ApiError::new(
                    code::INVALID_FIELD,
                    format!("give exactly one of {}, {} and {}", field("amount"), field("rate_bp"), field("rest")),
                ))
            }
        };
        receivers.push(SplitReceiver { receiver, rule, escrow: split.escrow });
    }
    Ok(SplitPaymentRequest {
        client,
        order_number: order_number("order_number", &body.order_number)?,
        member: payer_id(body.member_id.as_deref())?,
        amount: amount("amount", &body.amount)?,
        splits: receivers,
        operator: body.operator_id.as_deref().map(|o| ids::operator_id("operator_id", o)).transpose()?,
        pay_password: body.pay_password,
    })
}

/// The payer a request by the payer's ids names.
fn payer_id(member: Option<&str>) -> Result<MemberId, ApiError> {
    match member {
        Some(id) => ids::member_id("member_id", id),
        None => Err(ApiError::new(
            code::MISSING_FIELD,
            "member_id is required (or pay_code, for a payment to one receiver)",
        )),
    }
}

/// The receiver a request names: exactly one of a member account (first field) and a platform
/// account's name (second field).
pub fn receiver_of(account: (&str, Option<&str>), platform: (&str, Option<&str>)) -> Result<Receiver, ApiError> {
    match (account.1, platform.1) {
        (Some(id), None) => Ok(Receiver::Account(ids::account_id(account.0, id)?)),
        (None, Some(name)) => PlatformAccount::parse(name)
            .map(Receiver::Platform)
            .ok_or_else(|| ApiError::refused(PLATFORM_ACCOUNT_NOT_FOUND).within(platform.0)),
        _ => Err(ApiError::new(code::INVALID_FIELD, format!("give exactly one of {} and {}", account.0, platform.0))),
    }
}

/// POST /v1/payments: pays an order from the member's wallet in its deduction order, as one linked
/// chain (or holds, when `authorise_timeout_s` is given). The same order number again answers the
/// payment as it is; with other details, `order_number_reused`.
#[utoipa::path(
    post,
    path = "/v1/payments",
    tag = "wallet",
    operation_id = "pay",
    summary = "Pay from the wallet",
    description = "In the member's deduction order as one linked chain, or authorised (held) with `authorise_timeout_s`; `allow_split` pays what the wallet can and answers the remainder. The same order number again answers the payment as it is. The receiver is another customer's member account (`same_wallet` for the payer's own customer's) or a platform account configured to receive payments (`payment_receivers`, by default `fee_income`; others `receiver_not_allowed`). At a counter the payer is named by a pay code (`pay_code`, from `POST /v1/members/{id}/pay-codes`) or, where the platform allows it, by phone and SMS code (`phone`, `sms_code`) instead of `member_id`; the code is spent by the write that records the payment, and a payment refused before it is recorded leaves it unspent. Takes an Idempotency-Key: `pay_password` is left out of its fingerprint.",
    request_body = PayBody,
    responses((status = 201, description = "The payment.", body = PaymentJson)),
)]
pub async fn pay(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Binding(bound): Binding,
    body: Bytes,
) -> Result<(StatusCode, Json<PaymentJson>), ApiError> {
    let body: PayBody = parse_body(&body)?;
    let payers = [body.member_id.is_some(), body.pay_code.is_some(), body.phone.is_some()];
    let at_counter = body.pay_code.is_some() || body.phone.is_some();
    if payers.iter().filter(|given| **given).count() > 1 || (at_counter && body.splits.is_some()) {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            "a payment names its payer by one of member_id, pay_code and phone; a counter's payment pays one receiver (no splits)",
        ));
    }
    if body.phone.is_some() != body.sms_code.is_some() {
        return Err(match body.phone {
            Some(_) => ApiError::new(code::MISSING_FIELD, "sms_code is required with phone"),
            None => ApiError::new(code::INVALID_FIELD, "sms_code goes with phone"),
        });
    }
    if body.splits.is_some() && (body.store_id.is_some() || body.terminal_id.is_some()) {
        return Err(ApiError::new(code::INVALID_FIELD, "a split payment names no store_id or terminal_id"));
    }
    let family_card = body
        .family_card_id
        .as_deref()
        .map(|c| {
            sanhu_core::id::FamilyCardId::parse(c).ok_or_else(|| {
                ApiError::new(code::INVALID_ID, "family_card_id is not a family card id (fcd_ and 26 characters)")
            })
        })
        .transpose()?;
    if family_card.is_some() && (body.splits.is_some() || at_counter) {
        return Err(ApiError::refused(sanhu_service::wallet::FAMILY_CARD_PAYMENT_INVALID));
    }
    if body.splits.is_some() {
        let request = split_request(body, client_of(&actor)?)?;
        let wallets = state.wallets().clone();
        let payment = run(move || async move { wallets.pay_split(&request, &actor).await }).await?;
        tracing::info!(order.number = %payment.order_number, member.id = %payment.member_id, amount = payment.amount, receivers = payment.splits.len(), status = ?payment.status, "split payment");
        return Ok((StatusCode::CREATED, Json(PaymentJson::from(&payment))));
    }
    let client = client_of(&actor)?;
    let number = order_number("order_number", &body.order_number)?;
    let wallets = state.wallets().clone();
    let code = match (body.pay_code.as_deref(), body.phone.as_deref(), body.sms_code.as_deref()) {
        (Some(presented), _, _) => {
            let (presented, number) = (presented.to_owned(), number.clone());
            Some(run(move || async move { wallets.pay_code_holder(client, &presented, &number).await }).await?)
        }
        (None, Some(phone), Some(sms_code)) => {
            let phone = fields::phone("phone", phone)?;
            let (sms_code, number) = (sms_code.to_owned(), number.clone());
            Some(
                run(move || async move { wallets.pay_by_phone_holder(client, phone, &sms_code, &number).await })
                    .await?,
            )
        }
        _ => None,
    };
    let request = PaymentRequest {
        client,
        order_number: number,
        member: match &code {
            Some(holder) => holder.member,
            None => payer_id(body.member_id.as_deref())?,
        },
        amount: amount("amount", &body.amount)?,
        receiver: receiver_of(
            ("receiver_account_id", body.receiver_account_id.as_deref()),
            ("receiver_platform_account", body.receiver_platform_account.as_deref()),
        )?,
        shortfall: if body.allow_split { Shortfall::PayWhatItCan } else { Shortfall::Refuse },
        mode: match (body.authorise_timeout_s, body.escrow) {
            (None, false) => PaymentMode::Immediate,
            (Some(timeout_s), false) => PaymentMode::Authorise { timeout_s },
            (None, true) => PaymentMode::Escrow,
            (Some(_), true) => {
                return Err(ApiError::new(code::INVALID_FIELD, "a payment is authorised or escrowed, not both"));
            }
        },
        pay_password: body.pay_password,
        operator: body.operator_id.as_deref().map(|o| ids::operator_id("operator_id", o)).transpose()?,
        store: body.store_id.as_deref().map(|s| ids::store_id("store_id", s)).transpose()?,
        terminal: body.terminal_id.as_deref().map(|t| ids::terminal_id("terminal_id", t)).transpose()?,
        family_card,
    };
    // A client bound to a member identifies a payer at its counter (pay code, phone) only to be paid
    // itself: into its member's account. Any other receiver is as if absent to it.
    if let (Some(bound), Some(_)) = (bound, &code) {
        let own = match request.receiver {
            Receiver::Account(account) => state.parties.owning_member(MemberObject::Account(account)).await.ok(),
            Receiver::Platform(_) => None,
        };
        if own != Some(bound) {
            return Err(ApiError::refused(RECEIVER_NOT_FOUND).within("receiver_account_id"));
        }
    }
    let wallets = state.wallets().clone();
    let payment = match code {
        Some(holder) => run(move || async move { wallets.pay_by_code(&request, &holder, &actor).await }).await?,
        None => run(move || async move { wallets.pay(&request, &actor).await }).await?,
    };
    tracing::info!(order.number = %payment.order_number, member.id = %payment.member_id, amount = payment.amount, paid = payment.paid, status = ?payment.status, "payment");
    Ok((StatusCode::CREATED, Json(PaymentJson::from(&payment))))
}

/// GET /v1/payments/{number}
#[utoipa::path(
    get,
    path = "/v1/payments/{number}",
    tag = "wallet",
    operation_id = "getPayment",
    summary = "Read a payment",
    description = "With its deductions, holds and refunds.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn get_payment(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<PaymentJson>, ApiError> {
    let payment = state.wallets().get_payment(client, &number).await?;
    Ok(Json(PaymentJson::from(&payment)))
}

/// What to capture of an authorised payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CaptureRequest)]
struct CaptureBody {
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// POST /v1/payments/{number}/capture: takes `amount` of an authorised payment; the rest of its holds
/// is released.
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/capture",
    tag = "wallet",
    operation_id = "capturePayment",
    summary = "Capture an authorised payment",
    description = "Takes the amount from the holds (`capture_exceeds_holds`); the rest is released.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = CaptureBody,
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn capture(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<PaymentJson>, ApiError> {
    let body: CaptureBody = parse_body(&body)?;
    let amount = amount("amount", &body.amount)?;
    let wallets = state.wallets().clone();
    let payment = run(move || async move { wallets.capture(client, &number, amount, &actor).await }).await?;
    tracing::info!(order.number = %payment.order_number, captured = payment.paid, "payment captured");
    Ok(Json(PaymentJson::from(&payment)))
}

/// POST /v1/payments/{number}/release: releases every hold of an authorised payment.
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/release",
    tag = "wallet",
    operation_id = "releasePayment",
    summary = "Release an authorised payment",
    description = "Every hold is released; nothing is paid.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn release(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<PaymentJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let payment = run(move || async move { wallets.release(client, &number, &actor).await }).await?;
    tracing::info!(order.number = %payment.order_number, "payment released");
    Ok(Json(PaymentJson::from(&payment)))
}

/// A refund's request: the caller's refund number and the amount.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundRequest)]
struct RefundBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    refund_number: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// A split payment's refund as the caller names it: what to take back from each receiver, adding
    /// up to `amount`. Left out, it is taken in proportion to what each receiver still holds.
    #[schema(nullable = false, max_items = 10)]
    splits: Option<Vec<RefundSplitBody>>,
}

/// What a split payment's refund takes back from one receiver.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundSplit)]
struct RefundSplitBody {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(value_type = i64, minimum = 0, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// The payment a refund names, and who makes the refund. A refund takes money out of the receiver's
/// account, so it is made by the platform (an unbound client or staff, which may name any client's
/// payment with `?client_id=`) or by the receiver's side: a client bound to the receiving member,
/// which may name the payer's client's numbering with `?client_id=` to reach a payment made to it.
/// Whether the bound member is the receiver is the service's to decide (`Refunder`): the payer's side
/// is refused `refund_not_allowed`, anyone else finds no such payment. The same names the escrow
/// payment or deposit whose held money a caller sends on or back: the platform either way, the payer's
/// side forward (escrow release, deposit capture), the receiver's side back (escrow return, deposit
/// release); the other side is refused with the step's own code.
pub struct RefundOf {
    pub client: ClientId,
    pub number: OrderNumber,
    pub by: Refunder,
}

impl<S: Send + Sync> FromRequestParts<S> for RefundOf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<RefundOf, ApiError> {
        let OrderNumberPath(number) = OrderNumberPath::from_request_parts(parts, state).await?;
        let ClientActor(actor) = ClientActor::from_request_parts(parts, state).await?;
        let Binding(bound) = Binding::from_request_parts(parts, state).await?;
        let query = QueryParams::from_request_parts(parts, state).await?.only(&["client_id"])?;
        let client = match query.get("client_id") {
            None => client_of(&actor)?,
            Some(text) => ClientId::parse(text).ok_or_else(|| {
                ApiError::new(code::INVALID_ID, "client_id is not an API client id (cli_ and 26 characters)")
            })?,
        };
        let by = bound.map_or(Refunder::Platform, Refunder::Member);
        Ok(RefundOf { client, number, by })
    }
}

/// POST /v1/payments/{number}/refunds: refunds `amount` under the caller's refund number, back to the
/// accounts the money came from, by the platform or the receiver's side ([`RefundOf`]). The same
/// refund number again answers that refund as it is.
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/refunds",
    tag = "wallet",
    operation_id = "refundPayment",
    summary = "Refund a payment",
    description = "In part or in full, several times, never more than paid and not yet refunded even under concurrent refunds (`refund_exceeds_payment`); back to the accounts the money came from. The same refund number again answers that refund. A refund takes money back out of the receiver's account, so it is made by the platform (an unbound client or staff) or by the receiver's side: a client bound to the receiving member, which names the payer's client with `client_id` to reach a payment made to it. The payer's bound client is refused `refund_not_allowed` (403); a bound client that is neither payer nor receiver finds no such payment (`order_not_found`). A receiver or payer whose status blocks the money answers its own code (`customer_frozen`, `customer_stop_payment`, `account_frozen`, `account_stop_payment`).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = RefundBody,
    responses((status = 201, description = "The refund.", body = RefundJson)),
)]
pub async fn refund(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<(StatusCode, Json<RefundJson>), ApiError> {
    let body: RefundBody = parse_body(&body)?;
    let refund_number = order_number("refund_number", &body.refund_number)?;
    let amount = amount("amount", &body.amount)?;
    let named = match body.splits {
        None => None,
        Some(splits) => {
            let mut named = Vec::with_capacity(splits.len());
            for (i, split) in splits.iter().enumerate() {
                let account = ids::account_id(&format!("splits[{i}].account_id"), &split.account_id)?;
                let part = split.amount.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::new(
                        code::INVALID_FIELD,
                        format!("splits[{i}].amount is a whole number of minor units, 0 or more"),
                    )
                })?;
                named.push((account, part));
            }
            Some(named)
        }
    };
    let wallets = state.wallets().clone();
    let refund = run(move || async move {
        match named {
            None => wallets.refund_by(client, &number, &refund_number, amount, by, &actor).await,
            Some(named) => {
                wallets.refund_split_by(client, &number, &refund_number, amount, Some(named), by, &actor).await
            }
        }
    })
    .await?;
    tracing::info!(refund.number = %refund.refund_number, amount = refund.amount, status = ?refund.status, "payment refunded");
    Ok((StatusCode::CREATED, Json(RefundJson::from(&refund))))
}

/// POST /v1/payments/{number}/escrow-release: an escrowed payment becomes the receiver's available
/// money (the car was picked up); refundable from then on like a paid one.
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/escrow-release",
    tag = "wallet",
    operation_id = "releaseEscrow",
    summary = "Release an escrowed payment",
    description = "The held money becomes the receiver's available balance (the car was picked up); refundable from then on. It is decided by the platform (an unbound client or staff) or by the payer's side (the payer's bound client). The receiver's bound client, naming the payer's client with `client_id`, is refused `escrow_release_not_allowed` (403): it cannot take money the payer has not let go. A bound client that is neither payer nor receiver finds no such order (`order_not_found`).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn release_escrow(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<Json<PaymentJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let payment = run(move || async move { wallets.release_escrow_by(client, &number, by, &actor).await }).await?;
    tracing::info!(order.number = %payment.order_number, status = ?payment.status, "escrow released");
    Ok(Json(PaymentJson::from(&payment)))
}

/// POST /v1/payments/{number}/escrow-return: an escrowed payment goes back to the payer.
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/escrow-return",
    tag = "wallet",
    operation_id = "returnEscrow",
    summary = "Return an escrowed payment",
    description = "The held money goes back to the payer. It is decided by the platform (an unbound client or staff) or by the receiver's side: a client bound to the receiving member, which names the payer's client with `client_id` to reach an order made for it. The payer's bound client is refused `escrow_return_not_allowed` (403): it cannot take back money it promised. A bound client that is neither payer nor receiver finds no such order (`order_not_found`).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn return_escrow(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<Json<PaymentJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let payment = run(move || async move { wallets.return_escrow_by(client, &number, by, &actor).await }).await?;
    tracing::info!(order.number = %payment.order_number, status = ?payment.status, "escrow returned");
    Ok(Json(PaymentJson::from(&payment)))
}

/// Which receiver's escrowed share to release.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SplitReleaseRequest)]
struct SplitReleaseBody {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
}

/// POST /v1/payments/{number}/split-release: one receiver's escrowed share of a split payment becomes
/// its money (the trip ended).
#[utoipa::path(
    post,
    path = "/v1/payments/{number}/split-release",
    tag = "wallet",
    operation_id = "releaseSplit",
    summary = "Release one receiver's escrowed share",
    description = "The receiver's held share of a split payment becomes its available balance (the travel store's margin once the trip ended). Decided by the platform (an unbound client or staff) or the payer's side; the receiver's bound client is refused `escrow_release_not_allowed` (403), a bound client that is neither finds no such order (`order_not_found`). An account that is not one of the payment's receivers is `split_receiver_not_found` (404); a share paid at once is `payment_not_escrowed`; a payment to one receiver `payment_not_split`. Repeating it answers the payment as it is.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = SplitReleaseBody,
    responses((status = 200, description = "The payment.", body = PaymentJson)),
)]
pub async fn release_split(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<Json<PaymentJson>, ApiError> {
    let body: SplitReleaseBody = parse_body(&body)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let wallets = state.wallets().clone();
    let payment = run(move || async move { wallets.release_split(client, &number, account, by, &actor).await }).await?;
    tracing::info!(order.number = %payment.order_number, account.id = %account, "split share released");
    Ok(Json(PaymentJson::from(&payment)))
}
