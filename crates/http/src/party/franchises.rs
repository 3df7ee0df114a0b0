//! Franchises (002 case 08): a merchant's settings in effect and its own (set by the platform or a
//! client bound to a merchant above it), opening a member at a franchisee's counter in one step, and
//! a customer's wallets at every franchisee seen together.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::party::{
    Effective, EffectiveSettings, MerchantSettings, PartyError, SettingsChange, TierSetting,
    MERCHANT_SETTINGS_FROM_ABOVE,
};
use sanhu_service::wallet::{tiers_offered, CounterOpening};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::merchants::MerchantIdPath;
use super::{fields, run, ClientActor, MemberView};
use crate::error::{code, ApiError};
use crate::ids::CustomerIdPath;
use crate::json::parse_body;
use crate::principal::Binding;
use crate::wallet::recharges::RechargeJson;
use crate::wallet::wallets::WalletJson;
use crate::wallet::{client_of, order_number};
use crate::AppState;

/// A recharge tier: recharging `pay` (minor units) from `starts_at` until `ends_at` earns `bonus`.
#[derive(Serialize, Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RechargeTierSetting)]
pub struct TierJson {
    /// Names the tier at the counter: 1 to 32 letters, digits, `_` or `-` (the platform's tiers are
    /// `platform-1`, `platform-2`, ... in their configured order).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", examples("gold"))]
    pub code: String,
    #[schema(minimum = 1)]
    pub pay: i64,
    #[schema(minimum = 0)]
    pub bonus: i64,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub starts_at: String,
    /// RFC 3339, after `starts_at`.
    #[schema(format = DateTime)]
    pub ends_at: String,
}

impl From<&TierSetting> for TierJson {
    fn from(t: &TierSetting) -> TierJson {
        TierJson {
            code: t.code.clone(),
            pay: t.pay,
            bonus: t.bonus,
            starts_at: t.starts_at.clone(),
            ends_at: t.ends_at.clone(),
        }
    }
}

fn source<T>(effective: &Effective<T>) -> String {
    effective.source.clone().unwrap_or_else(|| "platform".to_owned())
}

/// The account types a merchant's members are offered, and where that came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveAccountTypes {
    pub value: Vec<String>,
    /// `platform`, or the id of the merchant that set it.
    pub source: String,
}

/// The recharge tiers a merchant's members recharge at, and where they came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveRechargeTiers {
    pub value: Vec<TierJson>,
    /// `platform`, or the id of the merchant that set them.
    pub source: String,
}

/// A yes-or-no setting in effect, and where it came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveFlag {
    pub value: bool,
    /// `platform`, or the id of the merchant that set it.
    pub source: String,
}

/// The wallet group in effect (null: none), and where it came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveWalletGroup {
    #[schema(required)]
    pub value: Option<String>,
    /// `platform`, or the id of the merchant that set it.
    pub source: String,
}

/// An account type in effect (null: the merchant type's first account), and where it came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveAccountType {
    #[schema(required)]
    pub value: Option<String>,
    /// `platform`, or the id of the merchant that set it.
    pub source: String,
}

/// A setting a merchant above locked.
#[derive(Serialize, Debug, ToSchema)]
pub struct LockedSetting {
    pub setting: String,
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub by: String,
}

/// What a merchant sets itself (each absent: as above it), and what it locks below.
#[derive(Serialize, Deserialize, Debug, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantOwnSettings)]
pub struct OwnSettingsJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_items = 32)]
    pub account_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_items = 20)]
    pub recharge_tiers: Option<Vec<TierJson>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sms_verification_to_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub withdrawal_allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_length = 1, max_length = 32)]
    pub wallet_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cross_wallet_top_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub clearance_account_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_items = 1, max_items = 4)]
    pub payment_methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub pay_password_free_below: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked: Vec<String>,
}

impl From<&MerchantSettings> for OwnSettingsJson {
    fn from(s: &MerchantSettings) -> OwnSettingsJson {
        OwnSettingsJson {
            account_types: s.account_types.clone(),
            recharge_tiers: s.recharge_tiers.as_ref().map(|t| t.iter().map(TierJson::from).collect()),
            sms_verification_to_open: s.sms_verification_to_open,
            withdrawal_allowed: s.withdrawal_allowed,
            wallet_group: s.wallet_group.clone(),
            cross_wallet_top_up: s.cross_wallet_top_up,
            clearance_account_type: s.clearance_account_type.clone(),
            payment_methods: s.payment_methods.clone(),
            pay_password_free_below: s.pay_password_free_below,
            locked: s.locked.clone(),
        }
    }
}

