//! Signing products (签约): a merchant's applications, staff's review (maker-checker, as a merchant's
//! own review), suspension, resumption and termination, and the authorisation of a product down the
//! hierarchy, parent to child. Signings are kept in the merchant's own record (`products`), in the
//! order they came, so that a payment that reads the merchant it pays (for its status and limits)
//! reads its products with it, at no cost of its own; every change is in the merchant's history.
//!
//! **Down the hierarchy.** A merchant under a parent does not apply: its parent authorises it, one
//! child at a time, a product the parent has signed itself. The child's signing names the parent's
//! signing it came from (`authorised_by`), and is good only while that one is, and so on up: a
//! product is used by a merchant when its signing is `signed` and, if authorised, the signing above it
//! that authorised it is still the parent's current one and is used in turn. So staff's approval at the
//! top is what every signing below stands on (nothing below has what is not approved above), a child's
//! authorisation is its own (a sibling gets nothing from it), and suspending or terminating a signing
//! above takes the product from everything below at once, without rewriting one record below. A merchant
//! moved to another parent keeps no authorisation from the old one.
//!
//! **In turn.** Changes to one merchant's signings take the merchant's turn, as its other changes do.
//! An authorisation writes the parent's record again, so that a suspension of the parent's signing at
//! the same moment is met and the authorisation decided again on it.

use sanhu_core::id::MerchantId;
use sanhu_core::party::merchant::MerchantStatus;
use sanhu_core::party::product::{PlatformProduct, ProductError, Products, SigningStatus};
use sanhu_core::party::{Actor, Reason};
use sanhu_core::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::load_customer;
use super::error::MERCHANT_NOT_FOUND;
use super::merchants::{load_merchant, MerchantFailure, StoredMerchant};
use super::work::{actor_text, Work};
use super::Parties;
use crate::wallet::records::time_ns;

impl From<ProductError> for MerchantFailure {
    fn from(error: ProductError) -> Self {
        MerchantFailure::Rejected(super::Rejection::of(error))
    }
}

/// The signing above that authorised one: the parent and the serial of its signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authoriser {
    pub merchant_id: String,
    pub serial: u32,
}

/// One decision of staff's review of an application: the maker, the checker, when, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningReview {
    /// `approve` or `reject`.
    pub decision: String,
    pub reason: Option<String>,
    pub by: String,
    pub checker: Option<String>,
    #[serde(with = "time_ns")]
    pub at: Timestamp,
}

/// A merchant's signing of one product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    pub product: String,
    /// Names the signing among the merchant's (1, 2, ...): an authorisation below names it.
    pub serial: u32,
    /// `under_review`, `signed`, `rejected`, `suspended` or `terminated`.
    pub status: String,
    /// Why it reached its status (a rejection's, a suspension's, a revocation's reason).
    pub status_reason: Option<String>,
    /// The product's fee rate when it was applied for or authorised, in basis points.
    pub fee_rate_bp: u32,
    /// None: applied for and reviewed by staff. Some: authorised by the parent's signing.
    pub authorised_by: Option<Authoriser>,
    pub reviews: Vec<SigningReview>,
    /// Who applied for it (or authorised it), and when.
    pub applied_by: String,
    #[serde(with = "time_ns")]
    pub applied_at: Timestamp,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
}

impl Signing {
    pub fn status(&self) -> SigningStatus {
        SigningStatus::parse(&self.status).unwrap_or(SigningStatus::Terminated)
    }
}

/// A signing as shown: with whether the merchant may use the product now (`in_effect`: signed, and
/// every signing above it that it stands on too).
#[derive(Clone, Debug)]
pub struct SigningView {
    pub signing: Signing,
    pub in_effect: bool,
}

impl StoredMerchant {
    /// The merchant's current signing of `product`: its last.
    pub fn signing(&self, product: &str) -> Option<&Signing> {
        self.products.iter().rev().find(|s| s.product == product)
    }

    fn signing_mut(&mut self, product: &str) -> Option<&mut Signing> {
        self.products.iter_mut().rev().find(|s| s.product == product)
    }

    /// The products it has signed or applied for, each by its current signing, in the order first come.
    pub fn current_signings(&self) -> Vec<&Signing> {
        let mut seen: Vec<&str> = Vec::new();
        for s in &self.products {
            if !seen.contains(&s.product.as_str()) {
                seen.push(&s.product);
            }
        }
        seen.into_iter().filter_map(|p| self.signing(p)).collect()
    }
}

