//! Franchises (002 case 08: a brand whose franchisees each run their own stored value): members
//! registered for one merchant, and each merchant's settings inherited down the hierarchy.
//!
//! **Members of a merchant.** A member registered for a merchant (a brand or a franchisee) is that
//! merchant's: the clients that reach the merchant reach it ([`Parties::reaches`]), and its wallet is
//! spent within the merchant's subtree, or among the merchants of the wallet group its brand
//! configured ([`Parties::spends_at`]). Its login identity is unique at its merchant, not in the whole
//! platform: one person is a member of several franchisees, each with a wallet of its own, all under
//! one customer (found by the phone: a platform member's, or a customer an earlier franchisee's
//! registration created).
//!
//! **Settings.** A merchant's settings are the platform's, changed where a merchant on its path (the
//! top first) sets its own value; a merchant may lock a setting for every merchant below it. They are
//! resolved in one place, [`Parties::effective_settings`], which reads the settings of the merchant's
//! path in one read and says of each value where it came from.

use std::collections::BTreeMap;

use sanhu_core::id::{CustomerId, MemberId, MerchantId};
use sanhu_core::party::store::{self, PaymentMethod};
use sanhu_core::party::{Actor, Customer, LoginIdentity, Member};
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::{load_customer, StoredCustomer};
use super::documents::{MemberScope, StoredMember};
use super::error::{PartyError, Rejection, MERCHANT_NOT_FOUND};
use super::members::{load_member, RegisteredMember, Registration};
use super::merchants::{load_merchant, StoredMerchant, MERCHANTS_OF_MEMBER};
use super::work::{Work, IDENTITY_KEY, MEMBERS_OF_CUSTOMER};
use super::Parties;
use crate::clock;
use crate::wallet::records::{json_document, time_ns};

/// A member's login identity at its merchant: `{merchant}|{identity}` → member.
pub(crate) const MERCHANT_IDENTITY_KEY: &str = "merchant_identity";
/// The customer a phone registered at a merchant made: `{phone identity}` → customer.
pub(crate) const CUSTOMER_PHONE_KEY: &str = "customer_phone";
/// A merchant's members: merchant → member.
pub(crate) const MEMBERS_OF_MERCHANT: &str = "merchant_members";

/// The settings a merchant may set, by name.
pub const SETTING_NAMES: [&str; 9] = [
    "account_types",
    "recharge_tiers",
    "sms_verification_to_open",
    "withdrawal_allowed",
    "wallet_group",
    "cross_wallet_top_up",
    "clearance_account_type",
    "payment_methods",
    "pay_password_free_below",
];
/// The settings a store sets over its merchant's.
pub const STORE_SETTING_NAMES: [&str; 2] = ["payment_methods", "pay_password_free_below"];
/// At most this many of a customer's members are read for its wallets.
pub const CUSTOMER_MEMBERS_MAX: u32 = 100;
/// At most this many recharge tiers per merchant.
pub const TIERS_MAX: usize = 20;

pub const MERCHANT_SETTING_INVALID: Rejection = Rejection {
    code: "merchant_setting_invalid",
    status: 422,
    message:
        "a setting's value is not valid (an unknown account type or setting, a malformed tier, a repeated tier code)",
};
pub const MERCHANT_SETTING_LOCKED: Rejection = Rejection {
    code: "merchant_setting_locked",
    status: 422,
    message: "a merchant above this one locked the setting: it is not overridden below",
};
pub const ACCOUNT_TYPE_NOT_OFFERED: Rejection = Rejection {
    code: "account_type_not_offered",
    status: 422,
    message: "the member's merchant does not offer this account type",
};
pub const MERCHANT_SETTINGS_FROM_ABOVE: Rejection = Rejection {
    code: "merchant_settings_from_above",
    status: 403,
    message: "a merchant's settings are set by the platform or by a client bound to a merchant above it",
};
pub const MERCHANT_MEMBER_IDENTITIES_FIXED: Rejection = Rejection {
    code: "merchant_member_identities_fixed",
    status: 422,
    message: "a merchant's member keeps the identity it was registered with at its merchant; register another member for a new one",
};
pub const MERCHANT_TIER_BONUS_PLATFORM_ONLY: Rejection = Rejection {
    code: "merchant_tier_bonus_platform_only",
    status: 403,
    message: "a recharge tier's bonus is paid from the platform's marketing expense: tiers with a bonus are set by the platform only",
};
pub const SMS_VERIFICATION_REQUIRED_TO_REGISTER: Rejection = Rejection {
    code: "merchant_requires_counter_opening",
    status: 422,
    message: "the merchant's settings require the phone's SMS code to open a member: open it at the counter (counter-openings) with sms_code",
};

