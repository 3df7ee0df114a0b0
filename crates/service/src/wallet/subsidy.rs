//! Enterprise subsidies (企业补贴), the canteen wallet's case: every month the enterprise's ERP works
//! out each employee's meal subsidy from attendance and the subsidy standard and pays it into the
//! employees' subsidy accounts; employees spend it in the canteen first (the subsidy type's deduction
//! priority), may pass it to a colleague (it lands as subsidy money, `transfer.rs`), and cannot
//! withdraw it (the articles: subsidy money leaves only through the ERP's reimbursement with
//! invoices, outside the wallet).
//!
//! Two steps, each one record and one linked chain with ids derived from it (`chain.rs`), idempotent
//! by the caller's order number:
//!
//! - **Funding** (`subsidy_funding:cli_…:ORDER`): the enterprise member moves money from one of its own
//!   withdrawable accounts (money it recharged, so it came in through a channel like any recharge) to
//!   its subsidy funding account, the platform account `subsidy:<mem_…>`.
//! - **Distribution** (`subsidy_distribution:cli_…:ORDER`): one record for a month's subsidies, with a
//!   credit per employee, paid from the funding account into each employee's subsidy account (opened
//!   when the employee has none) as one chain: every employee is paid, or none is.
//!
//! **A distribution never pays out more than was funded, even concurrent ones.** The funding account
//! is a platform account, which the ledger never limits, so the enterprise's fund is counted in a
//! record of its own (`subsidy_fund:mem_…`): a funding adds to `funded` once its chain is applied; a
//! distribution adds its total to `distributed` in the same write that creates it, refused when that
//! would pass `funded`. Two distributions at once both write the fund record; the second meets the
//! first's version and decides again, counting the first. A distribution the ledger refuses (an
//! employee's account was closed meanwhile) gives its total back. The ledger's funding account
//! agrees: credited with every funding, debited with every distribution.

use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::{AccountTypeCode, Actor, MemberAccountStatus, MemberAction, PartyKind};
use sanhu_core::wallet::WalletError;
use sanhu_core::{AccountId, Amount, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, posted_chain, restore_chain, store_chain, Move, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::Wallets;
use crate::party::work::Work;
use crate::party::PartyError;
use crate::wallet::WalletFailure;

/// The account type subsidies are paid into. It must be configured as not withdrawable.
pub const SUBSIDY_ACCOUNT_TYPE: &str = "subsidy";

/// The most employees one distribution pays: its chain and record stay well within one ledger batch
/// and one record.
pub const SUBSIDY_CREDITS_MAX: usize = 500;

/// The business codes of the subsidy's transfers.
const FUND_CODE: &str = "subsidy_fund";
const GRANT_CODE: &str = "subsidy_grant";

// ---------------------------------------------------------------------------------------------------
// Requests and records

/// What funding an enterprise's subsidies takes.
#[derive(Clone, Debug)]
pub struct SubsidyFundingRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    /// The enterprise member.
    pub enterprise: MemberId,
    /// The enterprise's account the money comes from; its account of the configured recharge type
    /// (the basic account) when `None`.
    pub account: Option<AccountId>,
    pub amount: i64,
}

/// One employee's subsidy in a distribution request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubsidyCredit {
    pub member: MemberId,
    pub amount: i64,
}

/// What paying a round of subsidies takes.
#[derive(Clone, Debug)]
pub struct SubsidyDistributionRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub enterprise: MemberId,
    /// One credit per employee, each employee once, at most [`SUBSIDY_CREDITS_MAX`].
    pub credits: Vec<SubsidyCredit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubsidyStatus {
    /// Decided and being applied: the chain is in the record (a crash here is finished by a retry).
    Applying,
    Applied,
    /// The ledger refused the chain; nothing moved.
    Refused,
}