/// Whether `merchant` may use `product` now: its current signing is signed, and if a parent authorised
/// it, that parent is still its parent, the parent's current signing is the one that authorised it, and
/// the parent may use the product in turn, up to a signing staff approved. `above` holds the merchant's
/// ancestors (any order; missing ones are not in effect).
fn in_effect(merchant: &StoredMerchant, above: &[StoredMerchant], product: &str, products: &Products) -> bool {
    let mut current = merchant;
    // The chain is no longer than the merchant's ancestors; one more step is a record out of shape.
    for _ in 0..=above.len() {
        // A merchant opened before products were signed holds the products its type signs, and
        // under a parent stands on the parent's, as if the parent had authorised them.
        if !current.signs_products {
            let type_signs = products
                .find(product)
                .is_ok_and(|p| p.merchant_types.iter().any(|t| t.as_str() == current.merchant_type));
            let Some(parent_id) = current.parent_id.as_deref().filter(|_| type_signs) else { return type_signs };
            let Some(parent) = above.iter().find(|m| m.id == parent_id) else { return false };
            current = parent;
            continue;
        }
        let Some(signing) = current.signing(product) else { return false };
        if signing.status() != SigningStatus::Signed {
            return false;
        }
        // Staff's approval holds at the top only: a merchant moved under a parent gets its products
        // from the parent from then on.
        let Some(authoriser) = &signing.authorised_by else { return current.parent_id.is_none() };
        if current.parent_id.as_deref() != Some(authoriser.merchant_id.as_str()) {
            return false;
        }
        let Some(parent) = above.iter().find(|m| m.id == authoriser.merchant_id) else { return false };
        if parent.signing(product).map(|s| s.serial) != Some(authoriser.serial) {
            return false;
        }
        current = parent;
    }
    false
}

/// The merchants above `merchant`, read in one go.
async fn ancestors_of(work: &mut Work, merchant: &StoredMerchant) -> Result<Vec<StoredMerchant>, MerchantFailure> {
    if merchant.ancestors.is_empty() {
        return Ok(Vec::new());
    }
    Ok(work.get_many(&merchant.ancestors).await?)
}

/// Refuses a merchant that may not use `product` now (`product_not_signed`, naming it): the one check
/// every money flow makes of the merchant receiving or acting, on the record it has read.
pub(crate) async fn check_signed(
    work: &mut Work,
    merchant: &StoredMerchant,
    product: PlatformProduct,
) -> Result<(), MerchantFailure> {
    if !merchant.signs_products {
        let above = ancestors_of(work, merchant).await?;
        if in_effect(merchant, &above, product.code(), work.products()) {
            return Ok(());
        }
        return Err(MerchantFailure::Rejected(super::Rejection::of(product.not_signed())));
    }
    // The common case, a merchant outside the hierarchy or with its own signing, reads nothing more.
    let Some(signing) = merchant.signing(product.code()) else {
        return Err(MerchantFailure::Rejected(super::Rejection::of(product.not_signed())));
    };
    let used = if signing.authorised_by.is_none() && merchant.parent_id.is_none() {
        signing.status() == SigningStatus::Signed
    } else {
        let above = ancestors_of(work, merchant).await?;
        in_effect(merchant, &above, product.code(), work.products())
    };
    if !used {
        return Err(MerchantFailure::Rejected(super::Rejection::of(product.not_signed())));
    }
    Ok(())
}

/// Refuses an account of a merchant that may not use `product` (recharged into, withdrawn from); an
/// account of no merchant is free of products.
pub(crate) async fn account_uses(
    work: &mut Work,
    account: AccountId,
    product: PlatformProduct,
) -> Result<(), MerchantFailure> {
    let merchants: Vec<StoredMerchant> =
        work.indexed(super::merchants::MERCHANT_OF_ACCOUNT, &account.to_string()).await?;
    match merchants.into_iter().next() {
        Some(merchant) => check_signed(work, &merchant, product).await,
        None => Ok(()),
    }
}

/// The most signings one merchant's record keeps (every product's, ended ones too): the record is
/// read with every payment to the merchant.
pub const SIGNINGS_PER_MERCHANT_MAX: usize = 100;