/// A recharge tier as a merchant sets it: recharging `pay` (minor units) from `starts_at` until
/// `ends_at` (RFC 3339) earns `bonus`; `code` names it at the counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSetting {
    pub code: String,
    pub pay: i64,
    pub bonus: i64,
    pub starts_at: String,
    pub ends_at: String,
}

impl TierSetting {
    /// Its validity window.
    pub fn window(&self) -> Option<(Timestamp, Timestamp)> {
        Some((Timestamp::parse_rfc3339(&self.starts_at)?, Timestamp::parse_rfc3339(&self.ends_at)?))
    }
}

/// The values one merchant sets (each `None`: as above it), and the settings it locks for the
/// merchants below it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recharge_tiers: Option<Vec<TierSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_verification_to_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_group: Option<String>,
    /// Whether a member of this merchant moves money between its wallet here and its wallet at another
    /// merchant under the same top that allows it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_wallet_top_up: Option<bool>,
    /// The account type of the merchant's member that an offline clear of a member's wallet pays
    /// into (unset: the merchant type's first account, its receipts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearance_account_type: Option<String>,
    /// The payment methods taken at the merchant's stores (`pay_code`, `phone_sms`, `card`, `balance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_methods: Option<Vec<String>>,
    /// Below this amount (minor units) no pay password is asked at the merchant's stores; at or above
    /// it, one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_password_free_below: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked: Vec<String>,
}

impl MerchantSettings {
    fn sets(&self, name: &str) -> bool {
        match name {
            "account_types" => self.account_types.is_some(),
            "recharge_tiers" => self.recharge_tiers.is_some(),
            "sms_verification_to_open" => self.sms_verification_to_open.is_some(),
            "withdrawal_allowed" => self.withdrawal_allowed.is_some(),
            "wallet_group" => self.wallet_group.is_some(),
            "cross_wallet_top_up" => self.cross_wallet_top_up.is_some(),
            "clearance_account_type" => self.clearance_account_type.is_some(),
            "payment_methods" => self.payment_methods.is_some(),
            "pay_password_free_below" => self.pay_password_free_below.is_some(),
            _ => false,
        }
    }

    fn unset(&mut self, name: &str) {
        match name {
            "account_types" => self.account_types = None,
            "recharge_tiers" => self.recharge_tiers = None,
            "sms_verification_to_open" => self.sms_verification_to_open = None,
            "withdrawal_allowed" => self.withdrawal_allowed = None,
            "wallet_group" => self.wallet_group = None,
            "cross_wallet_top_up" => self.cross_wallet_top_up = None,
            "clearance_account_type" => self.clearance_account_type = None,
            "payment_methods" => self.payment_methods = None,
            "pay_password_free_below" => self.pay_password_free_below = None,
            _ => {}
        }
    }
}

/// What a store sets over its merchant's settings (each `None`: as its merchant's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_password_free_below: Option<i64>,
}

impl StoreSettings {
    pub(crate) fn sets(&self, name: &str) -> bool {
        match name {
            "payment_methods" => self.payment_methods.is_some(),
            "pay_password_free_below" => self.pay_password_free_below.is_some(),
            _ => false,
        }
    }

