//! Customers (客户): status changes that reach every account below the customer, merges (归并), and
//! the back office's view and search.

use sanhu_core::id::CustomerId;
use sanhu_core::ledger::Account;
use sanhu_core::party::merge::{MergeBasis, MergeRecord};
use sanhu_core::party::{
    effective_flags, plan_merge, Actor, Certificate, CertificateType, CustomerStatus, LoginIdentity, MergeGround,
    PhoneNumber, Reason,
};
use sanhu_store::party::{ChangeQuery, PartyStore};
use sanhu_store::LedgerStore;
use serde_json::json;

pub use super::documents::StoredCustomer;
use super::documents::{company_id, HistoryEntry, MemberAccount, StoredCompany, StoredMember, StoredOperator};
use super::error::{PartyError, CUSTOMER_NOT_FOUND};
use super::work::{
    Work, ACCOUNTS_OF_MEMBER, CERTIFICATE_KEY, CUSTOMERS_BY_NAME, IDENTITY_KEY, MEMBERS_OF_CUSTOMER,
    OPERATORS_OF_MEMBER,
};
use super::{Parties, PartySecret};

/// Everything the back office sees of one customer.
#[derive(Clone, Debug)]
pub struct CustomerView {
    pub customer: StoredCustomer,
    pub members: Vec<StoredMember>,
    /// Each member account with its ledger account (balances, flags).
    pub accounts: Vec<(MemberAccount, Account)>,
    /// The customer's history, oldest first (the latest `HISTORY_IN_VIEW` entries).
    pub history: Vec<HistoryEntry>,
}

/// Most history entries a customer view carries; the history endpoint pages through the rest.
const HISTORY_IN_VIEW: u32 = 100;

/// How to find customers. Its `Debug` masks a certificate number.
#[derive(Clone)]
pub enum CustomerSearch {
    /// A certificate number, of any certificate type: found by its index, never compared in the clear.
    CertificateNumber(String),
    /// A member's phone number.
    Phone(PhoneNumber),
    /// The customer's name exactly as recorded (after canonical spacing).
    Name(String),
}

impl std::fmt::Debug for CustomerSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CustomerSearch::CertificateNumber(number) => {
                write!(f, "CertificateNumber({})", sanhu_core::party::mask::mask_id_number(number))
            }
            CustomerSearch::Phone(phone) => write!(f, "Phone({phone:?})"),
            CustomerSearch::Name(name) => write!(f, "Name({name:?})"),
        }
    }
}