/// A merchant's settings in effect, each with where it came from.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = MerchantSettings)]
pub struct SettingsJson {
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub merchant_id: String,
    pub account_types: EffectiveAccountTypes,
    pub recharge_tiers: EffectiveRechargeTiers,
    pub sms_verification_to_open: EffectiveFlag,
    pub withdrawal_allowed: EffectiveFlag,
    pub wallet_group: EffectiveWalletGroup,
    /// Whether the merchant's members move money between their wallet here and at another merchant
    /// of the same top that allows it too.
    pub cross_wallet_top_up: EffectiveFlag,
    /// The account type of the merchant's member an offline clear of a member's wallet pays into.
    pub clearance_account_type: EffectiveAccountType,
    /// The payment methods the merchant's stores take.
    pub payment_methods: super::stores::EffectivePaymentMethods,
    /// Below this amount (minor units) no pay password is asked at the merchant's stores; at or above
    /// it, one is (null: as the platform requires).
    pub pay_password_free_below: super::stores::EffectiveThreshold,
    /// The settings merchants above locked: not set here.
    pub locked: Vec<LockedSetting>,
    pub own: OwnSettingsJson,
}

impl SettingsJson {
    fn of(state: &AppState, s: &EffectiveSettings) -> SettingsJson {
        let tiers = tiers_offered(state.wallets(), s.recharge_tiers.value.as_deref())
            .into_iter()
            .map(|(code, pay, bonus, starts, ends)| TierJson {
                code,
                pay,
                bonus,
                starts_at: starts.to_string(),
                ends_at: ends.to_string(),
            })
            .collect();
        SettingsJson {
            merchant_id: s.merchant_id.clone(),
            account_types: EffectiveAccountTypes {
                value: s.account_types.value.clone(),
                source: source(&s.account_types),
            },
            recharge_tiers: EffectiveRechargeTiers { value: tiers, source: source(&s.recharge_tiers) },
            sms_verification_to_open: EffectiveFlag {
                value: s.sms_verification_to_open.value,
                source: source(&s.sms_verification_to_open),
            },
            withdrawal_allowed: EffectiveFlag {
                value: s.withdrawal_allowed.value,
                source: source(&s.withdrawal_allowed),
            },
            wallet_group: EffectiveWalletGroup { value: s.wallet_group.value.clone(), source: source(&s.wallet_group) },
            cross_wallet_top_up: EffectiveFlag {
                value: s.cross_wallet_top_up.value,
                source: source(&s.cross_wallet_top_up),
            },
            clearance_account_type: EffectiveAccountType {
                value: s.clearance_account_type.value.clone(),
                source: source(&s.clearance_account_type),
            },
            payment_methods: super::stores::StoreSettingsInEffect::of(s).payment_methods,
            pay_password_free_below: super::stores::StoreSettingsInEffect::of(s).pay_password_free_below,
            locked: s
                .locked
                .iter()
                .map(|(setting, by)| LockedSetting { setting: setting.clone(), by: by.clone() })
                .collect(),
            own: OwnSettingsJson::from(&s.own),
        }
    }
}

/// GET /v1/merchants/{id}/settings
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/settings",
    tag = "merchants",
    operation_id = "getMerchantSettings",
    summary = "A merchant's settings in effect",
    description = "The platform's, changed by each merchant of the merchant's path from the top (unless one above \
        locked the setting), each value with where it came from (`platform` or a merchant's id); and what the \
        merchant sets itself.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The settings.", body = SettingsJson))
)]
pub async fn get_merchant_settings(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
) -> Result<Json<SettingsJson>, ApiError> {
    let settings = state.parties.effective_settings(id).await?;
    Ok(Json(SettingsJson::of(&state, &settings)))
}