/// Writes out the products a merchant opened before products were signed has held (every product its
/// type may sign, as signed, if it stands at the top), before its signings first change; from then
/// on its products are its signings.
fn sign_held_products(merchant: &mut StoredMerchant, products: &Products, now: Timestamp) {
    if merchant.signs_products {
        return;
    }
    merchant.signs_products = true;
    if merchant.parent_id.is_some() {
        return;
    }
    for spec in products.iter().filter(|p| p.merchant_types.iter().any(|t| t.as_str() == merchant.merchant_type)) {
        let serial = merchant.products.len() as u32 + 1;
        merchant.products.push(Signing {
            product: spec.code.clone(),
            serial,
            status: SigningStatus::Signed.as_str().to_owned(),
            status_reason: Some("held before products were signed".to_owned()),
            fee_rate_bp: spec.fee_rate_bp,
            authorised_by: None,
            reviews: Vec::new(),
            applied_by: "system".to_owned(),
            applied_at: now,
            updated_at: now,
        });
    }
}

/// Refuses a new signing beyond [`SIGNINGS_PER_MERCHANT_MAX`].
fn check_room(merchant: &StoredMerchant) -> Result<(), MerchantFailure> {
    if merchant.products.len() >= SIGNINGS_PER_MERCHANT_MAX {
        return Err(rejected(ProductError::TooMany));
    }
    Ok(())
}

fn rejected(error: ProductError) -> MerchantFailure {
    MerchantFailure::from(error)
}

/// A rejected or closed merchant signs nothing.
fn check_open(merchant: &StoredMerchant) -> Result<(), MerchantFailure> {
    match merchant.status() {
        MerchantStatus::Rejected | MerchantStatus::Closed => Err(rejected(ProductError::MerchantNotOpen)),
        _ => Ok(()),
    }
}

impl Parties {
    /// The merchant's current signings, each with whether it is in effect now.
    pub async fn merchant_signings(
        &self,
        id: MerchantId,
    ) -> Result<(StoredMerchant, Vec<SigningView>), MerchantFailure> {
        let mut work = self.reader();
        let merchant = load_merchant(&mut work, id).await?;
        let above = ancestors_of(&mut work, &merchant).await?;
        let views = merchant
            .current_signings()
            .into_iter()
            .map(|s| SigningView {
                signing: s.clone(),
                in_effect: in_effect(&merchant, &above, &s.product, &self.config.products),
            })
            .collect();
        Ok((merchant, views))
    }

