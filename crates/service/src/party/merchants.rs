//! Merchants (商户): opening one from a member (under the member's customer: one customer, one customer
//! number, whether member or merchant), the onboarding review (进件: documents, submission, staff's
//! decision), the settlement bank account, statuses with reasons and history, the accounts a type
//! opens when its merchant becomes active, and the limits on what a merchant receives.
//!
//! **The same business twice.** A merchant is recognised by its business's certificate: the unified
//! social credit code of its licence, or for a personal merchant its customer's own certificate. That
//! certificate's keyed index is a unique key (`merchant_business`) held by the customer of the
//! business's first merchant staff approved (an application is not an identity: an application
//! claims nothing, so nobody squats a company's code by applying and walking away), and given up when
//! the customer's last approved merchant of that business closes. Onboarding it again (through another
//! channel or service provider) lands under the same customer, and under another customer is refused,
//! at opening and again at approval. A customer holding the certificate itself (a verified
//! authentication gave it) is the business's customer as well; an enterprise's authentication claims
//! the same key, so one credit code is one customer across enterprises and merchants.
//!
//! **Counting.** The cap on a customer's merchants is protected by writing the customer record with
//! every opening (two openings at once meet each other's version). What a merchant received today and
//! this month are counters (`merchant_receipts:mch_…:day:N`, `…:month:YYYY-MM`) that each payment adds
//! to in its own write, with the limit as the addition's condition: two payments at once cannot both
//! fit under a limit that has room for one, and payments never rewrite the merchant's record, so they
//! neither wait for each other nor for the merchant's own requests. What is counted is what the
//! merchant received: a payment when it is paid (given back if the ledger refuses it), an
//! authorisation when it is captured (what is captured), an escrow when it is held (given back when it
//! is returned). A refund does not give a limit back.
//!
//! **In turn.** Requests on one merchant's record (documents, settlement account, verification,
//! submission, review, status) take the merchant's turn (`merchant:mch_…`, `turns.rs`).
//!
//! Certificate numbers in the documents are kept masked only (and the credit code's keyed index, for
//! the unique key): the review reads them when they are given, nothing needs them later.

use sanhu_core::id::{CustomerId, MemberId, MerchantId};
use sanhu_core::party::merchant::{
    check_corporate_account, check_photos, mask_account_number, missing_documents, DocumentKind, MerchantError,
    MerchantStatus, Receipts, ReviewDecision, SettlementKind,
};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::{
    check_open_account, Actor, CardNumber, Certificate, CertificateType, MemberAccountStatus, MemberAction,
    PhoneNumber, RealName, Reason,
};
use sanhu_core::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::accounts::open_account_in;
use super::customers::{certificate_key, load_customer};
use super::documents::{MemberAccount, StoredMember};
use super::error::{PartyError, MERCHANT_NOT_FOUND};
use super::members::load_member;
use super::work::{Work, ACCOUNTS_OF_MEMBER, CERTIFICATE_KEY};
use super::Parties;
use crate::clock;
use crate::wallet::records::{json_document, time_ns};

use_case_failure! {
    /// Why a merchant use case did not succeed: a merchant rule's refusal (`MerchantError`, a limit),
    /// a three-party rule's met on the way (the member, the customer, the accounts a type opens: a
    /// [`PartyError`] becomes this unchanged), a contention or the store's failure.
    pub enum MerchantFailure;
}

impl From<PartyError> for MerchantFailure {
    fn from(error: PartyError) -> Self {
        match error {
            PartyError::Rejected(r) => MerchantFailure::Rejected(r),
            PartyError::NotFound(r) => MerchantFailure::NotFound(r),
            PartyError::Contended => MerchantFailure::Contended,
            PartyError::Internal(e) => MerchantFailure::Internal(e),
        }
    }
}

impl From<MerchantFailure> for PartyError {
    fn from(error: MerchantFailure) -> Self {
        match error {
            MerchantFailure::Rejected(r) => PartyError::Rejected(r),
            MerchantFailure::NotFound(r) => PartyError::NotFound(r),
            MerchantFailure::Contended => PartyError::Contended,
            MerchantFailure::Internal(e) => PartyError::Internal(e),
        }
    }
}

// A payment checks the merchant it pays in the wallet's own write.
impl From<MerchantFailure> for crate::wallet::WalletFailure {
    fn from(error: MerchantFailure) -> Self {
        crate::wallet::WalletFailure::from(PartyError::from(error))
    }
}

impl From<MerchantError> for MerchantFailure {
    fn from(error: MerchantError) -> Self {
        MerchantFailure::Rejected(super::Rejection::of(error))
    }
}

/// A business's certificate, held by the customer it was first onboarded under.
pub(crate) const MERCHANT_BUSINESS_KEY: &str = "merchant_business";
pub(crate) const MERCHANTS_OF_CUSTOMER: &str = "customer_merchants";
pub(crate) const MERCHANTS_OF_MEMBER: &str = "member_merchants";
/// The merchant an account was opened for.
pub(crate) const MERCHANT_OF_ACCOUNT: &str = "account_merchant";

/// Where a merchant does business (经营场景).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub kind: String,
    pub url: Option<String>,
    pub address: Option<String>,
}

/// Who to talk to at the merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    /// The phone in full (`+86…`); shown masked.
    pub phone: String,
}

