//! Pay codes (付款码) at the counter: the member's app asks for a short-lived one-time code
//! (`issue_pay_code`), shows it as a QR or bar code, and the store's terminal sends it with the
//! payment instead of the payer's ids (`pay_by_code`).
//!
//! - **Kept as a keyed hash.** A code is 18 random digits (core's `pay_code.rs`); sanhu answers it once,
//!   to the member's client, and keeps only its HMAC-SHA256 under the server secret (the subkey of
//!   one-time codes, over an input that names pay codes), as the record's id: `pay_code:<hex>`. A leaked
//!   database yields no code, and a presented code is found by its hash alone.
//! - **Bound to the member, optionally to one account**: the payment is the member's, taken from that
//!   account only when the code names one.
//! - **Paid once.** The code is spent in the write that records the payment: two payments presenting it
//!   at once both write the code's record, and the second meets the first's version and is decided
//!   again, now `pay_code_used`. A retry of the order that spent it answers that payment as it is.
//! - **A refused payment does not spend the code.** A payment refused before it is recorded
//!   (insufficient balance, a limit, the pay password, a restriction) writes nothing, the code
//!   included: the member may be asked again with the same code while it lives (after a recharge, say).
//!   Once the payment is recorded the code is spent, even if the ledger then refuses its chain (an
//!   account frozen in between: the order is `failed` and a new code is needed).
//! - **Guessing is limited.** Each unknown code a client presents is counted, per client and per
//!   window of [`PAY_CODE_MISS_WINDOW_S`]; past [`PAY_CODE_MISSES_MAX`] in a window, the client's pay
//!   code lookups are refused (`pay_code_lookups_limited`, 429) until the window ends. With 10^18
//!   codes and a minute's life, guessing was hopeless anyway; the limit keeps it so and shows it.

use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::{Actor, LoginIdentity, MemberAction, PhoneNumber};
use sanhu_core::wallet::pay_code::check_use;
use sanhu_core::wallet::PayCodeText;
use sanhu_core::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::id_text;
use super::error::ACCOUNT_NOT_MEMBERS;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::{Payment, Wallets};
use crate::clock;
use crate::party::error::MEMBER_NOT_FOUND;
use crate::party::one_time_codes;
use crate::party::work::{Work, IDENTITY_KEY};
use crate::party::{Parties, PartyError, Rejection};
use crate::wallet::WalletFailure;

pub const PAY_CODE_NOT_FOUND: Rejection = Rejection {
    code: "pay_code_not_found",
    status: 404,
    message: "no pay code has these digits (or it is not one this client may present)",
};
pub const PAY_CODE_LOOKUPS_LIMITED: Rejection = Rejection {
    code: "pay_code_lookups_limited",
    status: 429,
    message: "this client presented too many unknown pay codes lately; try again in a few minutes",
};

/// The unknown pay codes one client may present in one window.
pub const PAY_CODE_MISSES_MAX: i64 = 20;
/// The window, in seconds.
pub const PAY_CODE_MISS_WINDOW_S: i64 = 600;

/// A pay code as kept: who it pays for, until when, and the order that spent it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPayCode {
    /// `pay_code:` and the hex of the code's keyed hash.
    pub id: String,
    pub customer_id: String,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    /// The one account the code pays from, if it names one.
    pub account_id: Option<String>,
    #[serde(with = "time_ns")]
    pub issued_at: Timestamp,
    #[serde(with = "time_ns")]
    pub expires_at: Timestamp,
    /// The record id of the payment that spent it.
    pub used_by: Option<String>,
}

json_document!(StoredPayCode, "pay_code");