    pub(crate) fn unset(&mut self, name: &str) {
        match name {
            "payment_methods" => self.payment_methods = None,
            "pay_password_free_below" => self.pay_password_free_below = None,
            _ => {}
        }
    }
}

/// A change of one merchant's settings: values to set, settings to give back to what is above, and
/// (when given) the settings it locks from now on.
#[derive(Clone, Debug, Default)]
pub struct SettingsChange {
    pub set: MerchantSettings,
    pub unset: Vec<String>,
    pub locked: Option<Vec<String>>,
}

/// One merchant's settings as stored: `merchant_settings:{merchant}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredSettings {
    id: String,
    customer_id: String,
    merchant_id: String,
    settings: MerchantSettings,
    #[serde(with = "time_ns")]
    updated_at: Timestamp,
}
json_document!(StoredSettings, "merchant_settings");

fn settings_id(merchant: &str) -> String {
    format!("merchant_settings:{merchant}")
}

/// A setting's value in effect, and the merchant that set it (`None`: the platform's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective<T> {
    pub value: T,
    pub source: Option<String>,
}

impl<T> Effective<T> {
    fn platform(value: T) -> Effective<T> {
        Effective { value, source: None }
    }
}

/// A merchant's settings in effect.
#[derive(Clone, Debug)]
pub struct EffectiveSettings {
    pub merchant_id: String,
    /// The top of its path (itself, at the top): wallet groups do not reach past it.
    pub top: String,
    pub account_types: Effective<Vec<String>>,
    /// `None`: the platform's configured tiers.
    pub recharge_tiers: Effective<Option<Vec<TierSetting>>>,
    pub sms_verification_to_open: Effective<bool>,
    pub withdrawal_allowed: Effective<bool>,
    pub wallet_group: Effective<Option<String>>,
    pub cross_wallet_top_up: Effective<bool>,
    /// `None`: the merchant type's first account.
    pub clearance_account_type: Effective<Option<String>>,
    /// The payment methods taken (the platform: every one).
    pub payment_methods: Effective<Vec<String>>,
    /// Below this amount no pay password is asked (`None`: as the platform requires).
    pub pay_password_free_below: Effective<Option<i64>>,
    /// The settings locked for the merchants below a merchant of the path, and by which.
    pub locked: BTreeMap<String, String>,
    /// What the merchant itself sets.
    pub own: MerchantSettings,
}

impl Parties {
    /// The one resolution of a merchant's settings: the platform's, then each merchant of its path
    /// from the top, a value set lower replacing one set higher unless a merchant between locked it.
    pub async fn effective_settings(&self, merchant: MerchantId) -> Result<EffectiveSettings, PartyError> {
        let mut work = self.reader();
        let merchant = load_merchant(&mut work, merchant).await?;
        self.settings_of(&mut work, &merchant).await
    }