/// The legal person as the review saw them: the name and the certificate, masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalPersonDoc {
    pub name: String,
    pub certificate_type: String,
    pub masked_number: String,
}

/// The onboarding review's documents (进件资料).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantDocuments {
    /// The licence's number (the credit code), masked, once given and matching the business's.
    pub licence_masked: Option<String>,
    pub legal_person: Option<LegalPersonDoc>,
    /// References to the premises photos, kept in the platform's file store.
    pub premises_photos: Vec<String>,
}

impl MerchantDocuments {
    fn given(&self) -> Vec<DocumentKind> {
        let mut given = Vec::new();
        if self.licence_masked.is_some() {
            given.push(DocumentKind::Licence);
        }
        if self.legal_person.is_some() {
            given.push(DocumentKind::LegalPerson);
        }
        if !self.premises_photos.is_empty() {
            given.push(DocumentKind::Premises);
        }
        given
    }
}

/// The bank account a merchant settles to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementAccount {
    /// `corporate` or `personal_card`.
    pub kind: String,
    pub account_name: String,
    /// A corporate number's first and last 4 digits; a card's BIN and last 4.
    pub masked_number: String,
    pub bank_code: Option<String>,
    pub branch_code: Option<String>,
    /// `unverified`, `verified` or `failed`: the verification of the account whose hash it records
    /// (`verified_hash`); for any other account it is void.
    pub verification: String,
    #[serde(with = "time_ns")]
    pub set_at: Timestamp,
    /// The keyed hash of the account's kind and number, which its verification is bound to.
    #[serde(default)]
    pub number_hash: String,
    /// The account a verification was recorded for.
    #[serde(default)]
    pub verified_hash: Option<String>,
}

impl SettlementAccount {
    /// Verified, and verified as this very account.
    pub fn is_verified(&self) -> bool {
        self.verification == "verified" && self.verified_hash.as_deref() == Some(self.number_hash.as_str())
    }

    /// The verification as shown: a verification recorded for another account is none.
    pub fn verification_shown(&self) -> &str {
        if self.verified_hash.as_deref() == Some(self.number_hash.as_str()) {
            &self.verification
        } else {
            "unverified"
        }
    }
}

/// One decision of the onboarding review: who submitted the application and when, the staff member
/// who made the decision (the maker) and the one who approved it (the checker), when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewEntry {
    pub decision: String,
    pub reason: Option<String>,
    /// The maker: who made the decision.
    pub by: String,
    #[serde(with = "time_ns")]
    pub at: Timestamp,
    /// The checker: who approved the maker's decision (maker-checker).
    #[serde(default)]
    pub checker: Option<String>,
    /// Who submitted the application the decision was on, and when.
    #[serde(default)]
    pub submitted: Option<Submission>,
}

/// Who submitted the application under review, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub by: String,
    #[serde(with = "time_ns")]
    pub at: Timestamp,
}

/// An account opened for the merchant when it became active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantAccountRef {
    pub account_id: String,
    pub account_type: String,
}

/// A payment's count against its receiving merchant's limits: the counters it was added to (the day's
/// and the month's) and what of it is counted still; what the merchant did not receive in the end is
/// given back (`give_back`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantCount {
    pub keys: Vec<String>,
    pub amount: i64,
}

/// A merchant as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredMerchant {
    pub id: String,
    pub customer_id: String,
    pub member_id: String,
    pub merchant_type: String,
    /// The name payers see.
    pub name: String,
    /// The business's registered name (the licence's, or the customer's own for a personal merchant):
    /// a corporate settlement account must bear it.
    pub business_name: String,
    /// The business's certificate, masked (credit code, or the customer's certificate).
    pub business_certificate: String,
    /// The business's unique key (type and keyed index), which names its customer.
    pub business_key: String,
    pub scenario: Scenario,
    pub contact: Contact,
    /// `t1`, `d1` or `d0`.
    pub settlement_cycle: String,
    pub settlement_account: Option<SettlementAccount>,
    pub documents: MerchantDocuments,
    pub status: String,
    /// Why it reached its status (a rejection's reason, a freeze's).
    pub status_reason: Option<String>,
    pub reviews: Vec<ReviewEntry>,
    pub accounts: Vec<MerchantAccountRef>,
    /// The application under review: who submitted it, when.
    #[serde(default)]
    pub submission: Option<Submission>,
    /// The merchant it sits under in the hierarchy (`merchant_levels`), if any.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Its level in the hierarchy; None: outside it (at the top, with nothing under it).
    #[serde(default)]
    pub level: Option<String>,
    /// The merchants above it, the top first: its materialised path, which decides who reaches it
    /// ([`Parties::reaches`]).
    #[serde(default)]
    pub ancestors: Vec<String>,
    /// The products it has applied for, signed or been authorised, in the order they came: a
    /// product's current signing is its last (`party::products`).
    #[serde(default)]
    pub products: Vec<super::products::Signing>,
    /// Its products are signed one by one. False for a merchant opened before products were: it
    /// keeps every product until its signings first change, when they are written out
    /// (`party::products`), so that an upgrade takes nothing from a live merchant.
    #[serde(default)]
    pub signs_products: bool,
    /// Its authorisations of service providers (服务商), in the order given (`party::providers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<super::providers::ProviderAuthorisation>,
    /// Receipts as records written before they were counters kept them; read and ignored.
    #[serde(default, rename = "receipts", skip_serializing)]
    pub legacy_receipts: Option<serde_json::Value>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
}
json_document!(StoredMerchant, "merchant");