/// A code to show the member. Its `Debug` hides the code.
#[derive(Clone, Debug)]
pub struct IssuedPayCode {
    pub code: PayCodeText,
    pub member_id: MemberId,
    pub account_id: Option<AccountId>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The payer a counter identified, by a pay code or by phone and SMS code: the member it pays for,
/// the account a pay code names, and the proof to spend in the payment's write.
#[derive(Clone, Debug)]
pub struct PayCodeHolder {
    pub member: MemberId,
    pub account: Option<AccountId>,
    proof: Proof,
}

/// What the payment's write spends.
#[derive(Clone, Debug)]
enum Proof {
    /// The pay code's record.
    PayCode(String),
    /// The SMS code sent to the member's phone for the purpose `payment`.
    Sms(CodeTarget, SmsCode),
    /// The order is recorded already: a retry, which spends nothing more.
    Recorded,
}

/// A submitted SMS code. Its `Debug` hides it.
#[derive(Clone)]
struct SmsCode(String);

impl std::fmt::Debug for SmsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmsCode(..)")
    }
}

pub const PAY_BY_PHONE_NOT_ALLOWED: Rejection = Rejection {
    code: "pay_by_phone_not_allowed",
    status: 403,
    message: "this platform does not take payments by phone and SMS code (wallet.pay_by_phone)",
};

impl PayCodeHolder {
    /// How the payer was identified at the counter: by pay code, or by phone and SMS code.
    pub fn method(&self) -> sanhu_core::party::store::PaymentMethod {
        use sanhu_core::party::store::PaymentMethod;
        match self.proof {
            Proof::Sms(..) => PaymentMethod::PhoneSms,
            Proof::PayCode(_) | Proof::Recorded => PaymentMethod::PayCode,
        }
    }
}

impl Wallets {
    fn pay_code_record(&self, code: &PayCodeText) -> String {
        let digest = self.parties.config().secret.code_digest(&code.hash_input());
        format!("pay_code:{}", hex::encode(digest.0))
    }

