//! Service providers (服务商, the member school's second mode, as WeChat Pay has it): a merchant that
//! keeps its own login and clients authorises a service provider (a merchant at a level configured
//! `service_provider`) for named products, and may revoke it. The provider's bound client then acts
//! for the merchant within exactly those products, and nothing else of the merchant's.
//!
//! **Kept where.** An authorisation is kept in the authorising merchant's record (`providers`), in the
//! order they came, which the reach rule reads with the object's owner; the merchant is filed under
//! the provider as well (`provider_merchants`), for the provider's side. At most one authorisation of a provider is in force
//! at a time: authorising it again replaces the products (the earlier one is revoked in the same
//! write). Every change is in the merchant's history (`merchant.provider_authorised`,
//! `merchant.provider_revoked`) and the audit log.
//!
//! **Reach.** [`Parties::reaches_for`] is the one rule of reach with a purpose: the hierarchy's reach
//! ([`Parties::reaches`]) first; failing it, through a provider's authorisation the provider's client
//! reads the merchant, and reaches the members registered for the merchant (its customers) only for a
//! request that uses a product the authorisation names and, when it pays, pays the merchant; a
//! request that uses another product is told so (`provider_product_not_authorised`). The member
//! running the merchant (its own wallet and receipts), its other merchants, and anything else of it
//! are beyond reach (their ids answer 404, as if absent). A revocation is a write of the
//! merchant's record, and every request is checked against the record as it stands when it is checked:
//! refused at once after it.

use sanhu_core::id::{MemberId, MerchantId};
use sanhu_core::party::merchant::MerchantStatus;
use sanhu_core::party::product::{PlatformProduct, ProviderError};
use sanhu_core::party::{Actor, Reason};
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::documents::StoredMember;
use super::error::PartyError;
use super::merchants::{load_merchant, MerchantFailure, StoredMerchant, MERCHANTS_OF_MEMBER};
use super::work::actor_text;
use super::Parties;
use crate::wallet::records::time_ns;

/// The merchants that authorised a provider, filed under the provider.
pub(crate) const PROVIDER_MERCHANTS: &str = "provider_merchants";
/// The most products one authorisation names.
pub const PROVIDER_PRODUCTS_MAX: usize = 20;
/// The most authorisations of providers one merchant's record keeps, revoked ones included.
pub const PROVIDER_AUTHORISATIONS_MAX: usize = 50;
/// How many merchants one provider's read takes at most.
const SERVED_MAX: u32 = 10_000;

/// A merchant's authorisation of a service provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAuthorisation {
    pub provider_id: String,
    /// Names it among the merchant's authorisations (1, 2, ...).
    pub serial: u32,
    /// The products the provider acts in, in the order named.
    pub products: Vec<String>,
    /// `authorised` or `revoked`.
    pub status: String,
    pub authorised_by: String,
    #[serde(with = "time_ns")]
    pub authorised_at: Timestamp,
    /// Who revoked it (or replaced it), and why.
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
}

impl ProviderAuthorisation {
    pub fn in_force(&self) -> bool {
        self.status == "authorised"
    }
}

/// What a request that names a member's object uses, for the reach rule: nothing in particular, the
/// reading of the merchant it names, or a product (with the member owning the account that receives
/// the money, when the flow pays one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Anything else: a provider reaches none of it.
    Other,
    /// Reading a merchant (`GET /v1/merchants/{id}`): a provider reads the merchants that authorised it.
    ReadMerchant(MerchantId),
    /// A money flow that uses this product and keeps the money with the payer's own accounts (a
    /// recharge, a withdrawal to the payer's own card).
    Product(PlatformProduct),
    /// A money flow that uses this product and pays the account owned by `receiver` (None: an account
    /// that names no member, or several receivers).
    Paying(PlatformProduct, Option<MemberId>),
}

/// The answer of [`Parties::reaches_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    Yes,
    /// Reached through a provider's authorisation that does not name the product the request uses.
    ProductNotAuthorised(PlatformProduct),
    No,
}