impl StoredMerchant {
    pub fn status(&self) -> MerchantStatus {
        MerchantStatus::parse(&self.status).unwrap_or(MerchantStatus::Closed)
    }

    pub fn merchant_id(&self) -> Option<MerchantId> {
        MerchantId::parse(&self.id)
    }
}

/// What opening a merchant takes.
#[derive(Clone, Debug)]
pub struct MerchantApplication {
    /// The merchant's id when the caller derives it (from its idempotency key: a rerun after a crash
    /// finds the merchant the first run opened); a new one when none.
    pub id: Option<MerchantId>,
    pub member_id: MemberId,
    pub merchant_type: String,
    pub name: String,
    pub scenario: Scenario,
    pub contact_name: RealName,
    pub contact_phone: PhoneNumber,
    pub settlement_cycle: String,
    /// The business licence's registered name and credit code, for a type that requires a licence.
    pub business: Option<(RealName, Certificate)>,
    /// The merchant it is opened under in the hierarchy, if any.
    pub parent_id: Option<MerchantId>,
    /// Its level in the hierarchy (required with a parent); None: outside it.
    pub level: Option<String>,
}

/// The documents given in one request; what is left out stays as it was.
#[derive(Clone, Debug, Default)]
pub struct DocumentsGiven {
    pub licence_number: Option<Certificate>,
    pub legal_person: Option<(RealName, Certificate)>,
    pub premises_photos: Option<Vec<String>>,
}

/// A settlement account as given.
#[derive(Clone, Debug)]
pub enum SettlementAccountGiven {
    Corporate { account_name: String, number: String, bank_code: String, branch_code: String },
    PersonalCard { account_name: RealName, number: CardNumber },
}

/// The number of a settlement account as the platform verified it (the corporate account's number, or
/// the card's digits).
pub fn settlement_number_text(given: &SettlementAccountGiven) -> String {
    match given {
        SettlementAccountGiven::Corporate { number, .. } => number.clone(),
        SettlementAccountGiven::PersonalCard { number, .. } => number.digits_for_tokenisation().to_owned(),
    }
}

/// The most merchant records one search reads (a search that is not a member's or a customer's walks
/// the merchants' records): a page may end before its limit, with a cursor to go on.
pub const MERCHANT_SEARCH_RECORDS_MAX: u32 = 1000;

/// A page of merchants found, and the cursor to the next (none at the end).
pub struct MerchantPage {
    pub merchants: Vec<StoredMerchant>,
    pub next: Option<String>,
}

/// Which merchants to list.
#[derive(Clone, Debug, Default)]
pub struct MerchantFilter {
    pub status: Option<MerchantStatus>,
    pub merchant_type: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub member_id: Option<MemberId>,
    /// Text the merchant's name or its business's registered name contains.
    pub name: Option<String>,
    /// The business's certificate number (a credit code, or a personal merchant's certificate).
    pub certificate_number: Option<String>,
    /// Only the merchants a client bound to this member reaches ([`Parties::reaches`]): its own and
    /// every merchant below them.
    pub reached_by: Option<MemberId>,
}

impl MerchantFilter {
    /// Whether `m` is listed; `business_keys` are the keys the certificate number may be (one per
    /// certificate type it parses as), when it is given.
    fn matches(&self, m: &StoredMerchant, business_keys: &[String]) -> bool {
        self.status.is_none_or(|s| s.as_str() == m.status)
            && self.merchant_type.as_ref().is_none_or(|t| *t == m.merchant_type)
            && self.customer_id.is_none_or(|c| c.to_string() == m.customer_id)
            && self.member_id.is_none_or(|c| c.to_string() == m.member_id)
            && self.name.as_ref().is_none_or(|n| m.name.contains(n.as_str()) || m.business_name.contains(n.as_str()))
            && (self.certificate_number.is_none() || business_keys.contains(&m.business_key))
    }
}

fn rejected(error: MerchantError) -> MerchantFailure {
    MerchantFailure::from(error)
}

pub(crate) async fn load_merchant(work: &mut Work, id: MerchantId) -> Result<StoredMerchant, MerchantFailure> {
    work.get::<StoredMerchant>(&id.to_string()).await?.ok_or(MerchantFailure::NotFound(MERCHANT_NOT_FOUND))
}

impl Parties {
    /// Opens a merchant (applying) from an existing member, under the member's customer; the business's
    /// certificate must not be another customer's, and the customer must be under its cap.
    pub async fn open_merchant(
        &self,
        application: &MerchantApplication,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let types = &self.config.merchant_types;
        types.find(&application.merchant_type)?;
        // One id for every run of this request: a rerun finds the merchant its first run opened.
        let id: MerchantId = application.id.unwrap_or_else(clock::new_id);
        transact!(self, |work| {
            if let Some(opened) = work.get::<StoredMerchant>(&id.to_string()).await? {
                if opened.member_id != application.member_id.to_string() {
                    return Err(MerchantFailure::NotFound(MERCHANT_NOT_FOUND));
                }
                return Ok(opened);
            }
            let member = load_member(work, application.member_id).await?;
            let customer = load_customer(work, member.member.customer()).await?;
            self.open_merchant_in(work, id, application, &member, &customer, false, actor).await
        })
    }