    pub(crate) async fn settings_of(
        &self,
        work: &mut Work,
        merchant: &StoredMerchant,
    ) -> Result<EffectiveSettings, PartyError> {
        let path: Vec<String> = merchant.ancestors.iter().cloned().chain([merchant.id.clone()]).collect();
        let ids: Vec<String> = path.iter().map(|m| settings_id(m)).collect();
        let stored: Vec<StoredSettings> = work.get_many(&ids).await?;
        let mut effective = EffectiveSettings {
            merchant_id: merchant.id.clone(),
            top: path[0].clone(),
            account_types: Effective::platform(
                self.config.account_types.iter().map(|t| t.code().as_str().to_owned()).collect(),
            ),
            recharge_tiers: Effective::platform(None),
            sms_verification_to_open: Effective::platform(false),
            withdrawal_allowed: Effective::platform(true),
            wallet_group: Effective::platform(None),
            cross_wallet_top_up: Effective::platform(false),
            clearance_account_type: Effective::platform(None),
            payment_methods: Effective::platform(PaymentMethod::ALL.iter().map(|m| m.as_str().to_owned()).collect()),
            pay_password_free_below: Effective::platform(None),
            locked: BTreeMap::new(),
            own: MerchantSettings::default(),
        };
        for at in &path {
            let Some(settings) = stored.iter().find(|s| &s.merchant_id == at).map(|s| &s.settings) else { continue };
            let open = |name: &str, locked: &BTreeMap<String, String>| !locked.contains_key(name);
            let source = Some(at.clone());
            if let (Some(value), true) = (&settings.account_types, open("account_types", &effective.locked)) {
                effective.account_types = Effective { value: value.clone(), source: source.clone() };
            }
            if let (Some(value), true) = (&settings.recharge_tiers, open("recharge_tiers", &effective.locked)) {
                effective.recharge_tiers = Effective { value: Some(value.clone()), source: source.clone() };
            }
            if let (Some(value), true) =
                (settings.sms_verification_to_open, open("sms_verification_to_open", &effective.locked))
            {
                effective.sms_verification_to_open = Effective { value, source: source.clone() };
            }
            if let (Some(value), true) = (settings.withdrawal_allowed, open("withdrawal_allowed", &effective.locked)) {
                effective.withdrawal_allowed = Effective { value, source: source.clone() };
            }
            if let (Some(value), true) = (&settings.wallet_group, open("wallet_group", &effective.locked)) {
                effective.wallet_group = Effective { value: Some(value.clone()), source: source.clone() };
            }
            if let (Some(value), true) = (settings.cross_wallet_top_up, open("cross_wallet_top_up", &effective.locked))
            {
                effective.cross_wallet_top_up = Effective { value, source: source.clone() };
            }
            if let (Some(value), true) =
                (&settings.clearance_account_type, open("clearance_account_type", &effective.locked))
            {
                effective.clearance_account_type = Effective { value: Some(value.clone()), source: source.clone() };
            }
            if let (Some(value), true) = (&settings.payment_methods, open("payment_methods", &effective.locked)) {
                effective.payment_methods = Effective { value: value.clone(), source: source.clone() };
            }
            if let (Some(value), true) =
                (settings.pay_password_free_below, open("pay_password_free_below", &effective.locked))
            {
                effective.pay_password_free_below = Effective { value: Some(value), source: source.clone() };
            }

            if at == &merchant.id {
                effective.own = settings.clone();
            } else {
                for name in &settings.locked {
                    effective.locked.entry(name.clone()).or_insert_with(|| at.clone());
                }
            }
        }
        Ok(effective)
    }

    /// The settings in effect at a store: its merchant's (`merchant`, as [`Parties::settings_of`]
    /// resolved them), with what the store sets over them, unless the merchant or one above it locked
    /// the setting (the store's value then stands for nothing). The source of a store's value is the
    /// store's id.
    pub(crate) fn settings_at_store(
        merchant: &EffectiveSettings,
        store: &super::stores::StoredStore,
    ) -> EffectiveSettings {
        let mut effective = merchant.clone();
        let open = |name: &str| !merchant.locked.contains_key(name) && !merchant.own.locked.iter().any(|l| l == name);
        let source = Some(store.id.clone());
        if let (Some(value), true) = (&store.settings.payment_methods, open("payment_methods")) {
            effective.payment_methods = Effective { value: value.clone(), source: source.clone() };
        }
        if let (Some(value), true) = (store.settings.pay_password_free_below, open("pay_password_free_below")) {
            effective.pay_password_free_below = Effective { value: Some(value), source };
        }
        effective
    }

