//! Enterprise members (企业会员): registration with the company details (企业资质) and the first admin
//! operator, in one transaction, and the company details read back.
//!
//! The unified social credit code in the details is what the enterprise claims. The customer takes it
//! as its certificate only from a verified business-licence authentication (`authentications.rs`),
//! which also merges it with a customer already holding that code; registration assigns nothing.

use sanhu_core::id::MemberId;
use sanhu_core::party::enterprise::check_enterprise;
use sanhu_core::party::identity::IdentityError;
use sanhu_core::party::{
    Actor, CompanyDetails, Customer, CustomerScope, LoginIdentity, Member, Operator, OperatorRole, PartyKind,
};
use serde_json::json;

use super::customers::{name_key, StoredCustomer};
use super::documents::{company_id, DailySpend, StoredCompany, StoredMember, StoredOperator};
use super::error::PartyError;
use super::members::load_member;
use super::work::{CUSTOMERS_BY_NAME, IDENTITY_KEY, MEMBERS_OF_CUSTOMER, OPERATORS_OF_MEMBER};
use super::Parties;
use crate::clock;

/// What registering an enterprise member takes.
#[derive(Clone, Debug)]
pub struct EnterpriseRegistration {
    pub scope: CustomerScope,
    /// The identity the enterprise member itself is known and found by (its email, its phone).
    pub identity: LoginIdentity,
    pub company: CompanyDetails,
    /// The identity the first admin operator signs in with: its own, so another one than the member's.
    pub admin_identity: LoginIdentity,
}

/// A registered enterprise: its customer (named after the company), its member, the company details
/// and the first admin operator.
#[derive(Clone, Debug)]
pub struct RegisteredEnterprise {
    pub customer: StoredCustomer,
    pub member: StoredMember,
    pub company: StoredCompany,
    pub admin: StoredOperator,
}

impl Parties {
    /// Registers an inactive enterprise member under a new enterprise customer, with its company
    /// details and its first admin operator (一个企业会员至少拥有一个操作员), all or nothing.
    pub async fn register_enterprise(
        &self,
        registration: &EnterpriseRegistration,
        actor: &Actor,
    ) -> Result<RegisteredEnterprise, PartyError> {
        transact!(self, |work| {
            let member_key = registration.identity.uniqueness_key();
            let admin_key = registration.admin_identity.uniqueness_key();
            if member_key == admin_key
                || work.key_owner(IDENTITY_KEY, &member_key).await?.is_some()
                || work.key_owner(IDENTITY_KEY, &admin_key).await?.is_some()
            {
                return Err(IdentityError::IdentityTaken.into());
            }
            let kind = PartyKind::Enterprise;
            let customer = Customer::register(clock::new_id(), kind, registration.scope, work.now);
            let member = Member::register(clock::new_id(), &customer, kind, work.now)?;
            let admin = Operator::create(clock::new_id(), &member, OperatorRole::Admin, work.now)?;
            let company_name = registration.company.name().clone();
            let customer = StoredCustomer { customer, name: Some(company_name.clone()) };
            let customer_id = customer.customer.id();
            let member = StoredMember { member, identities: vec![registration.identity.clone()], scope: None };
            let member_id = member.member.id();
            let company = StoredCompany { member_id, customer_id, details: registration.company.clone() };
            let admin = StoredOperator {
                operator: admin,
                customer_id,
                identities: vec![registration.admin_identity.clone()],
                spent: DailySpend::default(),
            };
            let (customer_key, member_key_id, admin_id) =
                (customer_id.to_string(), member_id.to_string(), admin.operator.id().to_string());
            work.put(&customer);
            work.put(&member);
            work.put(&company);
            work.put(&admin);
            work.claim(IDENTITY_KEY, &member_key, &member_key_id);
            work.claim(IDENTITY_KEY, &admin_key, &admin_id);
            work.index(MEMBERS_OF_CUSTOMER, &customer_key, &member_key_id);
            work.index(OPERATORS_OF_MEMBER, &member_key_id, &admin_id);
            work.index(CUSTOMERS_BY_NAME, &name_key(company_name.as_str()), &customer_key);
            work.history(
                &customer_key,
                &customer_key,
                "customer.registered",
                actor,
                None,
                json!({ "kind": kind.as_str(), "scope": registration.scope.as_str() }),
            );
            work.history(
                &member_key_id,
                &customer_key,
                "member.registered",
                actor,
                None,
                json!({ "identity": registration.identity.kind(), "status": "inactive" }),
            );
            work.history(
                &company_id(member_id),
                &customer_key,
                "company.recorded",
                actor,
                None,
                json!({
                    "member": member_key_id,
                    "name": company_name.as_str(),
                    // A claim until a business-licence authentication verifies it.
                    "credit_code": registration.company.credit_code().masked(),
                }),
            );
            work.history(
                &admin_id,
                &customer_key,
                "operator.added",
                actor,
                None,
                json!({ "member": member_key_id, "role": "admin", "identity": registration.admin_identity.kind() }),
            );
            Ok(RegisteredEnterprise { customer, member, company, admin })
        })
    }

    /// An enterprise member's company details: none for an enterprise member registered as a plain
    /// member (`register_member`), `member_not_enterprise` for a personal member.
    pub async fn company_details(&self, member_id: MemberId) -> Result<Option<StoredCompany>, PartyError> {
        let mut work = self.reader();
        if let Some(company) = work.get::<StoredCompany>(&company_id(member_id)).await? {
            return Ok(Some(company));
        }
        let member = load_member(&mut work, member_id).await?;
        check_enterprise(member.member.kind())?;
        Ok(None)
    }
}
