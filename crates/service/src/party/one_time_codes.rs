//! One-time codes (验证码): sanhu makes and checks them; the platform delivers them. Issuing returns the
//! code to the caller, which sends it by SMS or email and forgets it; sanhu keeps only its keyed digest
//! (HMAC-SHA256 under the server secret, of what core's `OneTimeCode::hash_input` names: purpose,
//! target and code), so a leaked database yields no code.
//!
//! There is one code per purpose and target: a new one replaces the last, after the resend interval.
//! Every check is written, right or wrong, so that wrong guesses use up the code's attempts even when
//! several instances answer them (the optimistic write counts each).

use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget, CodeText, OneTimeCodeError, VerifiedCode};
use sanhu_core::party::OneTimeCode;
use sanhu_core::Timestamp;

use super::documents::{one_time_code_id, StoredOneTimeCode};
use super::error::PartyError;
use super::work::Work;
use super::Parties;
use crate::clock;

/// A code to deliver. Its `Debug` hides the code.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    pub code: CodeText,
    pub purpose: CodePurpose,
    pub target: CodeTarget,
    pub expires_at: Timestamp,
}

impl Parties {
    /// Issues a code for `purpose` to `target` at `now` (the caller's clock: the HTTP layer passes
    /// `clock::now()`), replacing any earlier one; refused within the resend interval of the last.
    pub async fn issue_code(
        &self,
        purpose: CodePurpose,
        target: &CodeTarget,
        now: Timestamp,
    ) -> Result<IssuedCode, PartyError> {
        transact!(self, |work| {
            work.now = now;
            issue_in(work, self, purpose, target.clone()).await
        })
    }

    /// Checks a submitted code; a right one is spent and proves that its target received it. Each
    /// wrong one costs an attempt, written before the answer.
    pub async fn verify_code(
        &self,
        purpose: CodePurpose,
        target: &CodeTarget,
        submitted: &str,
        now: Timestamp,
    ) -> Result<VerifiedCode, PartyError> {
        transact!(self, |work| {
            work.now = now;
            check_in(work, self, purpose, target, submitted).await
        })
        .and_then(|verdict| verdict)
    }
}

/// Adds to `work` a new code for `purpose` to `target`, unless the last was sent too recently.
pub(crate) async fn issue_in(
    work: &mut Work,
    parties: &Parties,
    purpose: CodePurpose,
    target: CodeTarget,
) -> Result<IssuedCode, PartyError> {
    let policy = parties.config.one_time_codes;
    let last = work.get::<StoredOneTimeCode>(&one_time_code_id(purpose, &target)).await?;
    OneTimeCode::check_may_reissue(last.as_ref().map(|l| &l.code), policy, work.now)?;
    let random = u64::from_le_bytes(clock::random_bytes::<8>());
    let secret = &parties.config.secret;
    let (code, text) =
        OneTimeCode::issue(policy, purpose, target.clone(), random, work.now, |input| secret.code_digest(input));
    let expires_at = code.expires_at();
    work.put(&StoredOneTimeCode { code });
    Ok(IssuedCode { code: text, purpose, target, expires_at })
}

/// Checks `submitted` against the code for `purpose` to `target` and adds the code's new state (an
/// attempt used, or spent) to `work`. The outer result is the use case's (write or not); the inner is
/// the verdict, which is an answer to give after writing, not a reason to write nothing.
pub(crate) async fn check_in(
    work: &mut Work,
    parties: &Parties,
    purpose: CodePurpose,
    target: &CodeTarget,
    submitted: &str,
) -> Result<Result<VerifiedCode, PartyError>, PartyError> {
    // No code issued answers as a wrong one, so that asking does not tell which addresses got codes.
    let Some(stored) = work.get::<StoredOneTimeCode>(&one_time_code_id(purpose, target)).await? else {
        return Ok(Err(OneTimeCodeError::CodeIncorrect.into()));
    };
    let secret = &parties.config.secret;
    let (code, verdict) = stored.code.clone().check(submitted, work.now, |input| secret.code_digest(input));
    if code != stored.code {
        work.put(&StoredOneTimeCode { code });
    }
    Ok(verdict.map_err(PartyError::from))
}

/// Checks `submitted` against the code for `purpose` to `target` without spending a right one: a wrong
/// one's attempt (or an expired code's state) is added to `work`, a right one is left as it is, to be
/// spent by [`check_in`] in the write that acts on it (a payment by phone, which a refusal before it
/// is recorded must leave unspent). The outer result is the use case's; the inner, the verdict.
pub(crate) async fn try_in(
    work: &mut Work,
    parties: &Parties,
    purpose: CodePurpose,
    target: &CodeTarget,
    submitted: &str,
) -> Result<Result<(), PartyError>, PartyError> {
    let Some(stored) = work.get::<StoredOneTimeCode>(&one_time_code_id(purpose, target)).await? else {
        return Ok(Err(OneTimeCodeError::CodeIncorrect.into()));
    };
    let secret = &parties.config.secret;
    let (code, verdict) = stored.code.clone().check(submitted, work.now, |input| secret.code_digest(input));
    match verdict {
        Ok(_) => Ok(Ok(())),
        Err(wrong) => {
            if code != stored.code {
                work.put(&StoredOneTimeCode { code });
            }
            Ok(Err(wrong.into()))
        }
    }
}