    /// Changes a merchant's own settings. A setting a merchant above it locked is not set or unset
    /// here (`merchant_setting_locked`); who may change them is the caller's check (the platform, or
    /// a client bound to a merchant above: [`Parties::runs_above`]). Kept in the merchant's history.
    pub async fn set_merchant_settings(
        &self,
        merchant: MerchantId,
        change: &SettingsChange,
        by_platform: bool,
        actor: &Actor,
    ) -> Result<EffectiveSettings, PartyError> {
        self.check_settings(change)?;
        // A tier's bonus is paid from the platform's marketing expense: the platform alone grants one.
        let grants_bonus = change.set.recharge_tiers.as_ref().is_some_and(|tiers| tiers.iter().any(|t| t.bonus > 0));
        if grants_bonus && !by_platform {
            return Err(PartyError::Rejected(MERCHANT_TIER_BONUS_PLATFORM_ONLY));
        }
        transact!(self, |work| {
            let stored_merchant = load_merchant(work, merchant).await?;
            let effective = self.settings_of(work, &stored_merchant).await?;
            let touched: Vec<&str> = SETTING_NAMES
                .iter()
                .copied()
                .filter(|name| change.set.sets(name) || change.unset.iter().any(|u| u == name))
                .collect();
            if touched.iter().any(|name| effective.locked.contains_key(*name)) {
                return Err(PartyError::Rejected(MERCHANT_SETTING_LOCKED));
            }
            let id = settings_id(&stored_merchant.id);
            let mut settings = work.get::<StoredSettings>(&id).await?.map(|s| s.settings).unwrap_or_default();
            for name in &change.unset {
                settings.unset(name);
            }
            let set = &change.set;
            settings.account_types = set.account_types.clone().or(settings.account_types);
            settings.recharge_tiers = set.recharge_tiers.clone().or(settings.recharge_tiers);
            settings.sms_verification_to_open = set.sms_verification_to_open.or(settings.sms_verification_to_open);
            settings.withdrawal_allowed = set.withdrawal_allowed.or(settings.withdrawal_allowed);
            settings.wallet_group = set.wallet_group.clone().or(settings.wallet_group);
            settings.cross_wallet_top_up = set.cross_wallet_top_up.or(settings.cross_wallet_top_up);
            settings.clearance_account_type = set.clearance_account_type.clone().or(settings.clearance_account_type);
            settings.payment_methods = set.payment_methods.clone().or(settings.payment_methods);
            settings.pay_password_free_below = set.pay_password_free_below.or(settings.pay_password_free_below);
            if let Some(locked) = &change.locked {
                settings.locked = locked.clone();
                settings.locked.sort();
                settings.locked.dedup();
            }
            work.put(&StoredSettings {
                id,
                customer_id: stored_merchant.customer_id.clone(),
                merchant_id: stored_merchant.id.clone(),
                settings,
                updated_at: work.now,
            });
            let detail = json!({ "set": touched.iter().filter(|n| set.sets(n)).collect::<Vec<_>>(),
                                 "unset": change.unset, "locked": change.locked });
            work.history(
                &stored_merchant.id,
                &stored_merchant.customer_id,
                "merchant.settings_changed",
                actor,
                None,
                detail,
            );
            Ok(())
        })?;
        self.effective_settings(merchant).await
    }

    fn check_settings(&self, change: &SettingsChange) -> Result<(), PartyError> {
        let invalid = || PartyError::Rejected(MERCHANT_SETTING_INVALID);
        let names = change.unset.iter().chain(change.locked.iter().flatten());
        if names.clone().any(|n| !SETTING_NAMES.contains(&n.as_str())) || change.unset.len() > SETTING_NAMES.len() {
            return Err(invalid());
        }
        if change.locked.as_ref().is_some_and(|l| l.len() > SETTING_NAMES.len() * 2) {
            return Err(invalid());
        }
        if let Some(types) = &change.set.account_types {
            let known = |code: &String| self.config.account_types.iter().any(|t| t.code().as_str() == code);
            if types.is_empty() || types.len() > 32 || !types.iter().all(known) {
                return Err(invalid());
            }
        }
        if let Some(tiers) = &change.set.recharge_tiers {
            if tiers.len() > TIERS_MAX {
                return Err(invalid());
            }
            for (i, tier) in tiers.iter().enumerate() {
                let code_ok = !tier.code.is_empty()
                    && tier.code.len() <= 32
                    && tier.code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let (starts, ends) = tier.window().ok_or_else(invalid)?;
                let well_formed = sanhu_core::wallet::RechargeTier::new(tier.pay, tier.bonus, starts, ends).is_ok()
                    && tier.bonus <= tier.pay;
                if !code_ok || !well_formed || tiers[..i].iter().any(|t| t.code == tier.code) {
                    return Err(invalid());
                }
            }
        }
        if let Some(code) = &change.set.clearance_account_type {
            if !self.config.account_types.iter().any(|t| t.code().as_str() == code) {
                return Err(invalid());
            }
        }
        if let Some(methods) = &change.set.payment_methods {
            store::check_methods(methods).map_err(|_| invalid())?;
        }
        if let Some(threshold) = change.set.pay_password_free_below {
            store::check_threshold(threshold).map_err(|_| invalid())?;
        }
        if let Some(group) = &change.set.wallet_group {
            if group.is_empty() || group.chars().count() > 32 || group.chars().any(char::is_control) {
                return Err(invalid());
            }
        }
        Ok(())
    }