    /// Issues a pay code for the member (who must be able to pay), bound to `account` when given (one
    /// of the member's wallet accounts, `account_not_members` otherwise).
    pub async fn issue_pay_code(
        &self,
        member: MemberId,
        account: Option<AccountId>,
        actor: &Actor,
    ) -> Result<IssuedPayCode, WalletFailure> {
        let stored = self.parties.member_acts(member, MemberAction::Pay).await?;
        self.customer_may(stored.member.customer(), Side::Pays).await?;
        if let Some(account) = account {
            if self.load_wallet(member).await?.get(account).is_none() {
                return Err(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS));
            }
        }
        let code = PayCodeText::from_random(clock::random_bytes::<16>());
        let id = self.pay_code_record(&code);
        let ttl_s = self.config.pay_code_ttl_s;
        let customer_id = stored.member.customer().to_string();
        transact!(&self.parties, |work| {
            let issued_at = work.now;
            let expires_at = issued_at.add_seconds(ttl_s).ok_or_else(|| anyhow::anyhow!("a pay code's expiry"))?;
            let record = StoredPayCode {
                id: id.clone(),
                customer_id: customer_id.clone(),
                member_id: member,
                account_id: account.map(|a| a.to_string()),
                issued_at,
                expires_at,
                used_by: None,
            };
            work.put(&record);
            work.history(
                &id,
                &customer_id,
                "wallet.pay_code_issued",
                actor,
                None,
                json!({ "member_id": member.to_string(), "account_id": record.account_id, "expires_at": expires_at.to_string() }),
            );
            Ok(IssuedPayCode { code: code.clone(), member_id: member, account_id: account, issued_at, expires_at })
        })
    }

    /// The holder of a code `client` presents for its payment `number`: the code must be live, or
    /// spent by this very order. An unknown code counts towards the client's
    /// misses (`pay_code_not_found`); past the window's limit, `pay_code_lookups_limited` before
    /// anything is looked up.
    pub async fn pay_code_holder(
        &self,
        client: ClientId,
        presented: &str,
        number: &OrderNumber,
    ) -> Result<PayCodeHolder, WalletFailure> {
        let order = order_record_id("payment", client, number);
        let order = order.as_str();
        let now = clock::now();
        let window = now.nanos() / 1_000_000_000 / PAY_CODE_MISS_WINDOW_S;
        let misses_key = format!("pay_code_misses:{client}:{window}");
        let mut reader = self.parties.reader();
        if reader.counter(&misses_key).await? >= PAY_CODE_MISSES_MAX {
            return Err(WalletFailure::Rejected(PAY_CODE_LOOKUPS_LIMITED));
        }
        let found = match PayCodeText::parse(presented) {
            Some(code) => reader.get::<StoredPayCode>(&self.pay_code_record(&code)).await?,
            None => None,
        };
        let Some(stored) = found else {
            transact!(&self.parties, WalletFailure, |work| {
                work.add_to_counter(&misses_key, 1, None);
                Ok(())
            })?;
            return Err(WalletFailure::NotFound(PAY_CODE_NOT_FOUND));
        };
        check_use(stored.expires_at, stored.used_by.as_deref(), order, now)
            .map_err(|e| WalletFailure::Rejected(Rejection::of(e)))?;
        Ok(PayCodeHolder {
            member: stored.member_id,
            account: stored.account_id.as_deref().and_then(AccountId::parse),
            proof: Proof::PayCode(stored.id),
        })
    }

    /// The payer of a payment by phone (`WalletConfig::pay_by_phone`): the member whose login phone is
    /// `phone`, proven by the SMS code sent to it for the purpose `payment` (`POST /v1/one-time-codes`).
    /// A wrong code costs one of the code's attempts here, written before the answer (`code_incorrect`,
    /// `code_expired`, `code_used`, `code_attempts_exhausted`); a right one is spent by the write that
    /// records the payment, so a payment refused before it is recorded leaves it unspent. A phone that
    /// is no member's, after a right code, is `member_not_found`. The same order again (a retry) is
    /// answered as it is, the code spent already.
    pub async fn pay_by_phone_holder(
        &self,
        client: ClientId,
        phone: PhoneNumber,
        sms_code: &str,
        number: &OrderNumber,
    ) -> Result<PayCodeHolder, WalletFailure> {
        if !self.config.pay_by_phone {
            return Err(WalletFailure::Rejected(PAY_BY_PHONE_NOT_ALLOWED));
        }
        let order = order_record_id("payment", client, number);
        if let Some(existing) = self.parties.reader().get::<Payment>(&order).await? {
            return Ok(PayCodeHolder { member: existing.member_id, account: None, proof: Proof::Recorded });
        }
        let target = CodeTarget::Phone(phone.clone());
        let key = LoginIdentity::Phone(phone).uniqueness_key();
        let parties = &self.parties;
        let (owner, verdict) = transact!(parties, PartyError, |work| {
            let verdict = one_time_codes::try_in(work, parties, CodePurpose::Payment, &target, sms_code).await?;
            let owner = work.key_owner(IDENTITY_KEY, &key).await?;
            Ok((owner, verdict))
        })?;
        verdict?;
        let member = owner.as_deref().and_then(MemberId::parse).ok_or(WalletFailure::NotFound(MEMBER_NOT_FOUND))?;
        Ok(PayCodeHolder { member, account: None, proof: Proof::Sms(target, SmsCode(sms_code.to_owned())) })
    }
}

/// Spends the payer's proof for the order `order` in `work`, the write that records the payment: a pay
/// code is refused when another order spent it or it has expired, an SMS code when it no longer
/// passes (spent meanwhile, expired).
pub(super) async fn spend(
    work: &mut Work,
    parties: &Parties,
    holder: &PayCodeHolder,
    order: &str,
) -> Result<(), WalletFailure> {
    let record = match &holder.proof {
        Proof::PayCode(record) => record,
        Proof::Recorded => return Ok(()),
        Proof::Sms(target, code) => {
            return match one_time_codes::check_in(work, parties, CodePurpose::Payment, target, &code.0).await? {
                Ok(_) => Ok(()),
                Err(refusal) => Err(refusal.into()),
            };
        }
    };
    let Some(mut stored) = work.get::<StoredPayCode>(record).await? else {
        return Err(WalletFailure::NotFound(PAY_CODE_NOT_FOUND));
    };
    check_use(stored.expires_at, stored.used_by.as_deref(), order, work.now)
        .map_err(|e| WalletFailure::Rejected(Rejection::of(e)))?;
    if stored.used_by.is_none() {
        stored.used_by = Some(order.to_owned());
        work.put(&stored);
    }
    Ok(())
}