impl Parties {
    /// Sets a customer's status (normal, banned, frozen, stop-payment) and brings every account of its
    /// members to the flags that status and the account's own status make together.
    pub async fn change_customer_status(
        &self,
        customer_id: CustomerId,
        to: CustomerStatus,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredCustomer, PartyError> {
        transact!(self, |work| {
            let stored = load_customer(work, customer_id).await?;
            let change = work.change(actor, reason);
            let (customer, record) = stored.customer.change_status(to, change)?;
            let stored = StoredCustomer { customer, ..stored };
            work.put(&stored);
            let id = customer_id.to_string();
            for account in accounts_of_customer(work, customer_id).await? {
                work.set_ledger_flags(account.account_id, effective_flags(account.status, to), false);
            }
            work.history(
                &id,
                &id,
                "customer.status_changed",
                actor,
                Some(reason),
                json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
            );
            Ok(stored)
        })
    }

    /// Merges `absorbed` into `survivor` on an administrator's decision (归并), with a reason. A merge
    /// caused by a verified authentication happens in `decide_authentication`.
    pub async fn merge_customers(
        &self,
        survivor: CustomerId,
        absorbed: CustomerId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<MergeRecord, PartyError> {
        transact!(self, |work| {
            merge(work, survivor, absorbed, MergeGround::Administrator(reason.clone()), actor).await
        })
    }

    pub async fn get_customer(&self, customer_id: CustomerId) -> Result<StoredCustomer, PartyError> {
        load_customer(&mut self.reader(), customer_id).await
    }

    /// The customer with its members, accounts, balances, statuses and recent history.
    pub async fn customer_view(&self, customer_id: CustomerId) -> Result<CustomerView, PartyError> {
        let mut work = self.reader();
        let customer = load_customer(&mut work, customer_id).await?;
        let id = customer_id.to_string();
        let members: Vec<StoredMember> = work.indexed(MEMBERS_OF_CUSTOMER, &id).await?;
        let mut member_accounts = Vec::new();
        for member in &members {
            member_accounts
                .extend(work.indexed::<MemberAccount>(ACCOUNTS_OF_MEMBER, &member.member.id().to_string()).await?);
        }
        let ids: Vec<_> = member_accounts.iter().map(|a| a.account_id).collect();
        let ledger = self.store.get_accounts(&ids).await?;
        let accounts = member_accounts
            .into_iter()
            .filter_map(|a| ledger.iter().find(|l| l.id == a.account_id).cloned().map(|l| (a, l)))
            .collect();
        let history = self.customer_history(customer_id, 0, HISTORY_IN_VIEW).await?;
        Ok(CustomerView { customer, members, accounts, history })
    }

    /// A customer's history, oldest first, after the entry `after_seq`.
    pub async fn customer_history(
        &self,
        customer_id: CustomerId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, PartyError> {
        let query = ChangeQuery { record_id: None, customer_id: Some(customer_id.to_string()), after_seq, limit };
        Ok(self.store.party_changes(&query).await?.into_iter().map(HistoryEntry::from).collect())
    }

    /// One record's history (a member's, an account's), oldest first.
    pub async fn record_history(
        &self,
        record_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, PartyError> {
        let query = ChangeQuery { record_id: Some(record_id.to_owned()), customer_id: None, after_seq, limit };
        Ok(self.store.party_changes(&query).await?.into_iter().map(HistoryEntry::from).collect())
    }

    /// Customers matching a search; a merged customer is followed to its survivor.
    pub async fn search_customers(&self, search: &CustomerSearch) -> Result<Vec<StoredCustomer>, PartyError> {
        let mut work = self.reader();
        let mut ids: Vec<String> = Vec::new();
        match search {
            CustomerSearch::CertificateNumber(number) => {
                for certificate_type in CertificateType::ALL {
                    let Ok(certificate) = Certificate::parse(certificate_type, number) else {
                        continue;
                    };
                    let key = certificate_key(&self.config.secret, &certificate);
                    if let Some(owner) = work.key_owner(CERTIFICATE_KEY, &key).await? {
                        ids.push(owner);
                    }
                }
            }
            CustomerSearch::Phone(phone) => {
                let key = LoginIdentity::Phone(phone.clone()).uniqueness_key();
                if let Some(member_id) = work.key_owner(IDENTITY_KEY, &key).await? {
                    if let Some(member) = work.get::<StoredMember>(&member_id).await? {
                        ids.push(member.member.customer().to_string());
                    }
                }
            }
            CustomerSearch::Name(name) => {
                ids = self.store.party_index(CUSTOMERS_BY_NAME, &name_key(name), 100).await?;
            }
        }
        let mut found: Vec<StoredCustomer> = Vec::new();
        for id in ids {
            let Some(mut customer) = work.get::<StoredCustomer>(&id).await? else { continue };
            // Follow a merged customer to its survivor (a chain is at most as long as the merges).
            let mut hops = 0;
            while let (Some(survivor), true) = (customer.customer.status().merged_into(), hops < 16) {
                match work.get::<StoredCustomer>(&survivor.to_string()).await? {
                    Some(next) => customer = next,
                    None => break,
                }
                hops += 1;
            }
            if !found.iter().any(|c| c.customer.id() == customer.customer.id()) {
                found.push(customer);
            }
        }
        Ok(found)
    }
}

/// The unique key of a certificate: its type and its index (the keyed hash of its type and number
/// under the server secret), never the number, which the store keeps only sealed.
pub(crate) fn certificate_key(secret: &PartySecret, certificate: &Certificate) -> String {
    format!("{}:{}", certificate.certificate_type().as_str(), secret.certificate_index(certificate))
}

/// The unique key of a certificate as databases written before sealing kept it: its type and its
/// number in the clear. Only the sealing pass looks for it, to replace it.
pub(crate) fn clear_certificate_key(certificate: &Certificate) -> String {
    format!("{}:{}", certificate.certificate_type().as_str(), certificate.number())
}

/// The search key of a name: compared without case.
pub(crate) fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

pub(crate) async fn load_customer(work: &mut Work, id: CustomerId) -> Result<StoredCustomer, PartyError> {
    work.get::<StoredCustomer>(&id.to_string()).await?.ok_or(PartyError::NotFound(CUSTOMER_NOT_FOUND))
}

/// Every member account of every member of a customer.
pub(crate) async fn accounts_of_customer(work: &mut Work, id: CustomerId) -> Result<Vec<MemberAccount>, PartyError> {
    let member_ids = work.store().party_index(MEMBERS_OF_CUSTOMER, &id.to_string(), 10_000).await?;
    let mut accounts = Vec::new();
    for member_id in member_ids {
        accounts.extend(work.indexed::<MemberAccount>(ACCOUNTS_OF_MEMBER, &member_id).await?);
    }
    Ok(accounts)
}

/// Decides and writes a merge of `absorbed` into `survivor`: members and accounts move, the absorbed
/// customer is kept as merged, the certificate moves if the survivor had none, every moved account
/// takes the survivor's status, and the merge is recorded on both customers and on what moved.
pub(crate) async fn merge(
    work: &mut Work,
    survivor_id: CustomerId,
    absorbed_id: CustomerId,
    ground: MergeGround,
    actor: &Actor,
) -> Result<MergeRecord, PartyError> {
    let proof = match &ground {
        MergeGround::Authentication(proof) => Some(proof.clone()),
        MergeGround::Administrator(_) => None,
    };
    let survivor = load_customer(work, survivor_id).await?;
    let absorbed = load_customer(work, absorbed_id).await?;
    let absorbed_key = absorbed_id.to_string();
    let survivor_key = survivor_id.to_string();
    let members: Vec<StoredMember> = work.indexed(MEMBERS_OF_CUSTOMER, &absorbed_key).await?;
    let accounts = accounts_of_customer(work, absorbed_id).await?;
    let plan = plan_merge(
        survivor.customer.clone(),
        absorbed.customer.clone(),
        members.iter().map(|m| m.member.clone()).collect(),
        accounts.iter().map(|a| a.account_id).collect(),
        ground,
        actor.clone(),
        work.now,
    )?;

    if plan.record.certificate_moved {
        let certificate = absorbed.customer.certificate().expect("a moved certificate was the absorbed customer's");
        let key = certificate_key(work.secret(), certificate);
        work.release(CERTIFICATE_KEY, &key, &absorbed_key);
        work.claim(CERTIFICATE_KEY, &key, &survivor_key);
    }
    let survivor_name = survivor.name.clone().or(absorbed.name.clone());
    if let Some(name) = &absorbed.name {
        work.unindex(CUSTOMERS_BY_NAME, &name_key(name.as_str()), &absorbed_key);
    }
    if let (None, Some(name)) = (&survivor.name, &survivor_name) {
        work.index(CUSTOMERS_BY_NAME, &name_key(name.as_str()), &survivor_key);
    }
    let survivor_status = plan.survivor.status();
    work.put(&StoredCustomer { customer: plan.survivor.clone(), name: survivor_name });
    work.put(&StoredCustomer { customer: plan.absorbed.clone(), name: absorbed.name.clone() });
    for (moved, before) in plan.members.iter().zip(&members) {
        // The member whose authentication proved the certificate takes the real name it proved.
        let moved = match &proof {
            Some(proof) if proof.member() == moved.id() => moved.clone().take_real_name(proof)?,
            _ => moved.clone(),
        };
        work.put(&StoredMember {
            member: moved.clone(),
            identities: before.identities.clone(),
            scope: before.scope.clone(),
        });
        let member_key = moved.id().to_string();
        // An enterprise member's company details and operators are kept under its customer too.
        if let Some(company) = work.get::<StoredCompany>(&company_id(moved.id())).await? {
            work.put(&StoredCompany { customer_id: survivor_id, ..company });
        }
        for operator in work.indexed::<StoredOperator>(OPERATORS_OF_MEMBER, &member_key).await? {
            work.put(&StoredOperator { customer_id: survivor_id, ..operator });
        }
        work.unindex(MEMBERS_OF_CUSTOMER, &absorbed_key, &member_key);
        work.index(MEMBERS_OF_CUSTOMER, &survivor_key, &member_key);
        work.history(
            &member_key,
            &survivor_key,
            "member.moved",
            actor,
            None,
            json!({ "from_customer": absorbed_key, "to_customer": survivor_key }),
        );
    }
    for account in &accounts {
        let moved = MemberAccount { customer_id: survivor_id, ..account.clone() };
        work.put(&moved);
        work.set_ledger_flags(account.account_id, effective_flags(account.status, survivor_status), false);
    }
    let detail = merge_detail(&plan.record);
    let reason = match &plan.record.basis {
        MergeBasis::Administrator(reason) => Some(reason.clone()),
        MergeBasis::Authentication(_) => None,
    };
    work.history(&survivor_key, &survivor_key, "customer.merged_in", actor, reason.as_ref(), detail.clone());
    work.history(&absorbed_key, &absorbed_key, "customer.merged_into", actor, reason.as_ref(), detail);
    Ok(plan.record)
}

fn merge_detail(record: &MergeRecord) -> serde_json::Value {
    let basis = match &record.basis {
        MergeBasis::Authentication(id) => json!({ "authentication": id.to_string() }),
        MergeBasis::Administrator(reason) => json!({ "administrator": reason.as_str() }),
    };
    json!({
        "survivor": record.survivor.to_string(),
        "absorbed": record.absorbed.to_string(),
        "basis": basis,
        "members_moved": record.members_moved.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "accounts_moved": record.accounts_moved.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "certificate_moved": record.certificate_moved,
    })
}