    /// Opens merchant `id` from `member` of `customer` in `work`: the type's rules, the business, the
    /// customer's cap and the merchant's place in the hierarchy (as a sub-merchant or not).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn open_merchant_in(
        &self,
        work: &mut Work,
        id: MerchantId,
        application: &MerchantApplication,
        member: &StoredMember,
        customer: &super::documents::StoredCustomer,
        as_sub_merchant: bool,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let merchant_type = self.config.merchant_types.find(&application.merchant_type)?;
        {
            member
                .member
                .check_action(MemberAction::OpenAccount, customer.customer.status())
                .map_err(PartyError::from)?;
            merchant_type.check_member(member.member.kind(), member.member.real_name().is_some())?;
            // The business: its licence for a type that requires one, else the customer itself.
            let (business_name, certificate) =
                match (&application.business, merchant_type.requires(DocumentKind::Licence)) {
                    (Some((name, code)), true) => (name.as_str().to_owned(), code.clone()),
                    (None, true) => return Err(rejected(MerchantError::CertificateRequired)),
                    (_, false) => {
                        let certificate = customer
                            .customer
                            .certificate()
                            .cloned()
                            .ok_or(rejected(MerchantError::CertificateRequired))?;
                        let name = customer.name.as_ref().or(member.member.real_name()).map(|n| n.as_str().to_owned());
                        (name.unwrap_or_else(|| application.name.clone()), certificate)
                    }
                };
            let customer_key = customer.customer.id().to_string();
            let business_key = certificate_key(work.secret(), &certificate);
            check_business_of(work, &business_key, &customer_key).await?;
            let merchants: Vec<StoredMerchant> = work.indexed(MERCHANTS_OF_CUSTOMER, &customer_key).await?;
            let counted = merchants.iter().filter(|m| m.status().counts_toward_cap()).count();
            if counted >= self.config.merchants_per_customer_max as usize {
                return Err(rejected(MerchantError::CapReached));
            }
            let same_business = merchants.iter().filter(|m| m.business_key == business_key).count();
            let ancestors = self
                .place_merchant(
                    work,
                    application.level.as_deref(),
                    merchant_type.code(),
                    application.parent_id,
                    as_sub_merchant,
                )
                .await?;
            // Written again so that two openings at once cannot both count under the cap.
            work.put(customer);
            let merchant = StoredMerchant {
                id: id.to_string(),
                customer_id: customer_key.clone(),
                member_id: application.member_id.to_string(),
                merchant_type: merchant_type.code().as_str().to_owned(),
                name: application.name.clone(),
                business_name,
                business_certificate: certificate.masked(),
                business_key: business_key.clone(),
                scenario: application.scenario.clone(),
                contact: Contact {
                    name: application.contact_name.as_str().to_owned(),
                    phone: application.contact_phone.as_str().to_owned(),
                },
                settlement_cycle: application.settlement_cycle.clone(),
                settlement_account: None,
                documents: MerchantDocuments::default(),
                status: MerchantStatus::Applying.as_str().to_owned(),
                status_reason: None,
                reviews: Vec::new(),
                accounts: Vec::new(),
                submission: None,
                parent_id: application.parent_id.map(|p| p.to_string()),
                level: application.level.clone(),
                ancestors,
                products: Vec::new(),
                signs_products: true,
                providers: Vec::new(),
                legacy_receipts: None,
                created_at: work.now,
                updated_at: work.now,
            };
            work.put(&merchant);
            work.index(MERCHANTS_OF_CUSTOMER, &customer_key, &merchant.id);
            work.index(MERCHANTS_OF_MEMBER, &merchant.member_id, &merchant.id);
            super::hierarchy::index_place(work, &merchant);
            work.history(
                &merchant.id,
                &customer_key,
                "merchant.opened",
                actor,
                None,
                json!({
                    "member": merchant.member_id,
                    "type": merchant.merchant_type,
                    "business_certificate": merchant.business_certificate,
                    // The same business onboarded before under this customer (another channel).
                    "same_business_merchants": same_business,
                    "status": "applying",
                    "parent": merchant.parent_id,
                    "level": merchant.level,
                }),
            );
            Ok(merchant)
        }
    }

    pub async fn get_merchant(&self, id: MerchantId) -> Result<StoredMerchant, MerchantFailure> {
        load_merchant(&mut self.reader(), id).await
    }

    /// Merchants in id order after `after`, those matching `filter`, at most `limit`, and where to go
    /// on from. A member's or a customer's merchants are read from their lookup; any other search is a
    /// walk through the merchants' records that reads at most [`MERCHANT_SEARCH_RECORDS_MAX`] of them
    /// a call, so a page may end before `limit` are found, with a cursor to go on.
    pub async fn list_merchants(
        &self,
        filter: &MerchantFilter,
        after: Option<MerchantId>,
        limit: u32,
    ) -> Result<MerchantPage, MerchantFailure> {
        use sanhu_store::party::PartyStore;
        let mut work = self.reader();
        let mut found: Vec<StoredMerchant> = Vec::new();
        let mut cursor = after.map(|a| a.to_string());
        let business_keys: Vec<String> = match &filter.certificate_number {
            None => Vec::new(),
            Some(number) => sanhu_core::party::CertificateType::ALL
                .into_iter()
                .filter_map(|kind| sanhu_core::party::Certificate::parse(kind, number).ok())
                .map(|certificate| certificate_key(work.secret(), &certificate))
                .collect(),
        };
        // A bound client's: the merchants it reaches, from their lookups.
        if let Some(bound) = filter.reached_by {
            let reached = self.merchants_reached(bound).await?;
            let ids: Vec<String> =
                reached.into_iter().filter(|id| cursor.as_ref().is_none_or(|after| id > after)).collect();
            let mut found = Vec::new();
            for chunk in ids.chunks(500) {
                let merchants: Vec<StoredMerchant> = work.get_many(chunk).await?;
                found.extend(merchants.into_iter().filter(|m| filter.matches(m, &business_keys)));
                if found.len() >= limit as usize {
                    break;
                }
            }
            found.truncate(limit as usize);
            let next = (found.len() == limit as usize).then(|| found.last().map(|m| m.id.clone())).flatten();
            return Ok(MerchantPage { merchants: found, next });
        }
        // A member's or a customer's merchants are few: read them from their lookup.
        let indexed = match (filter.member_id, filter.customer_id) {
            (Some(member), _) => Some((MERCHANTS_OF_MEMBER, member.to_string())),
            (None, Some(customer)) => Some((MERCHANTS_OF_CUSTOMER, customer.to_string())),
            (None, None) => None,
        };
        if let Some((index, key)) = indexed {
            let ids = match &cursor {
                Some(after) => self.store.party_index_after(index, &key, after, 10_000).await?,
                None => self.store.party_index(index, &key, 10_000).await?,
            };
            let merchants: Vec<StoredMerchant> = work.get_many(&ids).await?;
            let merchants: Vec<StoredMerchant> =
                merchants.into_iter().filter(|m| filter.matches(m, &business_keys)).take(limit as usize).collect();
            let next = (merchants.len() == limit as usize).then(|| merchants.last().map(|m| m.id.clone())).flatten();
            return Ok(MerchantPage { merchants, next });
        }
        let mut read = 0u32;
        loop {
            let want = limit.max(50).min(MERCHANT_SEARCH_RECORDS_MAX - read);
            let page = self.store.party_list("merchant", cursor.as_deref(), want).await?;
            let full = page.len() as u32 >= want;
            for record in page {
                read += 1;
                let merchant: StoredMerchant = <StoredMerchant as super::documents::Document>::decode(&record.data)?;
                let id = merchant.id.clone();
                if filter.matches(&merchant, &business_keys) {
                    found.push(merchant);
                    if found.len() >= limit as usize {
                        return Ok(MerchantPage { merchants: found, next: Some(id) });
                    }
                }
                cursor = Some(record.id);
            }
            if !full {
                return Ok(MerchantPage { merchants: found, next: None });
            }
            if read >= MERCHANT_SEARCH_RECORDS_MAX {
                return Ok(MerchantPage { merchants: found, next: cursor });
            }
        }
    }

    /// Gives documents for the onboarding review, while applying. A licence's number must be the
    /// business's credit code given when the merchant was opened.
    pub async fn give_merchant_documents(
        &self,
        id: MerchantId,
        given: &DocumentsGiven,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        if let Some(photos) = &given.premises_photos {
            check_photos(photos)?;
        }
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            merchant.status().check_applying()?;
            let mut named = Vec::new();
            if let Some(licence) = &given.licence_number {
                if licence.certificate_type() != CertificateType::UnifiedSocialCreditCode
                    || certificate_key(work.secret(), licence) != merchant.business_key
                {
                    return Err(rejected(MerchantError::DocumentInvalid));
                }
                merchant.documents.licence_masked = Some(licence.masked());
                named.push("licence");
            }
            if let Some((name, certificate)) = &given.legal_person {
                merchant.documents.legal_person = Some(LegalPersonDoc {
                    name: name.as_str().to_owned(),
                    certificate_type: certificate.certificate_type().as_str().to_owned(),
                    masked_number: certificate.masked(),
                });
                named.push("legal_person");
            }
            if let Some(photos) = &given.premises_photos {
                merchant.documents.premises_photos = photos.clone();
                named.push("premises");
            }
            merchant.updated_at = work.now;
            work.put(&merchant);
            work.history(
                &merchant.id,
                &merchant.customer_id,
                "merchant.documents_given",
                actor,
                None,
                json!({ "documents": named }),
            );
            Ok(merchant)
        })
    }

    /// Submits the application for review: every document its type requires, and a settlement
    /// account, are there.
    pub async fn submit_merchant(&self, id: MerchantId, actor: &Actor) -> Result<StoredMerchant, MerchantFailure> {
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            merchant.status().check_applying()?;
            let merchant_type = self.config.merchant_types.find(&merchant.merchant_type)?;
            if !missing_documents(merchant_type, &merchant.documents.given()).is_empty() {
                return Err(rejected(MerchantError::DocumentsMissing));
            }
            if merchant.settlement_account.is_none() {
                return Err(rejected(MerchantError::SettlementAccountMissing));
            }
            merchant.submission = Some(Submission { by: super::work::actor_text(actor), at: work.now });
            set_status(work, &mut merchant, MerchantStatus::UnderReview, None, actor, "merchant.submitted");
            Ok(merchant)
        })
    }

    /// Staff's decision on an application under review: approved, it becomes active and its type's
    /// accounts open; rejected, it stays so; asked for more, it goes back to applying. Rejecting and
    /// asking for more take a reason. Approval needs the settlement account verified (as the account it
    /// is now), and claims the business's credit code for the merchant's customer (refused if another
    /// customer holds it meanwhile). `maker` made the decision, `checker` approved it (maker-checker);
    /// both are kept with it, with who submitted the application and when.
    pub async fn review_merchant(
        &self,
        id: MerchantId,
        decision: ReviewDecision,
        reason: Option<&Reason>,
        maker: &Actor,
        checker: Option<&Actor>,
    ) -> Result<StoredMerchant, MerchantFailure> {
        if decision != ReviewDecision::Approve && reason.is_none() {
            return Err(rejected(MerchantError::ReviewReasonRequired));
        }
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let to = merchant.status().review(decision)?;
            if to == MerchantStatus::Active {
                if !merchant.settlement_account.as_ref().is_some_and(SettlementAccount::is_verified) {
                    return Err(rejected(MerchantError::SettlementAccountUnverified));
                }
                check_business_of(work, &merchant.business_key, &merchant.customer_id).await?;
                work.claim(MERCHANT_BUSINESS_KEY, &merchant.business_key, &merchant.customer_id);
            }
            merchant.reviews.push(ReviewEntry {
                decision: decision.as_str().to_owned(),
                reason: reason.map(|r| r.as_str().to_owned()),
                by: super::work::actor_text(maker),
                at: work.now,
                checker: checker.map(super::work::actor_text),
                submitted: merchant.submission.take(),
            });
            if to == MerchantStatus::Active {
                self.open_merchant_accounts(work, &mut merchant, maker).await?;
            }
            set_status(work, &mut merchant, to, reason, maker, "merchant.reviewed");
            Ok(merchant)
        })
    }

    /// The accounts the merchant's type opens, for its member, when it becomes active.
    async fn open_merchant_accounts(
        &self,
        work: &mut Work,
        merchant: &mut StoredMerchant,
        actor: &Actor,
    ) -> Result<(), MerchantFailure> {
        let merchant_type = self.config.merchant_types.find(&merchant.merchant_type)?;
        let member_id = MemberId::parse(&merchant.member_id).ok_or(MerchantFailure::NotFound(MERCHANT_NOT_FOUND))?;
        let stored = load_member(work, member_id).await?;
        let customer = load_customer(work, stored.member.customer()).await?;
        stored.member.check_action(MemberAction::OpenAccount, customer.customer.status()).map_err(PartyError::from)?;
        let mut accounts: Vec<MemberAccount> = work.indexed(ACCOUNTS_OF_MEMBER, &merchant.member_id).await?;
        let (member, _) = stored.member.clone().record_activity(work.now);
        let member = StoredMember { member, ..stored };
        work.put(&member);
        for code in &merchant_type.spec().accounts {
            let open_of_type = accounts
                .iter()
                .filter(|a| a.account_type == code.as_str() && a.status != MemberAccountStatus::Closed)
                .count();
            let account_type =
                check_open_account(&self.config.account_types, code, &member.member, open_of_type as u16)
                    .map_err(PartyError::from)?;
            let (account, _) = open_account_in(work, &member.member, &customer, account_type, actor);
            let account_id = account.account_id.to_string();
            work.index(MERCHANT_OF_ACCOUNT, &account_id, &merchant.id);
            merchant.accounts.push(MerchantAccountRef { account_id, account_type: code.as_str().to_owned() });
            accounts.push(account);
        }
        Ok(())
    }

    /// Staff's own changes: freeze, unfreeze (`active`), close; with a reason.
    pub async fn change_merchant_status(
        &self,
        id: MerchantId,
        to: MerchantStatus,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let from = merchant.status();
            let to = from.change_to(to)?;
            if to == MerchantStatus::Closed && matches!(from, MerchantStatus::Active | MerchantStatus::Frozen) {
                release_business_of(work, &merchant).await?;
            }
            set_status(work, &mut merchant, to, Some(reason), actor, "merchant.status_changed");
            Ok(merchant)
        })
    }

    /// Sets the merchant's settlement bank account, unverified, of a kind its type accepts: a corporate
    /// account bearing the business's registered name, or a card in the member's real name.
    pub async fn set_settlement_account(
        &self,
        id: MerchantId,
        given: &SettlementAccountGiven,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let number_hash = self.config.secret.settlement_account_hash(
            match given {
                SettlementAccountGiven::Corporate { .. } => SettlementKind::Corporate.as_str(),
                SettlementAccountGiven::PersonalCard { .. } => SettlementKind::PersonalCard.as_str(),
            },
            &settlement_number_text(given),
        );
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            match merchant.status() {
                MerchantStatus::Applying => {}
                MerchantStatus::Rejected | MerchantStatus::Closed => {
                    return Err(rejected(MerchantError::StatusChangeNotAllowed))
                }
                // Submitted, reviewed or active: the account the review saw stays.
                _ => return Err(rejected(MerchantError::SettlementAccountFixed)),
            }
            let merchant_type = self.config.merchant_types.find(&merchant.merchant_type)?;
            let account = match given {
                SettlementAccountGiven::Corporate { account_name, number, bank_code, branch_code } => {
                    merchant_type.accepts(SettlementKind::Corporate)?;
                    check_corporate_account(account_name, &merchant.business_name, number, bank_code, branch_code)?;
                    SettlementAccount {
                        kind: SettlementKind::Corporate.as_str().to_owned(),
                        account_name: account_name.trim().to_owned(),
                        masked_number: mask_account_number(number),
                        bank_code: Some(bank_code.clone()),
                        branch_code: Some(branch_code.clone()),
                        verification: "unverified".to_owned(),
                        set_at: work.now,
                        number_hash: number_hash.clone(),
                        verified_hash: None,
                    }
                }
                SettlementAccountGiven::PersonalCard { account_name, number } => {
                    merchant_type.accepts(SettlementKind::PersonalCard)?;
                    let member_id =
                        MemberId::parse(&merchant.member_id).ok_or(MerchantFailure::NotFound(MERCHANT_NOT_FOUND))?;
                    let member = load_member(work, member_id).await?;
                    // A card in the member's own verified name: none verified, no card.
                    match member.member.real_name() {
                        None => return Err(rejected(MerchantError::SettlementRealNameRequired)),
                        Some(name) if name != account_name => {
                            return Err(rejected(MerchantError::SettlementNameMismatch))
                        }
                        Some(_) => {}
                    }
                    SettlementAccount {
                        kind: SettlementKind::PersonalCard.as_str().to_owned(),
                        account_name: account_name.as_str().to_owned(),
                        masked_number: number.masked().as_str().to_owned(),
                        bank_code: None,
                        branch_code: None,
                        verification: "unverified".to_owned(),
                        set_at: work.now,
                        number_hash: number_hash.clone(),
                        verified_hash: None,
                    }
                }
            };
            let detail = json!({ "kind": account.kind, "masked_number": account.masked_number });
            merchant.settlement_account = Some(account);
            merchant.updated_at = work.now;
            work.put(&merchant);
            work.history(&merchant.id, &merchant.customer_id, "merchant.settlement_account_set", actor, None, detail);
            Ok(merchant)
        })
    }

    /// Records the verification of the settlement account (a small payment confirmed, or the bank's
    /// word): verified or failed, for the account whose number the platform names (`number`: the
    /// account it verified). Another account than the merchant's is refused, and the verification is
    /// kept bound to the account it is for: it is void for any other.
    pub async fn verify_settlement_account(
        &self,
        id: MerchantId,
        number: &str,
        verified: bool,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let _turn = self.merchant_turn(id).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let Some(account) = merchant.settlement_account.as_mut() else {
                return Err(rejected(MerchantError::SettlementAccountMissing));
            };
            if self.config.secret.settlement_account_hash(&account.kind, number) != account.number_hash {
                return Err(rejected(MerchantError::SettlementAccountChanged));
            }
            account.verification = if verified { "verified" } else { "failed" }.to_owned();
            account.verified_hash = Some(account.number_hash.clone());
            let detail = json!({ "verification": account.verification, "masked_number": account.masked_number });
            merchant.updated_at = work.now;
            work.put(&merchant);
            work.history(
                &merchant.id,
                &merchant.customer_id,
                "merchant.settlement_account_verified",
                actor,
                None,
                detail,
            );
            Ok(merchant)
        })
    }

    /// What the merchant received today and this month (the platform's calendar).
    pub async fn merchant_receipts(&self, merchant: &StoredMerchant) -> Result<Receipts, MerchantFailure> {
        let keys = receipts_keys(&self.config, &merchant.id, clock::now());
        let work = self.reader();
        Ok(Receipts { today: work.counter(&keys[0]).await?, this_month: work.counter(&keys[1]).await? })
    }

    /// This instance's turn on one merchant's record, held until dropped.
    async fn merchant_turn(&self, id: MerchantId) -> crate::turns::Turn {
        self.turns.take([format!("merchant:{id}")]).await
    }

    /// The ids of the merchants a client bound to `member` reaches: those it runs and every merchant
    /// below them in the hierarchy ([`Parties::merchants_reached`]).
    pub(crate) async fn merchants_of_member(&self, member: MemberId) -> Result<Vec<String>, PartyError> {
        self.merchants_reached(member).await
    }

    /// The member a merchant is run by (whose bound client reaches it).
    pub(crate) async fn merchant_member(&self, id: MerchantId) -> Result<MemberId, PartyError> {
        let merchant = load_merchant(&mut self.reader(), id).await?;
        MemberId::parse(&merchant.member_id).ok_or(PartyError::NotFound(MERCHANT_NOT_FOUND))
    }
}

