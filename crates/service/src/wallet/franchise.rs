//! Franchise wallets (002 case 08): opening a member at a franchisee's counter in one step, and a
//! customer's wallets at every franchisee seen together.

use sanhu_core::id::{ClientId, CustomerId, MemberId, MerchantId};
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::{Actor, CustomerScope, LoginIdentity, MemberStatus, PartyKind, PhoneNumber};
use sanhu_core::wallet::WalletView;
use sanhu_core::Timestamp;

use super::error::*;
use super::recharge::{RechargeOrder, RechargeRequest};
use super::records::OrderNumber;
use super::Wallets;
use crate::clock;
use crate::party::{Registration, StoredMember, TierSetting};
use crate::wallet::WalletFailure;

/// What opening a member at a counter takes.
#[derive(Clone, Debug)]
pub struct CounterOpening {
    pub client: ClientId,
    pub merchant: MerchantId,
    pub phone: PhoneNumber,
    /// The name or nickname the franchisee knows the member by.
    pub name: Option<String>,
    /// The code of the recharge tier chosen (a merchant's, or `platform-N` for the platform's N-th).
    pub tier: String,
    pub channel: String,
    pub order_number: OrderNumber,
    /// The code sent to the phone (purpose `register`), where the merchant requires it; given, it
    /// proves the phone, and the member joins the customer the phone names elsewhere.
    pub sms_code: Option<String>,
    /// Asked by the platform (not a merchant's client): the member joins the customer its phone
    /// names without a code.
    pub trusted: bool,
}

/// What an opening did.
#[derive(Clone, Debug)]
pub struct CounterOpened {
    pub member: StoredMember,
    /// Whether the member was registered now (not found at the merchant).
    pub registered: bool,
    pub recharge: RechargeOrder,
}

/// One wallet of a customer's.
#[derive(Clone, Debug)]
pub struct CustomerWallet {
    pub member: StoredMember,
    pub view: WalletView,
}

/// The tiers a merchant offers, with their codes: its own, or the platform's (`platform-1`, ...).
pub fn tiers_offered(wallets: &Wallets, own: Option<&[TierSetting]>) -> Vec<(String, i64, i64, Timestamp, Timestamp)> {
    match own {
        Some(tiers) => tiers
            .iter()
            .filter_map(|t| {
                let (starts, ends) = t.window()?;
                Some((t.code.clone(), t.pay, t.bonus, starts, ends))
            })
            .collect(),
        None => wallets
            .config
            .recharge_tiers
            .tiers()
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("platform-{}", i + 1), t.pay().get(), t.bonus(), t.starts_at(), t.ends_at()))
            .collect(),
    }
}

impl Wallets {
    /// Opens a member at a franchisee's counter: finds the member its phone names at the merchant, or
    /// registers one (with the phone's SMS code, where the merchant's settings require it), activates
    /// it, and creates the recharge order of the chosen tier. Each step finds what a first run did,
    /// so a run again after a crash (or under the same Idempotency-Key) ends as the first.
    pub async fn open_at_counter(
        &self,
        opening: &CounterOpening,
        actor: &Actor,
    ) -> Result<CounterOpened, WalletFailure> {
        let settings = self.parties.effective_settings(opening.merchant).await?;
        let now = clock::now();
        let offered = tiers_offered(self, settings.recharge_tiers.value.as_deref());
        let Some(&(_, pay, _, _, _)) =
            offered.iter().find(|(code, _, _, starts, ends)| code == &opening.tier && *starts <= now && now < *ends)
        else {
            return Err(WalletFailure::Rejected(RECHARGE_TIER_UNAVAILABLE));
        };
        let identity = LoginIdentity::Phone(opening.phone.clone());
        let registration = Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity };
        // What the recharge would refuse is refused before anything is opened.
        let channel = self.config.channel(&opening.channel).ok_or(WalletFailure::Rejected(CHANNEL_NOT_CONFIGURED))?;
        let amount = sanhu_core::Amount::new(pay).ok_or(sanhu_core::wallet::WalletError::InvalidAmount)?;
        if channel.fee_payer == sanhu_core::wallet::FeePayer::Member && channel.fee.fee_for(amount) >= pay {
            return Err(WalletFailure::Rejected(RECHARGE_BELOW_FEE));
        }
        let found = self.parties.member_at_merchant(opening.merchant, &registration.identity).await?;
        let mut proven = false;
        if found.is_none() {
            match &opening.sms_code {
                Some(code) => {
                    let target = CodeTarget::Phone(opening.phone.clone());
                    self.parties.verify_code(CodePurpose::Register, &target, code, now).await?;
                    proven = true;
                }
                None if settings.sms_verification_to_open.value => {
                    return Err(WalletFailure::Rejected(SMS_VERIFICATION_REQUIRED));
                }
                None => {}
            }
        }
        let (registered, is_new) = self
            .parties
            .register_member_for(
                opening.merchant,
                &registration,
                opening.name.clone(),
                true,
                proven || opening.trusted,
                actor,
            )
            .await?;
        let mut member = registered.member;
        if member.member.status() == MemberStatus::Inactive {
            member = match self.parties.activate_member(member.member.id(), actor).await {
                Ok((activated, _)) => activated,
                // An opening of the same member at once activated it first.
                Err(refusal) => {
                    let now = self.parties.get_member(member.member.id()).await?;
                    if now.member.status() == MemberStatus::Inactive {
                        return Err(refusal.into());
                    }
                    now
                }
            };
        }
        let request = RechargeRequest {
            client: opening.client,
            order_number: opening.order_number.clone(),
            member: member.member.id(),
            account: None,
            amount: pay,
            channel: opening.channel.clone(),
        };
        let recharge = self.create_recharge(&request, actor).await?;
        Ok(CounterOpened { member, registered: is_new, recharge })
    }

    /// A customer's wallets, one per member (each franchisee's apart), those `keep` admits, in member
    /// id order.
    pub async fn customer_wallets(
        &self,
        customer: CustomerId,
        reached_by: Option<MemberId>,
    ) -> Result<Vec<CustomerWallet>, WalletFailure> {
        let mut members = self.parties.members_of_customer(customer).await?;
        members.sort_by_key(|m| m.member.id());
        let mut wallets = Vec::new();
        for member in members {
            if let Some(bound) = reached_by {
                if !self.parties.reaches(bound, member.member.id()).await? {
                    continue;
                }
            }
            let view = self.wallet(member.member.id()).await?;
            wallets.push(CustomerWallet { member, view });
        }
        Ok(wallets)
    }
}