/// A funding of an enterprise's subsidies as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsidyFunding {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub enterprise_id: MemberId,
    /// The enterprise's account the money came from.
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    /// The enterprise's subsidy funding account (`subsidy:<mem_…>`).
    #[serde(with = "id_text")]
    pub funding_account_id: AccountId,
    pub amount: i64,
    pub status: SubsidyStatus,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
}
json_document!(SubsidyFunding, "subsidy_funding");

/// One employee's subsidy as paid: into which of its accounts, how much.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsidyGrant {
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
}

/// A distribution of subsidies as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsidyDistribution {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub enterprise_id: MemberId,
    pub grants: Vec<SubsidyGrant>,
    pub total: i64,
    pub status: SubsidyStatus,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
}
json_document!(SubsidyDistribution, "subsidy_distribution");

/// An enterprise's subsidy fund: what it funded and what it distributed (distributions being applied
/// included). One record per enterprise, written by every funding and distribution.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsidyFund {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "id_text")]
    pub enterprise_id: MemberId,
    #[serde(with = "id_text")]
    pub funding_account_id: AccountId,
    pub funded: i64,
    pub distributed: i64,
}
json_document!(SubsidyFund, "subsidy_fund");

impl SubsidyFund {
    /// What may still be distributed.
    pub fn available(&self) -> i64 {
        self.funded - self.distributed
    }
}

fn fund_id(enterprise: MemberId) -> String {
    format!("subsidy_fund:{enterprise}")
}

async fn load_fund(
    work: &mut Work,
    enterprise: MemberId,
    customer_id: &str,
    funding_account_id: AccountId,
) -> anyhow::Result<SubsidyFund> {
    Ok(work.get::<SubsidyFund>(&fund_id(enterprise)).await?.unwrap_or_else(|| SubsidyFund {
        id: fund_id(enterprise),
        customer_id: customer_id.to_owned(),
        enterprise_id: enterprise,
        funding_account_id,
        funded: 0,
        distributed: 0,
    }))
}

// ---------------------------------------------------------------------------------------------------
// Use cases

