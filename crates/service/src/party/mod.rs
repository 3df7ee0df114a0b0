//! The three-party model's use cases (三户模型): customers, members, their accounts, and what hangs on
//! them, on top of the rules in `sanhu_core::party` and the records of `sanhu_store::party`.
//!
//! Every use case has the same shape: read what the rule needs, let core decide, and write everything
//! the decision changes (records, unique keys, lookups, history, ledger accounts and their flags) in
//! one store transaction ([`work::Work`]). Writes are optimistic: if a record changed or a key was
//! taken between the read and the write, nothing is written and the use case runs again from the
//! start, so every decision is made on what is current. The rules themselves never see the store.

#[macro_use]
pub(crate) mod work;

pub(crate) mod accounts;
mod authentications;
mod bank_cards;
pub(crate) mod customers;
mod data_key;
pub(crate) mod documents;
mod enterprises;
pub(crate) mod error;
pub(crate) mod franchise;
pub(crate) mod hierarchy;
mod identities;
pub(crate) mod members;
pub(crate) mod merchants;
pub(crate) mod one_time_codes;
pub(crate) mod operators;
mod owners;
pub(crate) mod pay_passwords;
pub(crate) mod products;
pub(crate) mod providers;
mod sealing;
mod secret;
pub(crate) mod stores;

use sanhu_core::party::member::DormancyPolicy;
use sanhu_core::party::{AccountTypes, OneTimeCodePolicy, PayPasswordPolicy};
use sanhu_core::Currency;
use sanhu_store::Store;

pub use accounts::{AccountView, MemberAccount};
pub use authentications::{AuthenticationOutcome, AuthenticationResult};
pub use customers::{CustomerSearch, CustomerView, StoredCustomer};
pub use data_key::{DataKeyId, DataKeys, DATA_KEY_BYTES};
pub use documents::{
    DailySpend, HistoryEntry, MemberScope, PayPasswordOwner, StoredBankCard, StoredCompany, StoredMember,
    StoredOperator,
};
pub use enterprises::{EnterpriseRegistration, RegisteredEnterprise};
pub use error::{rule_codes, PartyError, Rejection, CONCURRENT_CHANGE, CUSTOMER_NOT_FOUND};
pub use franchise::{
    Effective, EffectiveSettings, MerchantSettings, SettingsChange, StoreSettings, TierSetting,
    ACCOUNT_TYPE_NOT_OFFERED, MERCHANT_SETTINGS_FROM_ABOVE, MERCHANT_SETTING_INVALID, MERCHANT_SETTING_LOCKED,
    MERCHANT_TIER_BONUS_PLATFORM_ONLY, SETTING_NAMES, STORE_SETTING_NAMES,
};
pub use hierarchy::SubMerchantApplication;
pub use identities::{PhoneChangeProgress, PhoneChangeStarted};
pub use members::{RegisteredMember, Registration};
pub use merchants::{
    Contact, DocumentsGiven, LegalPersonDoc, MerchantAccountRef, MerchantApplication, MerchantDocuments,
    MerchantFailure, MerchantFilter, MerchantPage, ReviewEntry, Scenario, SettlementAccount, SettlementAccountGiven,
    StoredMerchant,
};
pub use one_time_codes::IssuedCode;
pub use operators::OperatorAuthorisation;
pub use owners::MemberObject;
pub use pay_passwords::PayPasswordHashing;
pub use products::{Authoriser, Signing, SigningReview, SigningView};
pub use providers::{ProviderAuthorisation, Purpose, Reached, PROVIDER_PRODUCTS_MAX};
pub use sealing::SealingReport;
pub use secret::{PartySecret, PARTY_SECRET_BYTES_MIN};
pub use stores::{
    Counter, NewStore, StoreSettingsChange, StoredStore, StoredTerminal, STORES_PER_MERCHANT_MAX_DEFAULT,
    STORE_NOT_FOUND, TERMINALS_PER_STORE_MAX_DEFAULT, TERMINAL_NOT_FOUND,
};