/// The counters of a merchant's receipts on the platform day and month `at` falls in.
fn receipts_keys(config: &super::PartyConfig, merchant: &str, at: Timestamp) -> [String; 2] {
    let (day, month) = (config.calendar.day(at), config.calendar.month(at));
    [
        format!("merchant_receipts:{merchant}:day:{}", day.0),
        format!("merchant_receipts:{merchant}:month:{:04}-{:02}", month.year, month.month),
    ]
}

/// The merchant `account` was opened for, if any.
async fn merchant_of_account(work: &mut Work, account: AccountId) -> Result<Option<StoredMerchant>, MerchantFailure> {
    let merchants: Vec<StoredMerchant> = work.indexed(MERCHANT_OF_ACCOUNT, &account.to_string()).await?;
    Ok(merchants.into_iter().next())
}

/// Refuses a merchant's account whose merchant is not active (`merchant_not_receiving`): the one
/// check every way money reaches a merchant makes (payments, captures, escrow releases, deposit
/// captures), through `Wallets::account_may_receive`, with the product the way uses signed
/// (`product_not_signed`). An account of no merchant receives freely.
pub(crate) async fn merchant_may_receive(
    work: &mut Work,
    account: AccountId,
    product: PlatformProduct,
) -> Result<(), MerchantFailure> {
    if let Some(merchant) = merchant_of_account(work, account).await? {
        merchant.status().check_receives()?;
        super::products::check_signed(work, &merchant, product).await?;
    }
    Ok(())
}