    /// The merchant applies to sign `product`: its type must be allowed to, an internal-only product
    /// needs an internal customer, nothing of the product may be open already; a merchant under a
    /// parent gets its products from the parent instead. The application waits for staff.
    pub async fn apply_for_product(
        &self,
        id: MerchantId,
        product: &str,
        actor: &Actor,
    ) -> Result<SigningView, MerchantFailure> {
        let spec = self.config.products.find(product)?.clone();
        let _turn = self.turns.take([format!("merchant:{id}")]).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            check_open(&merchant)?;
            if merchant.parent_id.is_some() {
                return Err(rejected(ProductError::FromParent));
            }
            let customer = customer_scope(work, &merchant).await?;
            spec.check_signer(&merchant.merchant_type, customer)?;
            sign_held_products(&mut merchant, &self.config.products, work.now);
            match merchant.signing(product).filter(|s| s.status().is_open()) {
                None => {}
                Some(open) if open.authorised_by.is_none() => return Err(rejected(ProductError::AlreadySigned)),
                // Authorised by a parent it no longer has (moved to the top): dead, ended by this one.
                Some(_) => {
                    let reason = Reason::parse("the signing above it ended").expect("a valid reason");
                    set_signing_status(
                        work,
                        &mut merchant,
                        product,
                        SigningStatus::Terminated,
                        &reason,
                        actor,
                        "merchant.product_status_changed",
                    )?;
                }
            }
            check_room(&merchant)?;
            let signing = Signing {
                product: spec.code.clone(),
                serial: merchant.products.len() as u32 + 1,
                status: SigningStatus::UnderReview.as_str().to_owned(),
                status_reason: None,
                fee_rate_bp: spec.fee_rate_bp,
                authorised_by: None,
                reviews: Vec::new(),
                applied_by: actor_text(actor),
                applied_at: work.now,
                updated_at: work.now,
            };
            let detail = json!({ "product": signing.product, "serial": signing.serial, "status": signing.status });
            merchant.products.push(signing.clone());
            merchant.updated_at = work.now;
            work.put(&merchant);
            work.history(&merchant.id, &merchant.customer_id, "merchant.product_applied", actor, None, detail);
            Ok(SigningView { signing, in_effect: false })
        })
    }

    /// Staff's decision on an application: approved, the product is signed; rejected (with a reason),
    /// it stays so. `maker` made the decision, `checker` approved it.
    pub async fn review_product(
        &self,
        id: MerchantId,
        product: &str,
        approve: bool,
        reason: Option<&Reason>,
        maker: &Actor,
        checker: Option<&Actor>,
    ) -> Result<SigningView, MerchantFailure> {
        self.config.products.find(product)?;
        if !approve && reason.is_none() {
            return Err(rejected(ProductError::ReviewReasonRequired));
        }
        let _turn = self.turns.take([format!("merchant:{id}")]).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            let now = work.now;
            sign_held_products(&mut merchant, &self.config.products, now);
            let signing = merchant.signing_mut(product).ok_or_else(|| rejected(ProductError::SigningNotFound))?;
            let to = signing.status().review(approve)?;
            signing.reviews.push(SigningReview {
                decision: if approve { "approve" } else { "reject" }.to_owned(),
                reason: reason.map(|r| r.as_str().to_owned()),
                by: actor_text(maker),
                checker: checker.map(actor_text),
                at: now,
            });
            signing.status = to.as_str().to_owned();
            signing.status_reason = reason.map(|r| r.as_str().to_owned());
            signing.updated_at = now;
            let signing = signing.clone();
            let detail = json!({
                "product": product, "serial": signing.serial, "decision": signing.reviews.last().map(|r| &r.decision),
                "to": signing.status, "checker": checker.map(actor_text),
            });
            merchant.updated_at = now;
            work.put(&merchant);
            work.history(&merchant.id, &merchant.customer_id, "merchant.product_reviewed", maker, reason, detail);
            Ok(SigningView { in_effect: to == SigningStatus::Signed && signing.authorised_by.is_none(), signing })
        })
    }

    /// Suspends a signed product, resumes (`signed`) a suspended one or terminates one not ended, with
    /// a reason. What stands on it below loses the product as long as it is not signed.
    pub async fn change_signing(
        &self,
        id: MerchantId,
        product: &str,
        to: SigningStatus,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<SigningView, MerchantFailure> {
        self.config.products.find(product)?;
        let _turn = self.turns.take([format!("merchant:{id}")]).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            sign_held_products(&mut merchant, &self.config.products, work.now);
            let signing =
                set_signing_status(work, &mut merchant, product, to, reason, actor, "merchant.product_status_changed")?;
            let above = ancestors_of(work, &merchant).await?;
            let in_effect = in_effect(&merchant, &above, product, &self.config.products);
            Ok(SigningView { signing, in_effect })
        })
    }

    /// The parent authorises `product`, which it may use itself, to `child`, a merchant directly
    /// under it whose type may sign it (internal-only: of an internal customer) and which has nothing
    /// of the product open. The child's signing is signed at once, standing on the parent's.
    pub async fn authorise_product(
        &self,
        parent_id: MerchantId,
        product: &str,
        child_id: MerchantId,
        actor: &Actor,
    ) -> Result<SigningView, MerchantFailure> {
        let spec = self.config.products.find(product)?.clone();
        let _turn = self.turns.take([format!("merchant:{child_id}")]).await;
        transact!(self, |work| {
            let mut child = load_merchant(work, child_id).await?;
            let mut parent = load_merchant(work, parent_id).await?;
            sign_held_products(&mut parent, &self.config.products, work.now);
            sign_held_products(&mut child, &self.config.products, work.now);
            if child.parent_id.as_deref() != Some(parent.id.as_str()) {
                return Err(rejected(ProductError::NotChild));
            }
            let above = ancestors_of(work, &parent).await?;
            let Some(parent_signing) =
                parent.signing(product).filter(|_| in_effect(&parent, &above, product, &self.config.products))
            else {
                return Err(rejected(ProductError::ParentNotSigned));
            };
            let authoriser = Authoriser { merchant_id: parent.id.clone(), serial: parent_signing.serial };
            check_open(&child)?;
            let scope = customer_scope(work, &child).await?;
            spec.check_signer(&child.merchant_type, scope)?;
            // A signing open below that stands on a signing of the parent's that has ended (revoked,
            // terminated and signed again, or another parent's before a move) is dead: the new
            // authorisation ends it. One standing on the parent's current signing is the child's still.
            match child.signing(product).filter(|s| s.status().is_open()) {
                None => {}
                Some(open) if open.authorised_by.as_ref() == Some(&authoriser) => {
                    return Err(rejected(ProductError::AlreadySigned));
                }
                Some(_) => {
                    let reason = Reason::parse("the signing above it ended").expect("a valid reason");
                    set_signing_status(
                        work,
                        &mut child,
                        product,
                        SigningStatus::Terminated,
                        &reason,
                        actor,
                        "merchant.product_status_changed",
                    )?;
                }
            }
            check_room(&child)?;
            let signing = Signing {
                product: spec.code.clone(),
                serial: child.products.len() as u32 + 1,
                status: SigningStatus::Signed.as_str().to_owned(),
                status_reason: None,
                fee_rate_bp: spec.fee_rate_bp,
                authorised_by: Some(authoriser),
                reviews: Vec::new(),
                applied_by: actor_text(actor),
                applied_at: work.now,
                updated_at: work.now,
            };
            child.products.push(signing.clone());
            child.updated_at = work.now;
            work.put(&child);
            // Written again: a change to the parent's signing meanwhile meets this write.
            work.put(&parent);
            let detail = json!({ "product": product, "serial": signing.serial, "by": parent.id });
            work.history(&child.id, &child.customer_id, "merchant.product_authorised", actor, None, detail);
            Ok(SigningView { signing, in_effect: true })
        })
    }

    /// The parent revokes the product it authorised to `child`: the child's signing is terminated,
    /// and what stood on it below with it.
    pub async fn revoke_product(
        &self,
        parent_id: MerchantId,
        product: &str,
        child_id: MerchantId,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<SigningView, MerchantFailure> {
        self.config.products.find(product)?;
        let _turn = self.turns.take([format!("merchant:{child_id}")]).await;
        transact!(self, |work| {
            let mut child = load_merchant(work, child_id).await?;
            sign_held_products(&mut child, &self.config.products, work.now);
            let parent = parent_id.to_string();
            let signing = child.signing(product).ok_or_else(|| rejected(ProductError::SigningNotFound))?;
            if signing.authorised_by.as_ref().is_none_or(|a| a.merchant_id != parent) {
                return Err(rejected(ProductError::NotAuthorised));
            }
            let signing = set_signing_status(
                work,
                &mut child,
                product,
                SigningStatus::Terminated,
                reason,
                actor,
                "merchant.product_revoked",
            )?;
            Ok(SigningView { signing, in_effect: false })
        })
    }
}