/// How the three-party model is set up on this platform.
#[derive(Clone, Debug)]
pub struct PartyConfig {
    /// The account types members may open. Only these can be opened.
    pub account_types: AccountTypes,
    /// Days without activity after which the dormancy job marks a member dormant.
    pub dormancy: DormancyPolicy,
    /// How one-time codes are made and checked: digits, lifetime, attempts, resend interval.
    pub one_time_codes: OneTimeCodePolicy,
    /// After how many wrong tries a pay password locks, and for how long.
    pub pay_password: PayPasswordPolicy,
    /// Argon2id's cost for pay password hashes.
    pub pay_password_hashing: PayPasswordHashing,
    /// The key of the keyed hashes of one-time codes, card numbers and certificate numbers. The
    /// default is made up at start (ephemeral): every instance sharing a database must be configured
    /// with the same one.
    pub secret: PartySecret,
    /// The keys certificate numbers are sealed under in the store. The default is made up at start
    /// (ephemeral), like the secret's.
    pub data_keys: DataKeys,
    /// The platform's calendar: the time zone whose days count daily limits (Asia/Shanghai unless
    /// configured).
    pub calendar: sanhu_core::PlatformCalendar,
    /// The merchant types merchants may be opened as (`[[merchant_types]]`).
    pub merchant_types: sanhu_core::party::merchant::MerchantTypes,
    /// How many merchants (not rejected or closed) one customer may have: a cap of risk control.
    pub merchants_per_customer_max: u32,
    /// How long after a period ends its bills may be issued: the margin for the clocks of several
    /// instances (`sanhu_core::bill`); 0 suits one instance alone.
    pub bill_period_closed_after_s: u32,
    /// The merchant hierarchy's levels and depth (`[[merchant_levels]]`, `merchant_depth_max`).
    pub merchant_levels: sanhu_core::party::merchant_level::MerchantLevels,
    /// The products merchants sign (`[[products]]`).
    pub products: sanhu_core::party::product::Products,
    /// How many stores one merchant may have, closed ones counted (`store_limit_reached`).
    pub stores_per_merchant_max: u32,
    /// How many terminals one store may have, disabled ones counted (`terminal_limit_reached`).
    pub terminals_per_store_max: u32,
}

impl Default for PartyConfig {
    fn default() -> Self {
        PartyConfig {
            account_types: AccountTypes::default_set(Currency::parse("CNY").expect("CNY is a currency")),
            dormancy: DormancyPolicy::new(365).expect("365 days is a valid dormancy period"),
            one_time_codes: OneTimeCodePolicy::DEFAULT,
            pay_password: PayPasswordPolicy::DEFAULT,
            pay_password_hashing: PayPasswordHashing::RECOMMENDED,
            secret: PartySecret::ephemeral(),
            data_keys: DataKeys::ephemeral(),
            calendar: sanhu_core::PlatformCalendar::default(),
            merchant_types: sanhu_core::party::merchant::MerchantTypes::default_set(),
            merchants_per_customer_max: MERCHANTS_PER_CUSTOMER_MAX_DEFAULT,
            bill_period_closed_after_s: sanhu_core::bill::BILL_PERIOD_CLOSED_AFTER_S_DEFAULT,
            merchant_levels: sanhu_core::party::merchant_level::MerchantLevels::default_set(),
            products: sanhu_core::party::product::Products::default_set(),
            stores_per_merchant_max: stores::STORES_PER_MERCHANT_MAX_DEFAULT,
            terminals_per_store_max: stores::TERMINALS_PER_STORE_MAX_DEFAULT,
        }
    }
}

/// How many merchants one customer may have unless configured.
pub const MERCHANTS_PER_CUSTOMER_MAX_DEFAULT: u32 = 5;

/// The three-party service. Cheap to clone.
#[derive(Clone)]
pub struct Parties {
    store: Store,
    config: std::sync::Arc<PartyConfig>,
    /// The queues in which requests on one wallet or order are decided in turn (`turns.rs`), shared
    /// by every use case of this instance.
    turns: crate::turns::Turns,
    /// Pay password hashes at once, and their queue: apart from staff sign-ins', so that a flood of
    /// sign-ins never holds up a payment.
    pay_password_permits: crate::hashing::HashingPermits,
}

impl Parties {
    pub fn new(store: Store, config: PartyConfig) -> Parties {
        if config.secret.is_ephemeral() {
            tracing::warn!(
                "no party secret configured: one-time codes and card tokens use a key made up at start, which \
                 another instance or a restart will not share"
            );
        }
        if config.data_keys.is_ephemeral() {
            tracing::warn!(
                "no data key configured: certificate numbers are sealed under a key made up at start, which another \
                 instance or a restart will not have"
            );
        }
        let pay_password_permits = crate::hashing::HashingPermits::for_this_machine();
        Parties { store, config: std::sync::Arc::new(config), turns: crate::turns::Turns::new(), pay_password_permits }
    }

    pub fn config(&self) -> &PartyConfig {
        &self.config
    }

    /// The platform day (days since 1970-01-01 in the platform's time zone) that `at` falls in: what
    /// records counting per day keep.
    pub(crate) fn platform_day(&self, at: sanhu_core::Timestamp) -> i64 {
        self.config.calendar.day(at).0
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The same service reading from `store` (a standby): for [`crate::reads::Reads`] only, which
    /// reads through it and decides nothing.
    pub(crate) fn reading_from(&self, store: Store) -> Parties {
        Parties { store, ..self.clone() }
    }

    /// This instance's queues of requests on one object (`turns.rs`).
    pub fn turns(&self) -> &crate::turns::Turns {
        &self.turns
    }
}