impl StoredMerchant {
    /// The authorisation of `provider` in force, if any.
    pub fn provider_authorisation(&self, provider: &str) -> Option<&ProviderAuthorisation> {
        self.providers.iter().rev().find(|a| a.provider_id == provider && a.in_force())
    }
}

fn rejected(error: ProviderError) -> MerchantFailure {
    MerchantFailure::Rejected(super::Rejection::of(error))
}

impl Parties {
    /// The rule of reach with a purpose: whether a client bound to `bound` reaches what `owner` owns for
    /// a request of `purpose`. The hierarchy's reach ([`Parties::reaches`]) first. Else through an
    /// authorisation in force that a merchant gave a service provider `bound` runs: reading that
    /// merchant; or, for a product the authorisation names, the members registered for that merchant
    /// (its customers, never the member running it), paying that merchant's member only.
    pub async fn reaches_for(&self, bound: MemberId, owner: MemberId, purpose: Purpose) -> Result<Reached, PartyError> {
        if self.reaches(bound, owner).await? {
            return Ok(Reached::Yes);
        }
        let (product, receiver) = match purpose {
            Purpose::Other => return Ok(Reached::No),
            Purpose::ReadMerchant(id) => {
                let mut work = self.reader();
                let Some(merchant) = work.get::<StoredMerchant>(&id.to_string()).await? else {
                    return Ok(Reached::No);
                };
                let given = self.given_to(bound, &merchant).await?;
                return Ok(if given.is_some() { Reached::Yes } else { Reached::No });
            }
            Purpose::Product(product) => (product, None),
            Purpose::Paying(product, receiver) => (product, Some(receiver)),
        };
        // The owner's merchant: the one it is registered for.
        let mut work = self.reader();
        let Some(member) = work.get::<StoredMember>(&owner.to_string()).await? else { return Ok(Reached::No) };
        let Some(scope) = member.scope else { return Ok(Reached::No) };
        let Some(merchant) = work.get::<StoredMerchant>(&scope.merchant_id).await? else { return Ok(Reached::No) };
        let Some(given) = self.given_to(bound, &merchant).await? else { return Ok(Reached::No) };
        if let Some(receiver) = receiver {
            if receiver.map(|r| r.to_string()) != Some(merchant.member_id.clone()) {
                return Ok(Reached::No);
            }
        }
        if given.products.iter().any(|p| p == product.code()) {
            Ok(Reached::Yes)
        } else {
            Ok(Reached::ProductNotAuthorised(product))
        }
    }

    /// The authorisation in force `merchant` gave a service provider `bound` runs, if any.
    async fn given_to(
        &self,
        bound: MemberId,
        merchant: &StoredMerchant,
    ) -> Result<Option<ProviderAuthorisation>, PartyError> {
        use sanhu_store::party::PartyStore;
        if !merchant.providers.iter().any(ProviderAuthorisation::in_force) {
            return Ok(None);
        }
        let runs = self.store.party_index(MERCHANTS_OF_MEMBER, &bound.to_string(), SERVED_MAX).await?;
        Ok(merchant.providers.iter().rev().find(|a| a.in_force() && runs.contains(&a.provider_id)).cloned())
    }