    /// Registers a member for a merchant, or finds the one its identity already names there
    /// (answered with `false`). A new member is inactive, under the customer its phone names (a
    /// platform member's, or one an earlier registration at any merchant created) when the phone is
    /// proven or the platform registers it (`trusted`), else under a new one. `phone_verified`: the
    /// caller (the counter) checked the merchant's SMS requirement itself.
    pub async fn register_member_for(
        &self,
        merchant: MerchantId,
        registration: &Registration,
        name: Option<String>,
        phone_verified: bool,
        trusted: bool,
        actor: &Actor,
    ) -> Result<(RegisteredMember, bool), PartyError> {
        transact!(self, |work| {
            let stored_merchant = load_merchant(work, merchant).await?;
            let identity = registration.identity.uniqueness_key();
            let key = format!("{}|{identity}", stored_merchant.id);
            if let Some(owner) = work.key_owner(MERCHANT_IDENTITY_KEY, &key).await? {
                let member_id = MemberId::parse(&owner).ok_or(PartyError::NotFound(super::error::MEMBER_NOT_FOUND))?;
                let member = load_member(work, member_id).await?;
                let customer = load_customer(work, member.member.customer()).await?;
                return Ok((RegisteredMember { customer, member }, false));
            }
            // Where the merchant requires the phone's code to open a member, it is opened at the
            // counter with the code, never around it.
            if !phone_verified && self.settings_of(work, &stored_merchant).await?.sms_verification_to_open.value {
                return Err(PartyError::Rejected(SMS_VERIFICATION_REQUIRED_TO_REGISTER));
            }
            let phone = matches!(registration.identity, LoginIdentity::Phone(_));
            let mut customer: Option<StoredCustomer> = None;
            // A merchant's client joins the member to a customer known elsewhere only with the
            // phone proven; otherwise it is a customer of its own, for staff to merge once known.
            if phone && trusted {
                if let Some(owner) = work.key_owner(IDENTITY_KEY, &identity).await? {
                    if let Some(platform_member) = MemberId::parse(&owner) {
                        let platform_member = load_member(work, platform_member).await?;
                        customer = Some(load_customer(work, platform_member.member.customer()).await?);
                    }
                } else if let Some(owner) = work.key_owner(CUSTOMER_PHONE_KEY, &identity).await? {
                    if let Some(id) = CustomerId::parse(&owner) {
                        customer = Some(load_customer(work, id).await?);
                    }
                }
            }
            let customer = match customer {
                Some(customer) => customer,
                None => {
                    let customer = Customer::register(clock::new_id(), registration.kind, registration.scope, work.now);
                    let customer = StoredCustomer { customer, name: None };
                    let customer_id = customer.customer.id().to_string();
                    work.put(&customer);
                    if phone && work.key_owner(CUSTOMER_PHONE_KEY, &identity).await?.is_none() {
                        work.claim(CUSTOMER_PHONE_KEY, &identity, &customer_id);
                    }
                    let detail = json!({ "kind": registration.kind.as_str(), "scope": registration.scope.as_str(),
                                         "merchant": stored_merchant.id });
                    work.history(&customer_id, &customer_id, "customer.registered", actor, None, detail);
                    customer
                }
            };
            let member = Member::register(clock::new_id(), &customer.customer, registration.kind, work.now)?;
            let scope = MemberScope { merchant_id: stored_merchant.id.clone(), name: name.clone() };
            let member = StoredMember { member, identities: vec![registration.identity.clone()], scope: Some(scope) };
            let customer_id = customer.customer.id().to_string();
            let member_id = member.member.id().to_string();
            work.put(&member);
            work.claim(MERCHANT_IDENTITY_KEY, &key, &member_id);
            work.index(MEMBERS_OF_CUSTOMER, &customer_id, &member_id);
            work.index(MEMBERS_OF_MERCHANT, &stored_merchant.id, &member_id);
            let detail = json!({ "identity": registration.identity.kind(), "status": "inactive",
                                 "merchant": stored_merchant.id });
            work.history(&member_id, &customer_id, "member.registered", actor, None, detail);
            Ok((RegisteredMember { customer, member }, true))
        })
    }

