//! The sealing pass: `serve` runs it before it answers anything, and it brings every certificate
//! number in the party store to the form written now.
//!
//! - A customer's certificate and a company's credit code and legal person's certificate are sealed
//!   under the current data key. Records kept in the clear (databases written before sealing), or
//!   sealed under a retired key (after the data key was replaced), are written again.
//! - A certificate's unique key holds its index (the keyed hash under the server secret), not its
//!   number: a key that holds the number is released and the index claimed, in the same transaction
//!   that seals the customer.
//! - Authentication subjects and history details that held a number whole (a business licence's
//!   credit code was shown whole before) are masked; this is the one time history is rewritten.
//! - Once anything kept in the clear was replaced, the freed space of the party tables is erased
//!   (`PartyStore::party_erase_freed_space`), which would otherwise still hold the old rows.
//!
//! Where it got to is a record of its own (`sealing:certificates`): the data key everything is sealed
//! under, and a check value of the secret the keys were made with. A start with the same key and
//! secret reads nothing else; a start with another secret is refused, since no certificate would be
//! found under it and a second customer could claim one; a start with a new data key seals again what
//! the retired one sealed.

use anyhow::anyhow;
use sanhu_core::id::CustomerId;
use sanhu_core::party::{Authentication, Certificate, CertificateType};
use sanhu_store::party::{ChangeQuery, PartyStore};
use serde::{Deserialize, Serialize};

use super::customers::{certificate_key, clear_certificate_key, load_customer};
use super::documents::{certificate_form, CertificateForm, Document, Record, StoredAuthentication, StoredCompany};
use super::error::PartyError;
use super::work::CERTIFICATE_KEY;
use super::{Parties, StoredCustomer};

/// Records (or history rows) read at a time.
const SEALING_PAGE_RECORDS: u32 = 500;
const SEALING_RECORD_ID: &str = "sealing:certificates";

/// Where the sealing pass got to, kept as a record of its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealingState {
    id: String,
    customer_id: String,
    /// `PartySecret::certificate_index_check` of the secret the certificates' keys were made with.
    index_check: String,
    /// The id of the data key every certificate number is sealed under.
    data_key: String,
}

impl Document for SealingState {
    const KIND: &'static str = "sealing";
    fn record_id(&self) -> String {
        self.id.clone()
    }
    fn customer_id(&self) -> String {
        self.customer_id.clone()
    }
    fn encode(&self) -> String {
        serde_json::to_string(self).expect("the sealing state encodes")
    }
    fn decode(data: &str) -> anyhow::Result<Self> {
        serde_json::from_str(data).map_err(|e| anyhow!("stored sealing state: {e}"))
    }
}

/// What a sealing pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SealingReport {
    /// Everything was sealed under the current key already, with the same secret: nothing was read.
    pub up_to_date: bool,
    /// Customers and company details written again, sealed under the current key.
    pub customers_sealed: u64,
    pub companies_sealed: u64,
    /// How many of those had kept their numbers in the clear (the others were sealed under a retired
    /// key).
    pub records_in_clear: u64,
    /// Certificate keys that held a number, replaced by its index.
    pub keys_replaced: u64,
    /// Authentication subjects and history rows that held a number whole, masked.
    pub authentications_masked: u64,
    pub history_masked: u64,
    /// Whether the party tables' freed space was erased (something had been kept in the clear).
    pub freed_space_erased: bool,
}

impl SealingReport {
    fn replaced_clear_text(&self) -> bool {
        self.records_in_clear + self.keys_replaced + self.authentications_masked + self.history_masked > 0
    }
}

impl Parties {
    /// Brings every certificate number in the store to the form written now (see the module's
    /// documentation). Safe to run at any time and from several instances at once: each record is
    /// rewritten in its own transaction, on what is current.
    pub async fn seal_certificates(&self) -> anyhow::Result<SealingReport> {
        let mut report = SealingReport::default();
        let index_check = self.config.secret.certificate_index_check();
        let data_key = self.config.data_keys.current_id().to_string();
        let state = self.reader().get::<SealingState>(SEALING_RECORD_ID).await?;
        if let Some(state) = &state {
            anyhow::ensure!(
                state.index_check == index_check,
                "the server secret is not the one this database's certificates are indexed under: with it, no \
                 certificate would be found and one customer's certificate could be claimed by another. Configure \
                 the secret this database was used with"
            );
            if state.data_key == data_key {
                report.up_to_date = true;
                return Ok(report);
            }
        }
        self.seal_records(&mut report).await.map_err(anyhow::Error::from)?;
        if state.is_none() {
            // Written before sealing, or new: the clear forms outside the records are masked once.
            self.mask_authentication_subjects(&mut report).await.map_err(anyhow::Error::from)?;
            self.mask_history(&mut report).await?;
        }
        if report.replaced_clear_text() {
            self.store.party_erase_freed_space().await?;
            report.freed_space_erased = true;
        }
        let written = transact!(self, PartyError, |work| {
            work.get::<SealingState>(SEALING_RECORD_ID).await?;
            work.put(&SealingState {
                id: SEALING_RECORD_ID.to_owned(),
                customer_id: String::new(),
                index_check: index_check.clone(),
                data_key: data_key.clone(),
            });
            Ok(())
        });
        written.map_err(anyhow::Error::from)?;
        Ok(report)
    }

