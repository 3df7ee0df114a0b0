//! The wallet world of the service tests: the parties and the wallet over one store, with the
//! configurations the tests share (cheap pay-password hashing, one server secret, the free `test`
//! channel), members with money, and the requests the tests send.

use sanhu_core::id::{BankCardId, ClientId, MemberId};
use sanhu_core::party::account_type::AccountTypeSpec;
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::bank_card::BindCardRequest;
use sanhu_core::party::enterprise::{Address, CompanyDetailsParts, IndustryCode, LicenceExpiry};
use sanhu_core::party::{
    AccountType, AccountTypeCode, AccountTypes, Actor, AuthenticationSubject, Certificate, CertificateType,
    CompanyDetails, CustomerScope, Email, LoginIdentity, PartyKind, PayPasswordPolicy, PhoneNumber, RealName,
};
use sanhu_core::wallet::{FeePayer, FeeRule, RechargeTier, RechargeTiers, Shortfall, WithdrawalPolicy};
use sanhu_core::{AccountId, Timestamp};
use sanhu_service::party::{
    AuthenticationResult, EnterpriseRegistration, Parties, PartyConfig, PartySecret, PayPasswordHashing, Registration,
};
use sanhu_service::wallet::{
    Channel, ChannelReview, MemberTransferRequest, OrderNumber, PaymentMode, PaymentRequest, PlatformAccount, Receiver,
    RechargeRequest, RechargeStatus, WalletConfig, Wallets,
};
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::{LedgerStore, Store};

use crate::ids::{CARD, CREDIT_CODE, ID_CARD};
use crate::money::cny;

/// The API client the service tests act as.
pub fn client() -> ClientId {
    ClientId::from_u128(7).expect("a client id")
}

/// The tests' client as the actor of a change.
pub fn actor() -> Actor {
    Actor::Client(client())
}

/// An order number (商户订单号).
pub fn no(text: &str) -> OrderNumber {
    OrderNumber::parse(text).expect("an order number")
}

/// An account type's code.
pub fn code(text: &str) -> AccountTypeCode {
    AccountTypeCode::parse(text).expect("an account type code")
}

/// Pay passwords hashed cheaply: the tests set and check them often.
pub fn cheap_hashing() -> PayPasswordHashing {
    PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 }
}

/// The defaults with cheap hashing.
pub fn cheap_party_config() -> PartyConfig {
    PartyConfig { pay_password_hashing: cheap_hashing(), ..PartyConfig::default() }
}

/// The defaults with cheap hashing and one server secret.
pub fn party_config() -> PartyConfig {
    PartyConfig { secret: PartySecret::from_bytes(&[42; 32]).expect("a 32-byte secret"), ..cheap_party_config() }
}

/// The defaults with cheap hashing and a pay password locked after 5 wrong tries (as by default).
pub fn pay_password_party_config() -> PartyConfig {
    PartyConfig {
        pay_password: PayPasswordPolicy::new(5, 60).expect("the pay password policy"),
        ..cheap_party_config()
    }
}

/// The default account types, with riders' settlement accounts allowed 50.00 of debt.
pub fn riders_account_types() -> AccountTypes {
    let types = AccountTypes::default_set(cny())
        .iter()
        .map(|t| {
            if t.code().as_str() == "settlement" {
                AccountType::configure(AccountTypeSpec { overdraft_limit: 5000, ..t.spec().clone() })
                    .expect("the settlement type with debt")
            } else {
                t.clone()
            }
        })
        .collect();
    AccountTypes::new(types).expect("the account types")
}

/// A free recharge channel named `test` that needs no review.
pub fn test_channel() -> Channel {
    Channel {
        name: "test".into(),
        review: ChannelReview::NotRequired,
        fee: FeeRule::Free,
        fee_payer: FeePayer::Platform,
        status_url: None,
    }
}

/// The defaults for CNY, with the free `test` channel to fund wallets.
pub fn wallet_config() -> WalletConfig {
    let mut config = WalletConfig::default_for(cny());
    config.channels.push(test_channel());
    config
}

/// `config` with a recharge tier "pay 100.00, get 10.00" valid from an hour ago to a day from now.
pub fn with_bonus_tier(mut config: WalletConfig) -> WalletConfig {
    let now = clock::now();
    let tier = RechargeTier::new(
        10_000,
        1000,
        Timestamp::from_nanos(now.nanos() - 3_600_000_000_000),
        now.add_seconds(86_400).expect("a day from now"),
    );
    config.recharge_tiers = RechargeTiers::new(cny(), vec![tier.expect("the tier")]);
    config
}

/// `config` with free withdrawals of at least `minimum`, reviewed from `auto_approve_below`.
pub fn with_withdrawals(mut config: WalletConfig, minimum: i64, auto_approve_below: i64) -> WalletConfig {
    config.withdrawal =
        WithdrawalPolicy::new(cny(), minimum, FeeRule::Free, FeePayer::Member).expect("the withdrawal policy");
    config.withdrawal_auto_approve_below = auto_approve_below;
    config
}

/// A company's details as the tests register it, named `name`: the credit code [`CREDIT_CODE`], the
/// legal person 张三 with [`ID_CARD`], the contact 李四, in Beijing, its licence valid to 2035.
pub fn company_parts(name: &str) -> CompanyDetailsParts {
    CompanyDetailsParts {
        name: RealName::organisation(name).unwrap(),
        credit_code: Certificate::parse(CertificateType::UnifiedSocialCreditCode, CREDIT_CODE).unwrap(),
        legal_person: RealName::person("张三").unwrap(),
        legal_person_certificate: Certificate::parse(CertificateType::IdCard, ID_CARD).unwrap(),
        contact: RealName::person("李四").unwrap(),
        contact_phone: PhoneNumber::parse("13912345678").unwrap(),
        industry: IndustryCode::parse("I642").unwrap(),
        licence_expiry: LicenceExpiry::parse("2035-06-30").unwrap(),
        address: Address::parse("北京市海淀区某某路1号").unwrap(),
    }
}