/// The scope (internal, external) of the merchant's customer.
async fn customer_scope(
    work: &mut Work,
    merchant: &StoredMerchant,
) -> Result<sanhu_core::party::CustomerScope, MerchantFailure> {
    let id = sanhu_core::id::CustomerId::parse(&merchant.customer_id)
        .ok_or(MerchantFailure::NotFound(MERCHANT_NOT_FOUND))?;
    Ok(load_customer(work, id).await?.customer.scope())
}

fn set_signing_status(
    work: &mut Work,
    merchant: &mut StoredMerchant,
    product: &str,
    to: SigningStatus,
    reason: &Reason,
    actor: &Actor,
    action: &str,
) -> Result<Signing, MerchantFailure> {
    let now = work.now;
    let signing = merchant.signing_mut(product).ok_or_else(|| rejected(ProductError::SigningNotFound))?;
    let from = signing.status();
    let to = from.change_to(to)?;
    signing.status = to.as_str().to_owned();
    signing.status_reason = Some(reason.as_str().to_owned());
    signing.updated_at = now;
    let signing = signing.clone();
    merchant.updated_at = now;
    work.put(&*merchant);
    let detail = json!({ "product": product, "serial": signing.serial, "from": from.as_str(), "to": to.as_str() });
    work.history(&merchant.id, &merchant.customer_id, action, actor, Some(reason), detail);
    Ok(signing)
}