    /// Customers and company details not sealed under the current key, written again.
    async fn seal_records(&self, report: &mut SealingReport) -> Result<(), PartyError> {
        for kind in [<StoredCustomer as Record>::KIND, <StoredCompany as Record>::KIND] {
            let mut after: Option<String> = None;
            loop {
                let records = self.store.party_list(kind, after.as_deref(), SEALING_PAGE_RECORDS).await?;
                let Some(last) = records.last() else { break };
                after = Some(last.id.clone());
                for record in &records {
                    match certificate_form(&record.data, &self.config.data_keys)? {
                        CertificateForm::SealedUnderCurrentKey => continue,
                        CertificateForm::SealedUnderRetiredKey => {}
                        CertificateForm::Clear => report.records_in_clear += 1,
                    }
                    if kind == <StoredCustomer as Record>::KIND {
                        let id = CustomerId::parse(&record.id)
                            .ok_or_else(|| anyhow!("stored customer {:?} has no customer id", record.id))?;
                        if self.seal_customer(id).await? {
                            report.keys_replaced += 1;
                        }
                        report.customers_sealed += 1;
                    } else {
                        self.seal_company(&record.id).await?;
                        report.companies_sealed += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a customer again (sealing its certificate under the current key) and, when its
    /// certificate's key holds the number, replaces that key by the index. Whether it did.
    async fn seal_customer(&self, customer_id: CustomerId) -> Result<bool, PartyError> {
        transact!(self, |work| {
            let stored = load_customer(work, customer_id).await?;
            let owner = customer_id.to_string();
            let mut replaced = false;
            if let Some(certificate) = stored.customer.certificate() {
                // A merged customer may keep the certificate that moved to its survivor: the key is the
                // survivor's, and its own pass replaces it.
                let clear = clear_certificate_key(certificate);
                if work.key_owner(CERTIFICATE_KEY, &clear).await?.as_deref() == Some(owner.as_str()) {
                    let index = certificate_key(work.secret(), certificate);
                    work.release(CERTIFICATE_KEY, &clear, &owner);
                    work.claim(CERTIFICATE_KEY, &index, &owner);
                    replaced = true;
                }
            }
            work.put(&stored);
            Ok(replaced)
        })
    }

    async fn seal_company(&self, record_id: &str) -> Result<(), PartyError> {
        transact!(self, |work| {
            if let Some(company) = work.get::<StoredCompany>(record_id).await? {
                work.put(&company);
            }
            Ok(())
        })
    }

    /// Authentication subjects recorded with a certificate number whole, masked.
    async fn mask_authentication_subjects(&self, report: &mut SealingReport) -> Result<(), PartyError> {
        let kind = <StoredAuthentication as Document>::KIND;
        let mut after: Option<String> = None;
        loop {
            let records = self.store.party_list(kind, after.as_deref(), SEALING_PAGE_RECORDS).await?;
            let Some(last) = records.last() else { break };
            after = Some(last.id.clone());
            for record in &records {
                let stored = <StoredAuthentication as Document>::decode(&record.data)?;
                if masked_trailing_certificate(stored.authentication.masked_subject()).is_none() {
                    continue;
                }
                let masked = transact!(self, PartyError, |work| {
                    let Some(stored) = work.get::<StoredAuthentication>(&record.id).await? else { return Ok(false) };
                    let a = &stored.authentication;
                    let Some(subject) = masked_trailing_certificate(a.masked_subject()) else { return Ok(false) };
                    let authentication = Authentication::restore(
                        a.id(),
                        a.member(),
                        a.authentication_type(),
                        a.channel().clone(),
                        subject,
                        a.status(),
                        a.requested_at(),
                        a.decided_at(),
                    )
                    .map_err(|e| anyhow!("stored authentication {}: {e}", record.id))?;
                    work.put(&StoredAuthentication { authentication, ..stored });
                    Ok(true)
                })?;
                report.authentications_masked += u64::from(masked);
            }
        }
        Ok(())
    }

    /// History rows whose detail holds a certificate number whole, masked.
    async fn mask_history(&self, report: &mut SealingReport) -> anyhow::Result<()> {
        let mut after_seq = 0;
        loop {
            let query = ChangeQuery { record_id: None, customer_id: None, after_seq, limit: SEALING_PAGE_RECORDS };
            let changes = self.store.party_changes(&query).await?;
            let Some(last) = changes.last() else { break };
            after_seq = last.seq;
            for change in &changes {
                let Ok(serde_json::Value::Object(mut detail)) = serde_json::from_str(&change.detail) else { continue };
                if mask_history_detail(&mut detail)
                    && self
                        .store
                        .party_rewrite_change_detail(change.seq, &serde_json::Value::Object(detail).to_string())
                        .await?
                {
                    report.history_masked += 1;
                }
            }
        }
        Ok(())
    }
}

/// A subject or text whose last word is a certificate number in the clear, with that number masked;
/// None when it ends in none. The word before the number names its type when it is one
/// (`张三 id_card 110…`); otherwise the number is taken as a credit code (`某某公司 9111…`), the one
/// sanhu showed whole before.
fn masked_trailing_certificate(text: &str) -> Option<String> {
    let (head, last) = text.rsplit_once(' ')?;
    let named = head.rsplit(' ').next().and_then(|word| CertificateType::parse(word).ok());
    let certificate = Certificate::parse(named.unwrap_or(CertificateType::UnifiedSocialCreditCode), last).ok()?;
    Some(format!("{head} {}", certificate.masked()))
}

/// Masks the certificate numbers a history detail holds whole: `credit_code` (company details
/// recorded), `certificate` with its `certificate_type` (a certificate assigned), `subject` (an
/// authentication requested). Whether it changed anything.
fn mask_history_detail(detail: &mut serde_json::Map<String, serde_json::Value>) -> bool {
    let mut changed = false;
    let named_type =
        detail.get("certificate_type").and_then(|t| t.as_str()).and_then(|t| CertificateType::parse(t).ok());
    let fields = [("credit_code", Some(CertificateType::UnifiedSocialCreditCode)), ("certificate", named_type)];
    for (field, certificate_type) in fields {
        let (Some(certificate_type), Some(serde_json::Value::String(text))) = (certificate_type, detail.get(field))
        else {
            continue;
        };
        if let Ok(certificate) = Certificate::parse(certificate_type, text) {
            detail.insert(field.to_owned(), serde_json::Value::String(certificate.masked()));
            changed = true;
        }
    }
    if let Some(serde_json::Value::String(subject)) = detail.get("subject") {
        if let Some(masked) = masked_trailing_certificate(subject) {
            detail.insert("subject".to_owned(), serde_json::Value::String(masked));
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_credit_code_at_the_end_of_a_subject_is_masked_and_a_masked_one_is_left() {
        assert_eq!(
            masked_trailing_certificate("某某科技有限公司 91110108MA01ABCD0B").as_deref(),
            Some("某某科技有限公司 911***********CD0B")
        );
        assert_eq!(masked_trailing_certificate("某某科技有限公司 911***********CD0B"), None);
        assert_eq!(
            masked_trailing_certificate("张三 id_card 110101199003071233").as_deref(),
            Some("张三 id_card 110***********1233")
        );
        assert_eq!(masked_trailing_certificate("张三 id_card 110***********1233"), None);
        assert_eq!(masked_trailing_certificate("138****5678"), None);
    }

    #[test]
    fn history_details_lose_their_whole_numbers_and_keep_the_rest() {
        let mut company = json!({"member": "mem_1", "name": "Acme", "credit_code": "91110108MA01ABCD0B"});
        assert!(mask_history_detail(company.as_object_mut().unwrap()));
        assert_eq!(company, json!({"member": "mem_1", "name": "Acme", "credit_code": "911***********CD0B"}));

        let mut assigned = json!({"certificate_type": "unified_social_credit_code",
                                  "certificate": "91110108MA01ABCD0B", "authentication": "aut_1"});
        assert!(mask_history_detail(assigned.as_object_mut().unwrap()));
        assert_eq!(assigned["certificate"], "911***********CD0B");

        let mut requested = json!({"type": "business_licence", "subject": "Acme 91110108MA01ABCD0B"});
        assert!(mask_history_detail(requested.as_object_mut().unwrap()));
        assert_eq!(requested["subject"], "Acme 911***********CD0B");

        let mut status = json!({"from": "normal", "to": "frozen"});
        assert!(!mask_history_detail(status.as_object_mut().unwrap()));
        let mut masked = json!({"certificate_type": "id_card", "certificate": "110***********1233"});
        assert!(!mask_history_detail(masked.as_object_mut().unwrap()));
    }
}