/// The company of [`company_parts`].
pub fn company(name: &str) -> CompanyDetails {
    CompanyDetails::new(company_parts(name)).expect("the company's details")
}

/// The parties and the wallet over one store, the platform's accounts created.
pub struct World {
    pub store: Store,
    pub parties: Parties,
    pub wallets: Wallets,
}

impl World {
    pub async fn new(store: &Store, parties: PartyConfig, wallet: WalletConfig) -> World {
        let parties = Parties::new(store.clone(), parties);
        let ledger = Ledger::start(store.clone(), LedgerConfig::default());
        let wallets = Wallets::new(parties.clone(), ledger, wallet);
        wallets.ensure_platform_accounts().await.expect("the platform's accounts");
        World { store: store.clone(), parties, wallets }
    }

    /// The `n`th registered, activated personal member (phone 137…) and its basic account.
    pub async fn member(&self, n: u32) -> (MemberId, AccountId) {
        let phone = PhoneNumber::parse(&format!("137{n:08}")).expect("a phone number");
        let registration = Registration {
            kind: PartyKind::Personal,
            scope: CustomerScope::External,
            identity: LoginIdentity::Phone(phone),
        };
        let member = self.parties.register_member(&registration, &actor()).await.unwrap().member.member.id();
        let (_, opened) = self.parties.activate_member(member, &actor()).await.unwrap();
        (member, opened[0].0.account_id)
    }

    /// A registered, activated enterprise member (with its company details and first admin) and its
    /// basic account.
    pub async fn enterprise(&self) -> (MemberId, AccountId) {
        let company = company("某某食堂科技有限公司");
        let registration = EnterpriseRegistration {
            scope: CustomerScope::External,
            identity: LoginIdentity::Email(Email::parse("finance@example.com").unwrap()),
            company,
            admin_identity: LoginIdentity::Phone(PhoneNumber::parse("13900000001").unwrap()),
        };
        let registered = self.parties.register_enterprise(&registration, &actor()).await.unwrap();
        let member = registered.member.member.id();
        let (_, opened) = self.parties.activate_member(member, &actor()).await.unwrap();
        (member, opened[0].0.account_id)
    }

    /// Opens an account of `type_code` for the member.
    pub async fn open(&self, member: MemberId, type_code: &str) -> AccountId {
        self.parties.open_account(member, &code(type_code), &actor()).await.unwrap().account.account_id
    }

    /// Recharges `amount` into `account` through the free test channel, confirmed.
    pub async fn fund(&self, member: MemberId, account: AccountId, amount: i64, number: &str) {
        let request = RechargeRequest {
            client: client(),
            order_number: no(number),
            member,
            account: Some(account),
            amount,
            channel: "test".into(),
        };
        self.wallets.create_recharge(&request, &actor()).await.unwrap();
        let order = self.wallets.confirm_recharge(client(), &no(number), &actor()).await.unwrap();
        assert_eq!(order.status, RechargeStatus::Succeeded);
    }

    pub async fn balance(&self, account: AccountId) -> i64 {
        self.store.get_account(account).await.unwrap().unwrap().balance()
    }

    pub async fn platform_balance(&self, which: PlatformAccount) -> i64 {
        self.balance(which.id(cny())).await
    }

    /// The member's account of `type_code` (the first, if several).
    pub async fn account_of(&self, member: MemberId, type_code: &str) -> AccountId {
        let wallet = self.wallets.load_wallet(member).await.unwrap();
        wallet
            .accounts()
            .iter()
            .filter(|a| a.account_type().code().as_str() == type_code)
            .map(|a| a.id())
            .min()
            .unwrap()
    }

    /// Gives the member the verified real name 张三 and binds a card in that name.
    pub async fn card(&self, member: MemberId) -> BankCardId {
        let certificate = Certificate::parse(CertificateType::IdCard, ID_CARD).unwrap();
        let subject = AuthenticationSubject::id_card(RealName::person("张三").unwrap(), certificate).unwrap();
        let channel = AuthenticationChannel::parse("police_id_check").unwrap();
        self.parties.authenticate(member, &subject, &channel, AuthenticationResult::Verified, &actor()).await.unwrap();
        let bind = BindCardRequest { number: CARD, holder: "张三", cvv: None, expiry: None };
        self.parties.bind_bank_card(member, bind, &actor()).await.unwrap().card.id()
    }

    /// An immediate payment of `amount` from the member to `receiver`, refused on a shortfall.
    pub fn payment(&self, number: &str, member: MemberId, amount: i64, receiver: AccountId) -> PaymentRequest {
        PaymentRequest {
            client: client(),
            order_number: no(number),
            member,
            amount,
            receiver: Receiver::Account(receiver),
            shortfall: Shortfall::Refuse,
            mode: PaymentMode::Immediate,
            pay_password: None,
            operator: None,
            store: None,
            terminal: None,
            family_card: None,
        }
    }

    /// A transfer of `amount` between two members, without a pay password.
    pub fn transfer(&self, number: &str, sender: MemberId, receiver: MemberId, amount: i64) -> MemberTransferRequest {
        MemberTransferRequest {
            client: client(),
            order_number: no(number),
            sender,
            receiver,
            amount,
            pay_password: None,
            operator: None,
        }
    }

    /// The ledger's verify checks: double entry, balances from entries, conservation per currency.
    pub async fn verify_clean(&self) {
        let report = self.store.verify().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