impl Wallets {
    /// Moves money from the enterprise's own account to its subsidy funding account. The same order
    /// number again answers the funding as it is.
    pub async fn fund_subsidies(
        &self,
        request: &SubsidyFundingRequest,
        actor: &Actor,
    ) -> Result<SubsidyFunding, WalletFailure> {
        let id = order_record_id("subsidy_funding", request.client, &request.order_number);
        let _turn = self.turn([super::wallet_key(request.enterprise), id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<SubsidyFunding>(&id).await? {
            return self.resume_funding(same_funding(existing, request)?, actor).await;
        }
        let amount = Amount::new(request.amount).ok_or(WalletError::InvalidAmount)?;
        let enterprise = self.enterprise_acts(request.enterprise).await?;
        let wallet = self.load_wallet(request.enterprise).await?;
        let source = match request.account {
            Some(account) => wallet.get(account).ok_or(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS))?,
            None => wallet
                .accounts()
                .iter()
                .filter(|a| a.account_type().code() == &self.config.recharge_account_type)
                .min_by_key(|a| a.id())
                .ok_or(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS))?,
        };
        // Only money the enterprise paid in funds subsidies: not bonus, nor subsidies it received.
        if !source.account_type().withdrawable() {
            return Err(WalletFailure::Rejected(SUBSIDY_FUNDING_SOURCE_INVALID));
        }
        let account_id = source.id();
        if let Some(restriction) = self.account_restriction(account_id, Side::Pays).await? {
            return Err(restriction);
        }
        let funding_account_id =
            self.ensure_platform_account(&PlatformAccount::SubsidyFunding(request.enterprise)).await?;
        let funding = transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<SubsidyFunding>(&id).await? {
                return same_funding(existing, request);
            }
            let moves = [Move { debit: account_id, credit: funding_account_id, amount, code: FUND_CODE }];
            let chain = posted_chain(&moves, &id, "fund", request.order_number.as_str());
            let funding = SubsidyFunding {
                id: id.clone(),
                customer_id: enterprise.clone(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                enterprise_id: request.enterprise,
                account_id,
                funding_account_id,
                amount: amount.get(),
                status: SubsidyStatus::Applying,
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
            };
            work.put(&funding);
            work.history(
                &id,
                &funding.customer_id,
                "subsidy.funding_requested",
                actor,
                None,
                json!({ "amount": funding.amount, "account": account_id.to_string() }),
            );
            Ok(funding)
        })?;
        self.resume_funding(funding, actor).await
    }

    /// Pays a round of subsidies from the enterprise's fund into its employees' subsidy accounts, as
    /// one chain. Refused whole when the fund does not cover it. The same order number again answers
    /// the distribution as it is.
    pub async fn distribute_subsidies(
        &self,
        request: &SubsidyDistributionRequest,
        actor: &Actor,
    ) -> Result<SubsidyDistribution, WalletFailure> {
        let id = order_record_id("subsidy_distribution", request.client, &request.order_number);
        // The enterprise's fund, which every distribution rewrites, is decided in its wallet's turn.
        let _turn = self.turn([super::wallet_key(request.enterprise), id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<SubsidyDistribution>(&id).await? {
            return self.resume_distribution(same_distribution(existing, request)?, actor).await;
        }
        let total = check_credits(request)?;
        let subsidy_type = self.subsidy_account_type()?;
        let enterprise = self.enterprise_acts(request.enterprise).await?;
        // Checked before any employee's subsidy account is opened, so that a round the fund cannot
        // pay changes nothing; checked again below where it is decided.
        if self.subsidy_fund(request.enterprise).await?.available() < total {
            return Err(WalletFailure::Rejected(SUBSIDY_FUND_INSUFFICIENT));
        }
        let mut grants = Vec::with_capacity(request.credits.len());
        for credit in &request.credits {
            self.member_may_receive(credit.member).await?;
            let account_id = self.subsidy_account(credit.member, &subsidy_type, actor).await?;
            if let Some(restriction) = self.account_restriction(account_id, Side::Receives).await? {
                return Err(restriction);
            }
            grants.push(SubsidyGrant { member_id: credit.member, account_id, amount: credit.amount });
        }
        let funding_account_id =
            self.ensure_platform_account(&PlatformAccount::SubsidyFunding(request.enterprise)).await?;
        let distribution = transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<SubsidyDistribution>(&id).await? {
                return same_distribution(existing, request);
            }
            let mut fund = load_fund(work, request.enterprise, &enterprise, funding_account_id).await?;
            if fund.available() < total {
                return Err(WalletFailure::Rejected(SUBSIDY_FUND_INSUFFICIENT));
            }
            fund.distributed += total;
            let moves: Vec<Move> = grants
                .iter()
                .map(|g| Move {
                    debit: funding_account_id,
                    credit: g.account_id,
                    amount: Amount::new(g.amount).expect("checked positive"),
                    code: GRANT_CODE,
                })
                .collect();
            let chain = posted_chain(&moves, &id, "distribute", request.order_number.as_str());
            let distribution = SubsidyDistribution {
                id: id.clone(),
                customer_id: enterprise.clone(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                enterprise_id: request.enterprise,
                grants: grants.clone(),
                total,
                status: SubsidyStatus::Applying,
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
            };
            work.put(&fund);
            work.put(&distribution);
            work.history(
                &id,
                &distribution.customer_id,
                "subsidy.distribution_requested",
                actor,
                None,
                json!({ "employees": grants.len(), "total": total, "fund_left": fund.available() }),
            );
            Ok(distribution)
        })?;
        self.resume_distribution(distribution, actor).await
    }

    pub async fn get_subsidy_funding(
        &self,
        client: ClientId,
        number: &OrderNumber,
    ) -> Result<SubsidyFunding, WalletFailure> {
        let id = order_record_id("subsidy_funding", client, number);
        self.parties.reader().get::<SubsidyFunding>(&id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
    }

    pub async fn get_subsidy_distribution(
        &self,
        client: ClientId,
        number: &OrderNumber,
    ) -> Result<SubsidyDistribution, WalletFailure> {
        let id = order_record_id("subsidy_distribution", client, number);
        self.parties.reader().get::<SubsidyDistribution>(&id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
    }

    /// The enterprise's subsidy fund: funded, distributed, what is left. Zeros before its first funding.
    pub async fn subsidy_fund(&self, enterprise: MemberId) -> Result<SubsidyFund, WalletFailure> {
        let mut work = self.parties.reader();
        let member = crate::party::members::load_member(&mut work, enterprise).await?;
        let funding_account_id = PlatformAccount::SubsidyFunding(enterprise).id(self.config.currency);
        Ok(load_fund(&mut work, enterprise, &member.member.customer().to_string(), funding_account_id).await?)
    }

    /// The enterprise member, allowed to move money and an enterprise; its customer's id.
    async fn enterprise_acts(&self, enterprise: MemberId) -> Result<String, WalletFailure> {
        let stored = self.parties.member_acts(enterprise, MemberAction::Transfer).await?;
        if stored.member.kind() != PartyKind::Enterprise {
            return Err(WalletFailure::Rejected(SUBSIDY_ENTERPRISE_ONLY));
        }
        Ok(stored.member.customer().to_string())
    }

    /// The configured subsidy account type, which must not be withdrawable.
    fn subsidy_account_type(&self) -> Result<AccountTypeCode, WalletFailure> {
        let code = AccountTypeCode::parse(SUBSIDY_ACCOUNT_TYPE).expect("a valid code");
        let configured = self.parties.config().account_types.get(&code).ok_or(WalletError::AccountTypeNotConfigured)?;
        if configured.withdrawable() {
            return Err(WalletFailure::Rejected(SUBSIDY_ACCOUNT_WITHDRAWABLE));
        }
        Ok(code)
    }

    /// The employee's open subsidy account in the wallet's currency, opened first if it has none.
    async fn subsidy_account(
        &self,
        member: MemberId,
        code: &AccountTypeCode,
        actor: &Actor,
    ) -> Result<AccountId, WalletFailure> {
        let existing = |accounts: &[crate::party::AccountView]| {
            accounts
                .iter()
                .filter(|a| {
                    a.account.status != MemberAccountStatus::Closed
                        && a.ledger.currency == self.config.currency
                        && a.ledger.code == code.as_str()
                })
                .map(|a| a.account.account_id)
                .min()
        };
        if let Some(account) = existing(&self.parties.member_accounts(member).await?) {
            return Ok(account);
        }
        match self.parties.open_account(member, code, actor).await {
            Ok(opened) => Ok(opened.account.account_id),
            // Opened meanwhile by another distribution: use that one.
            Err(refused @ PartyError::Rejected(_)) => {
                existing(&self.parties.member_accounts(member).await?).ok_or_else(|| refused.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Submits a funding's chain, if any; once applied, the amount counts in the enterprise's fund.
    async fn resume_funding(&self, funding: SubsidyFunding, actor: &Actor) -> Result<SubsidyFunding, WalletFailure> {
        if funding.in_flight.is_empty() {
            return Ok(funding);
        }
        let requests = restore_chain(&funding.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = funding.id.clone();
        let funding = transact!(&self.parties, |work| {
            let Some(mut funding) = work.get::<SubsidyFunding>(&id).await? else {
                return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
            };
            if funding.in_flight.is_empty() {
                return Ok(funding);
            }
            funding.in_flight = Vec::new();
            match &refusal {
                None => {
                    funding.status = SubsidyStatus::Applied;
                    let mut fund =
                        load_fund(work, funding.enterprise_id, &funding.customer_id, funding.funding_account_id)
                            .await?;
                    fund.funded = fund.funded.checked_add(funding.amount).ok_or(WalletError::AmountOverflow)?;
                    work.put(&fund);
                }
                Some(refusal) => {
                    funding.status = SubsidyStatus::Refused;
                    funding.reason = Some(refusal.code().to_owned());
                }
            }
            work.put(&funding);
            let action = if refusal.is_none() { "subsidy.funded" } else { "subsidy.funding_refused" };
            work.history(&id, &funding.customer_id, action, actor, None, json!({ "amount": funding.amount }));
            Ok(funding)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(funding),
        }
    }

    /// Submits a distribution's chain, if any; a refused one gives its total back to the fund.
    async fn resume_distribution(
        &self,
        distribution: SubsidyDistribution,
        actor: &Actor,
    ) -> Result<SubsidyDistribution, WalletFailure> {
        if distribution.in_flight.is_empty() {
            return Ok(distribution);
        }
        let requests = restore_chain(&distribution.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = distribution.id.clone();
        let distribution = transact!(&self.parties, |work| {
            let Some(mut distribution) = work.get::<SubsidyDistribution>(&id).await? else {
                return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
            };
            if distribution.in_flight.is_empty() {
                return Ok(distribution);
            }
            distribution.in_flight = Vec::new();
            match &refusal {
                None => distribution.status = SubsidyStatus::Applied,
                Some(refusal) => {
                    distribution.status = SubsidyStatus::Refused;
                    distribution.reason = Some(refusal.code().to_owned());
                    let account = PlatformAccount::SubsidyFunding(distribution.enterprise_id).id(self.config.currency);
                    let mut fund =
                        load_fund(work, distribution.enterprise_id, &distribution.customer_id, account).await?;
                    fund.distributed = (fund.distributed - distribution.total).max(0);
                    work.put(&fund);
                }
            }
            work.put(&distribution);
            let action = if refusal.is_none() { "subsidy.distributed" } else { "subsidy.distribution_refused" };
            work.history(&id, &distribution.customer_id, action, actor, None, json!({ "total": distribution.total }));
            Ok(distribution)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(distribution),
        }
    }
}

/// The distribution's total, once its credits are checked: 1 to [`SUBSIDY_CREDITS_MAX`] employees,
/// each once and not the enterprise itself, each a positive amount.
fn check_credits(request: &SubsidyDistributionRequest) -> Result<i64, WalletFailure> {
    let credits = &request.credits;
    if credits.is_empty() || credits.len() > SUBSIDY_CREDITS_MAX {
        return Err(WalletFailure::Rejected(SUBSIDY_CREDITS_INVALID));
    }
    let mut members: Vec<MemberId> = credits.iter().map(|c| c.member).collect();
    members.sort();
    members.dedup();
    if members.len() != credits.len() {
        return Err(WalletFailure::Rejected(SUBSIDY_CREDITS_INVALID));
    }
    if members.contains(&request.enterprise) {
        return Err(WalletError::SameWallet.into());
    }
    let mut total: i64 = 0;
    for credit in credits {
        if credit.amount <= 0 {
            return Err(WalletError::InvalidAmount.into());
        }
        total = total.checked_add(credit.amount).ok_or(WalletError::AmountOverflow)?;
    }
    Ok(total)
}

fn same_funding(existing: SubsidyFunding, request: &SubsidyFundingRequest) -> Result<SubsidyFunding, WalletFailure> {
    let same = existing.enterprise_id == request.enterprise
        && existing.amount == request.amount
        && request.account.is_none_or(|a| a == existing.account_id);
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}

fn same_distribution(
    existing: SubsidyDistribution,
    request: &SubsidyDistributionRequest,
) -> Result<SubsidyDistribution, WalletFailure> {
    let same = existing.enterprise_id == request.enterprise
        && existing.grants.len() == request.credits.len()
        && existing.grants.iter().zip(&request.credits).all(|(g, c)| g.member_id == c.member && g.amount == c.amount);
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