/// Checks a payment of `amount` received into `account` against its merchant's limits, in the
/// payment's own write: the merchant must be active and the payment within its type's limits per
/// payment, per platform day and per platform month. With `count`, it is also counted: added to the
/// day's and the month's counters in this write (refused as a conflict, and decided again, if another
/// payment took the room meanwhile), and what was counted is answered, for the payment to keep and
/// give back what the merchant does not receive in the end. An account of no merchant receives freely.
pub(crate) async fn merchant_receives(
    parties: &Parties,
    work: &mut Work,
    account: AccountId,
    amount: i64,
    count: bool,
    product: PlatformProduct,
) -> Result<Option<MerchantCount>, MerchantFailure> {
    let Some(merchant) = merchant_of_account(work, account).await? else { return Ok(None) };
    merchant.status().check_receives()?;
    super::products::check_signed(work, &merchant, product).await?;
    let merchant_type = parties.config.merchant_types.find(&merchant.merchant_type)?;
    let limits = merchant_type.limits();
    let keys = receipts_keys(&parties.config, &merchant.id, work.now);
    let received = Receipts { today: work.counter(&keys[0]).await?, this_month: work.counter(&keys[1]).await? };
    received.receive(amount, limits).map_err(|limit| MerchantFailure::Rejected(super::Rejection::of(limit)))?;
    if !count {
        return Ok(None);
    }
    work.add_to_counter(&keys[0], amount, Some(limits.per_day));
    work.add_to_counter(&keys[1], amount, Some(limits.per_month));
    Ok(Some(MerchantCount { keys: keys.to_vec(), amount }))
}