    /// The member `identity` names at a merchant, if any.
    pub async fn member_at_merchant(
        &self,
        merchant: MerchantId,
        identity: &LoginIdentity,
    ) -> Result<Option<MemberId>, PartyError> {
        let key = format!("{merchant}|{}", identity.uniqueness_key());
        let owner = self.reader().key_owner(MERCHANT_IDENTITY_KEY, &key).await?;
        Ok(owner.as_deref().and_then(MemberId::parse))
    }

    /// Refuses an account type the member's merchant does not offer (`account_type_not_offered`); a
    /// member of the platform is offered every type.
    pub async fn check_account_type_offered(&self, member: MemberId, code: &str) -> Result<(), PartyError> {
        let mut work = self.reader();
        let stored = load_member(&mut work, member).await?;
        let Some(scope) = &stored.scope else { return Ok(()) };
        let merchant = load_scope_merchant(&mut work, scope).await?;
        let settings = self.settings_of(&mut work, &merchant).await?;
        if settings.account_types.value.iter().any(|t| t == code) {
            Ok(())
        } else {
            Err(PartyError::Rejected(ACCOUNT_TYPE_NOT_OFFERED))
        }
    }

    /// The settings in effect for a member: its merchant's, or `None` for a member of the platform.
    pub async fn member_settings(&self, member: &StoredMember) -> Result<Option<EffectiveSettings>, PartyError> {
        let Some(scope) = &member.scope else { return Ok(None) };
        let mut work = self.reader();
        let merchant = load_scope_merchant(&mut work, scope).await?;
        Ok(Some(self.settings_of(&mut work, &merchant).await?))
    }

    /// The members of one customer, in id order, at most [`CUSTOMER_MEMBERS_MAX`].
    pub async fn members_of_customer(&self, customer: CustomerId) -> Result<Vec<StoredMember>, PartyError> {
        use sanhu_store::party::PartyStore;
        let mut work = self.reader();
        load_customer(&mut work, customer).await?;
        let ids = self.store.party_index(MEMBERS_OF_CUSTOMER, &customer.to_string(), CUSTOMER_MEMBERS_MAX).await?;
        let mut members: Vec<StoredMember> = work.get_many(&ids).await?;
        members.sort_by_key(|m| m.member.id());
        Ok(members)
    }
}

pub(crate) async fn load_scope_merchant(work: &mut Work, scope: &MemberScope) -> Result<StoredMerchant, PartyError> {
    let id = MerchantId::parse(&scope.merchant_id).ok_or(PartyError::NotFound(MERCHANT_NOT_FOUND))?;
    Ok(load_merchant(work, id).await?)
}

/// The merchants a member runs.
pub(crate) async fn merchants_run_by(work: &mut Work, member: MemberId) -> Result<Vec<StoredMerchant>, PartyError> {
    Ok(work.indexed(MERCHANTS_OF_MEMBER, &member.to_string()).await?)
}