/// A change of a merchant's own settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetMerchantSettingsRequest)]
struct SetSettingsBody {
    /// Account type codes, each configured.
    #[schema(nullable = false, max_items = 32)]
    account_types: Option<Vec<String>>,
    #[schema(nullable = false, max_items = 20)]
    recharge_tiers: Option<Vec<TierJson>>,
    #[schema(nullable = false)]
    sms_verification_to_open: Option<bool>,
    #[schema(nullable = false)]
    withdrawal_allowed: Option<bool>,
    /// Merchants under one top whose settings name one group share their members' wallets.
    #[schema(nullable = false, min_length = 1, max_length = 32)]
    wallet_group: Option<String>,
    /// Whether members move money between their wallet here and at another merchant of the same top
    /// that allows it too (`POST /v1/wallet-top-ups`).
    #[schema(nullable = false)]
    cross_wallet_top_up: Option<bool>,
    /// A configured account type: the merchant's member's account of this type receives what an
    /// offline clear of a member's wallet takes (unset: the merchant type's first account).
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,32}$")]
    clearance_account_type: Option<String>,
    /// The payment methods taken at the merchant's stores: 1 to 4 distinct of `pay_code`, `phone_sms`,
    /// `card` and `balance` (a store may set its own, unless locked).
    #[schema(nullable = false, min_items = 1, max_items = 4)]
    payment_methods: Option<Vec<String>>,
    /// Below this amount (minor units) no pay password is asked at the merchant's stores; at or above
    /// it, one is.
    #[schema(nullable = false, minimum = 0)]
    pay_password_free_below: Option<i64>,
    /// Settings given back to what is above.
    #[schema(nullable = false, max_items = 9)]
    unset: Option<Vec<String>>,
    /// The settings this merchant locks for every merchant below it and its stores (replacing what it
    /// locked).
    #[schema(nullable = false, max_items = 9)]
    locked: Option<Vec<String>>,
}