/// Gives back what of a payment's count its merchant did not receive, down to `received`, in the
/// payment's write that says so (refused by the ledger, released, returned, captured in part).
pub(crate) fn give_back(work: &mut Work, count: &mut Option<MerchantCount>, received: i64) {
    let Some(counted) = count.as_mut() else { return };
    let back = counted.amount - received.max(0);
    if back <= 0 {
        return;
    }
    for key in &counted.keys {
        work.add_to_counter(key, -back, None);
    }
    counted.amount -= back;
}

/// Refuses a business whose certificate another customer holds: as its own certificate (a verified
/// authentication), or as an approved merchant's business.
async fn check_business_of(work: &mut Work, business_key: &str, customer: &str) -> Result<(), MerchantFailure> {
    for namespace in [CERTIFICATE_KEY, MERCHANT_BUSINESS_KEY] {
        if work.key_owner(namespace, business_key).await?.is_some_and(|owner| owner != customer) {
            return Err(rejected(MerchantError::BusinessOfAnotherCustomer));
        }
    }
    Ok(())
}

/// A merchant closing gives its business's key up, unless its customer still has another approved
/// merchant (active or frozen) of the same business, or holds the certificate itself.
async fn release_business_of(work: &mut Work, closing: &StoredMerchant) -> Result<(), MerchantFailure> {
    let merchants: Vec<StoredMerchant> = work.indexed(MERCHANTS_OF_CUSTOMER, &closing.customer_id).await?;
    let still_held = merchants.iter().any(|m| {
        m.id != closing.id
            && m.business_key == closing.business_key
            && matches!(m.status(), MerchantStatus::Active | MerchantStatus::Frozen)
    });
    let own = work.key_owner(CERTIFICATE_KEY, &closing.business_key).await?;
    if !still_held && own.as_deref() != Some(closing.customer_id.as_str()) {
        work.release(MERCHANT_BUSINESS_KEY, &closing.business_key, &closing.customer_id);
    }
    Ok(())
}

fn set_status(
    work: &mut Work,
    merchant: &mut StoredMerchant,
    to: MerchantStatus,
    reason: Option<&Reason>,
    actor: &Actor,
    action: &str,
) {
    let from = std::mem::replace(&mut merchant.status, to.as_str().to_owned());
    merchant.status_reason = reason.map(|r| r.as_str().to_owned());
    merchant.updated_at = work.now;
    work.put(&*merchant);
    let mut detail = json!({ "from": from, "to": to.as_str() });
    if action == "merchant.reviewed" {
        if let Some(last) = merchant.reviews.last() {
            detail["decision"] = json!(last.decision);
        }
        if to == MerchantStatus::Active {
            detail["accounts"] = json!(merchant.accounts);
        }
    }
    work.history(&merchant.id, &merchant.customer_id, action, actor, reason, detail);
}