    /// The merchant authorises `provider` (a merchant at a service-provider level, active, not itself)
    /// for `products` (1 to 20 distinct configured ones). An authorisation of the provider in force is
    /// replaced: revoked in the same write, the new one naming exactly these products.
    pub async fn authorise_provider(
        &self,
        id: MerchantId,
        provider: MerchantId,
        products: &[String],
        actor: &Actor,
    ) -> Result<ProviderAuthorisation, MerchantFailure> {
        let mut named: Vec<String> = Vec::new();
        for p in products {
            if self.config.products.find(p).is_err() || named.contains(p) {
                return Err(rejected(ProviderError::ProductsInvalid));
            }
            named.push(p.clone());
        }
        if named.is_empty() || named.len() > PROVIDER_PRODUCTS_MAX {
            return Err(rejected(ProviderError::ProductsInvalid));
        }
        if id == provider {
            return Err(rejected(ProviderError::SelfNamed));
        }
        let _turn = self.turns.take([format!("merchant:{id}")]).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let Some(p) = work.get::<StoredMerchant>(&provider.to_string()).await? else {
                return Err(rejected(ProviderError::Unknown));
            };
            let levels = &self.config.merchant_levels;
            let is_provider = p.level.as_deref().and_then(|l| levels.find(l).ok()).is_some_and(|l| l.service_provider);
            if !is_provider {
                return Err(rejected(ProviderError::NotServiceProvider));
            }
            if p.status() != MerchantStatus::Active {
                return Err(rejected(ProviderError::NotActive));
            }
            if merchant.providers.len() >= PROVIDER_AUTHORISATIONS_MAX {
                return Err(rejected(ProviderError::TooMany));
            }
            let now = work.now;
            let by = actor_text(actor);
            let mut replaced = None;
            if let Some(current) = merchant.providers.iter_mut().rev().find(|a| a.provider_id == p.id && a.in_force()) {
                current.status = "revoked".to_owned();
                current.revoked_by = Some(by.clone());
                current.revoked_reason = Some("replaced by a new authorisation".to_owned());
                current.updated_at = now;
                replaced = Some(current.serial);
            }
            let authorisation = ProviderAuthorisation {
                provider_id: p.id.clone(),
                serial: merchant.providers.len() as u32 + 1,
                products: named.clone(),
                status: "authorised".to_owned(),
                authorised_by: by,
                authorised_at: now,
                revoked_by: None,
                revoked_reason: None,
                updated_at: now,
            };
            merchant.providers.push(authorisation.clone());
            merchant.updated_at = now;
            work.put(&merchant);
            // The provider is read, not written: its later status does not undo the authorisation,
            // which the merchant revokes.
            work.index(PROVIDER_MERCHANTS, &p.id, &merchant.id);
            let detail = json!({
                "provider": p.id, "serial": authorisation.serial, "products": named, "replaces": replaced,
            });
            work.history(&merchant.id, &merchant.customer_id, "merchant.provider_authorised", actor, None, detail);
            Ok(authorisation)
        })
    }

    /// The merchant revokes its authorisation of `provider` in force, with a reason: from then on the
    /// provider's client reaches nothing of it.
    pub async fn revoke_provider(
        &self,
        id: MerchantId,
        provider: MerchantId,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<ProviderAuthorisation, MerchantFailure> {
        let _turn = self.turns.take([format!("merchant:{id}")]).await;
        let provider = provider.to_string();
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let now = work.now;
            let Some(current) = merchant.providers.iter_mut().rev().find(|a| a.provider_id == provider && a.in_force())
            else {
                return Err(rejected(ProviderError::AuthorisationNotFound));
            };
            current.status = "revoked".to_owned();
            current.revoked_by = Some(actor_text(actor));
            current.revoked_reason = Some(reason.as_str().to_owned());
            current.updated_at = now;
            let revoked = current.clone();
            merchant.updated_at = now;
            work.put(&merchant);
            work.unindex(PROVIDER_MERCHANTS, &provider, &merchant.id);
            let detail = json!({ "provider": provider, "serial": revoked.serial, "products": revoked.products });
            work.history(&merchant.id, &merchant.customer_id, "merchant.provider_revoked", actor, Some(reason), detail);
            Ok(revoked)
        })
    }

    /// The merchant's authorisations of providers, in the order given (revoked ones too).
    pub async fn merchant_providers(&self, id: MerchantId) -> Result<Vec<ProviderAuthorisation>, MerchantFailure> {
        let mut work = self.reader();
        Ok(load_merchant(&mut work, id).await?.providers)
    }
}