/// POST /v1/merchants/{id}/settings
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settings",
    tag = "merchants",
    operation_id = "setMerchantSettings",
    summary = "Set a merchant's own settings",
    description = "The platform's or a client bound to a merchant above it (another is 403 \
        `merchant_settings_from_above`); a staff member's waits for a second one. A setting a merchant above locked \
        is 422 `merchant_setting_locked`; a value that does not hold, `merchant_setting_invalid`.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = SetSettingsBody,
    responses((status = 200, description = "The settings now in effect.", body = SettingsJson))
)]
pub async fn set_merchant_settings(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Binding(bound): Binding,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<SettingsJson>, ApiError> {
    let body: SetSettingsBody = parse_body(&body)?;
    if let Some(bound) = bound {
        if !state.parties.runs_above(bound, id).await? {
            return Err(PartyError::Rejected(MERCHANT_SETTINGS_FROM_ABOVE).into());
        }
    }
    let tiers = body.recharge_tiers.map(|tiers| {
        tiers
            .into_iter()
            .map(|t| TierSetting {
                code: t.code,
                pay: t.pay,
                bonus: t.bonus,
                starts_at: t.starts_at,
                ends_at: t.ends_at,
            })
            .collect()
    });
    let change = SettingsChange {
        set: MerchantSettings {
            account_types: body.account_types,
            recharge_tiers: tiers,
            sms_verification_to_open: body.sms_verification_to_open,
            withdrawal_allowed: body.withdrawal_allowed,
            wallet_group: body.wallet_group,
            cross_wallet_top_up: body.cross_wallet_top_up,
            clearance_account_type: body.clearance_account_type,
            payment_methods: body.payment_methods,
            pay_password_free_below: body.pay_password_free_below,
            locked: Vec::new(),
        },
        unset: body.unset.unwrap_or_default(),
        locked: body.locked,
    };
    let parties = state.parties.clone();
    let settings =
        run(move || async move { parties.set_merchant_settings(id, &change, bound.is_none(), &actor).await }).await?;
    tracing::info!(merchant.id = %id, "merchant settings set");
    Ok(Json(SettingsJson::of(&state, &settings)))
}

/// Opening a member at a franchisee's counter.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CounterOpeningRequest)]
struct CounterOpeningBody {
    /// A mainland mobile (11 digits, read as +86) or +country and number.
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: String,
    /// The member's name or nickname, as the franchisee knows it.
    #[schema(nullable = false, min_length = 1, max_length = 40)]
    name: Option<String>,
    /// The code of the recharge tier chosen, among the merchant's in effect.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", examples("gold"))]
    tier: String,
    /// The payment channel the member pays the tier through.
    #[schema(pattern = "^[a-z0-9_-]{1,32}$", examples("wechat"))]
    channel: String,
    /// The recharge order's number: 1 to 64 printable ASCII characters.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    /// The code sent to the phone for `register`, where the merchant requires it to open a member.
    #[schema(nullable = false, pattern = "^[0-9]{4,8}$")]
    sms_code: Option<String>,
}

/// What an opening did.
#[derive(Serialize, ToSchema)]
#[schema(as = CounterOpened)]
pub struct CounterOpenedJson {
    member: MemberView,
    /// Whether the member was registered now (false: found at the merchant by its phone).
    registered: bool,
    recharge: RechargeJson,
}

/// POST /v1/merchants/{id}/counter-openings
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/counter-openings",
    tag = "merchants",
    operation_id = "openAtCounter",
    summary = "Open a member at a counter in one step",
    description = "Finds the merchant's member its phone names, or registers one for the merchant (with the phone's \
        `register` SMS code where the merchant's settings require it: `sms_verification_required`), activates it, and \
        creates the recharge order of the chosen tier (`recharge_tier_unavailable` for a code not offered now). Each \
        step finds what a first run did: a retry, or one under the same Idempotency-Key, opens nothing twice.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = CounterOpeningBody,
    responses((status = 201, description = "The member and its recharge order.", body = CounterOpenedJson))
)]
pub async fn open_at_counter(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Binding(bound): Binding,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<CounterOpenedJson>), ApiError> {
    let body: CounterOpeningBody = parse_body(&body)?;
    let opening = CounterOpening {
        client: client_of(&actor)?,
        merchant: id,
        phone: fields::phone("phone", &body.phone)?,
        name: body.name.map(|n| member_name("name", n)).transpose()?,
        tier: body.tier,
        channel: body.channel,
        order_number: order_number("order_number", &body.order_number)?,
        sms_code: body.sms_code,
        trusted: bound.is_none(),
    };
    let wallets = state.wallets().clone();
    let opened = run(move || async move { wallets.open_at_counter(&opening, &actor).await }).await?;
    tracing::info!(merchant.id = %id, member.id = %opened.member.member.id(), registered = opened.registered, "member opened at the counter");
    let view = CounterOpenedJson {
        member: MemberView::from(&opened.member),
        registered: opened.registered,
        recharge: RechargeJson::from(&opened.recharge),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// A name a merchant knows a member by: 1 to 40 characters, no control characters.
pub fn member_name(field: &str, name: String) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 40 || trimmed.chars().any(char::is_control) {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            format!("{field}: 1 to 40 characters, none a control character"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A customer's wallets at every merchant, and their total.
#[derive(Serialize, ToSchema)]
#[schema(as = CustomerWallets)]
pub struct CustomerWalletsJson {
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    customer_id: String,
    /// One per member, in member id order.
    data: Vec<CustomerWalletJson>,
    /// The wallets' balances summed.
    balance: i64,
    /// The wallets' available amounts summed.
    available: i64,
}

/// One member's wallet, with the merchant it is spent at.
#[derive(Serialize, ToSchema)]
pub struct CustomerWalletJson {
    /// The merchant the member was registered for; null for a member of the platform.
    #[schema(required, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
    wallet: WalletJson,
}

/// GET /v1/customers/{id}/wallets
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/wallets",
    tag = "wallet",
    operation_id = "listCustomerWallets",
    summary = "A customer's wallets at every merchant",
    description = "Each of the customer's members' wallets (a member of several franchisees has one at each), with \
        the total. A client bound to a member sees the wallets of the members it reaches (a brand's: those of its \
        franchisees' members); one that reaches none is answered `customer_not_found`.",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The wallets.", body = CustomerWalletsJson))
)]
pub async fn customer_wallets(
    State(state): State<AppState>,
    Binding(bound): Binding,
    CustomerIdPath(id): CustomerIdPath,
) -> Result<Json<CustomerWalletsJson>, ApiError> {
    let wallets = state.wallets().customer_wallets(id, bound).await?;
    if bound.is_some() && wallets.is_empty() {
        return Err(PartyError::NotFound(sanhu_service::party::CUSTOMER_NOT_FOUND).into());
    }
    let mut data = Vec::with_capacity(wallets.len());
    let (mut balance, mut available) = (0i64, 0i64);
    for wallet in &wallets {
        balance = balance.checked_add(wallet.view.balance).ok_or_else(overflow)?;
        available = available.checked_add(wallet.view.available).ok_or_else(overflow)?;
        data.push(CustomerWalletJson {
            merchant_id: wallet.member.scope.as_ref().map(|s| s.merchant_id.clone()),
            wallet: WalletJson::of(wallet.member.member.id().to_string(), &wallet.view),
        });
    }
    Ok(Json(CustomerWalletsJson { customer_id: id.to_string(), data, balance, available }))
}

fn overflow() -> ApiError {
    ApiError::internal(anyhow::anyhow!("a customer's wallets sum past i64"))
}
