//! Pay passwords (支付密码), one per member and one per operator, kept under the owner's id: set, change
//! (with the current one), verify; locked after the configured number of wrong tries for the
//! configured time.
//!
//! The hash is Argon2id with explicit parameters, stored as a PHC string (which names its parameters
//! and salt, so a change of parameters leaves older hashes verifiable). Hashing costs tens of
//! milliseconds of CPU and its memory by design, so it runs on the blocking pool, at most a few at
//! once (`crate::hashing`; beyond them and their queue, `rate_limited`), and before the transaction rather
//! than inside it: a use case hashes once, then decides and writes, and hashes again only if the
//! stored hash changed meanwhile (the password was changed), never because of a retried write.
//!
//! The failure count and lock are in the stored record, so they hold across restarts and instances;
//! every attempt is an optimistic write of that record, so concurrent wrong attempts each count.

use argon2::password_hash::{Error as HashError, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sanhu_core::id::{CustomerId, MemberId};
use sanhu_core::party::certificate::Certificate;
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::pay_password::{PasswordVerdict, PayPasswordError};
use sanhu_core::party::{Actor, LoginIdentity, MemberAction, PayPassword, PayPasswordGuard};
use sanhu_core::Timestamp;
use sanhu_store::party::PartyStore;
use serde_json::json;

use super::customers::load_customer;
use super::documents::{pay_password_id, PayPasswordOwner, StoredPayPassword};
use super::error::{
    PartyError, Rejection, OPERATOR_NOT_FOUND, PAY_PASSWORD_ALREADY_SET, PAY_PASSWORD_NOT_SET,
    PAY_PASSWORD_RESET_CERTIFICATE_MISMATCH, PAY_PASSWORD_RESET_PHONE_REQUIRED, PAY_PASSWORD_RESET_REAL_NAME_REQUIRED,
};
use super::members::load_member;
use super::work::Work;
use super::Parties;
use crate::clock;
use crate::hashing::HashingPermits;

/// Argon2id's cost parameters for new pay password hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayPasswordHashing {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes (threads' worth of parallel work).
    pub parallelism: u32,
}

/// Salt and hash lengths, in bytes: the values RFC 9106 recommends.
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;

impl PayPasswordHashing {
    /// OWASP's first recommended setting for Argon2id: 19 MiB, 2 passes, 1 lane (about 20 to 50 ms on a
    /// server core).
    pub const RECOMMENDED: PayPasswordHashing =
        PayPasswordHashing { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };

    fn argon2(self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(HASH_BYTES))
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters {self:?}: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Parties {
    /// Sets the owner's first pay password; a set one is changed with `change_pay_password`.
    pub async fn set_pay_password(
        &self,
        owner: PayPasswordOwner,
        password: &PayPassword,
        actor: &Actor,
    ) -> Result<(), PartyError> {
        // Refuse what would be refused anyway before paying for a hash.
        {
            let mut work = self.reader();
            owner_customer(&mut work, owner).await?;
            if work.get::<StoredPayPassword>(&pay_password_id(owner)).await?.is_some() {
                return Err(PartyError::Rejected(PAY_PASSWORD_ALREADY_SET));
            }
        }
        let phc = hash(&self.pay_password_permits, self.config.pay_password_hashing, password.clone()).await?;
        transact!(self, |work| {
            let customer_id = owner_customer(work, owner).await?;
            if work.get::<StoredPayPassword>(&pay_password_id(owner)).await?.is_some() {
                return Err(PartyError::Rejected(PAY_PASSWORD_ALREADY_SET));
            }
            let guard = PayPasswordGuard::default();
            work.put(&StoredPayPassword { owner, customer_id, phc: phc.clone(), guard, set_at: work.now });
            work.history(&owner.to_string(), &customer_id.to_string(), "pay_password.set", actor, None, json!({}));
            Ok(())
        })
    }

    /// Checks a pay password at `now` (the caller's clock: the HTTP layer passes `clock::now()`). A
    /// locked one is refused without being compared; a wrong one counts towards the lock, and the
    /// `failures_max`-th in a row locks it (`pay_password_locked`).
    pub async fn verify_pay_password(
        &self,
        owner: PayPasswordOwner,
        password: &str,
        now: Timestamp,
    ) -> Result<(), PartyError> {
        self.attempt(owner, password, None, &Actor::System, now).await
    }

    /// Changes a pay password: the current one must be right (a wrong one counts towards the lock like
    /// any attempt), and then `new` replaces it and the failures are cleared.
    pub async fn change_pay_password(
        &self,
        owner: PayPasswordOwner,
        current: &str,
        new: &PayPassword,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), PartyError> {
        self.attempt(owner, current, Some(new), actor, now).await
    }

    /// Resets a member's forgotten pay password (忘记支付密码): the member proves it with the one-time
    /// code sent to its bound phone (purpose `pay_password_reset`, issued over the codes' endpoint and
    /// delivered by the platform) and the number of its customer's verified certificate (the real-name
    /// check). The lockout rules hold: a locked password is not reset until its lock ends
    /// (`pay_password_locked`); a wrong code uses one of the code's attempts; a wrong certificate
    /// number counts as a wrong pay password towards the lock (`pay_password_reset_certificate_mismatch`,
    /// or `pay_password_locked` on the try that locks), and spends the code, so each guess costs a new
    /// code. Success replaces the hash and clears the failures, written to the history.
    pub async fn reset_pay_password(
        &self,
        member_id: MemberId,
        code: &str,
        certificate_number: &str,
        new: &PayPassword,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), PartyError> {
        let owner = PayPasswordOwner::Member(member_id);
        let id = pay_password_id(owner);
        // Refuse what would be refused anyway before paying for a hash.
        {
            let stored =
                self.reader().get::<StoredPayPassword>(&id).await?.ok_or(PartyError::NotFound(PAY_PASSWORD_NOT_SET))?;
            stored.guard.check_may_try(now)?;
        }
        let phc = hash(&self.pay_password_permits, self.config.pay_password_hashing, new.clone()).await?;
        let policy = self.config.pay_password;
        transact!(self, PartyError, |work| {
            work.now = now;
            member_customer(work, member_id).await?;
            let member = load_member(work, member_id).await?;
            let customer = load_customer(work, member.member.customer()).await?;
            let current =
                work.get::<StoredPayPassword>(&id).await?.ok_or(PartyError::NotFound(PAY_PASSWORD_NOT_SET))?;
            current.guard.check_may_try(now)?;
            let phone = member.identities.iter().find_map(|i| match i {
                LoginIdentity::Phone(phone) => Some(phone.clone()),
                _ => None,
            });
            let Some(phone) = phone else { return Ok(Err(PartyError::Rejected(PAY_PASSWORD_RESET_PHONE_REQUIRED))) };
            let Some(certificate) = customer.customer.certificate().cloned() else {
                return Ok(Err(PartyError::Rejected(PAY_PASSWORD_RESET_REAL_NAME_REQUIRED)));
            };
            let target = CodeTarget::Phone(phone);
            if let Err(wrong) =
                super::one_time_codes::check_in(work, self, CodePurpose::PayPasswordReset, &target, code).await?
            {
                return Ok(Err(wrong));
            }
            let owner_key = owner.to_string();
            let customer_key = current.customer_id.to_string();
            let matches = Certificate::parse(certificate.certificate_type(), certificate_number)
                .is_ok_and(|given| given == certificate);
            if !matches {
                let (guard, answer) = current.guard.after_attempt(PasswordVerdict::Incorrect, policy, now);
                if guard.locked_until().is_some() {
                    work.history(
                        &owner_key,
                        &customer_key,
                        "pay_password.locked",
                        &Actor::System,
                        None,
                        json!({ "failures": guard.failures(),
                                "locked_until": guard.locked_until().map(|t| t.to_string()) }),
                    );
                }
                work.put(&StoredPayPassword { guard, ..current });
                let answer = match answer {
                    Err(PayPasswordError::PayPasswordIncorrect) => {
                        PartyError::Rejected(PAY_PASSWORD_RESET_CERTIFICATE_MISMATCH)
                    }
                    Err(other) => other.into(),
                    Ok(()) => PartyError::Rejected(PAY_PASSWORD_RESET_CERTIFICATE_MISMATCH),
                };
                return Ok(Err(answer));
            }
            work.put(&StoredPayPassword {
                phc: phc.clone(),
                guard: PayPasswordGuard::default(),
                set_at: now,
                ..current
            });
            work.history(&owner_key, &customer_key, "pay_password.reset", actor, None, json!({}));
            Ok(Ok(()))
        })?
    }

    /// One attempt with `submitted`, and on success the replacement by `new`, if given.
    async fn attempt(
        &self,
        owner: PayPasswordOwner,
        submitted: &str,
        new: Option<&PayPassword>,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), PartyError> {
        let id = pay_password_id(owner);
        let policy = self.config.pay_password;
        // The verdict on the hash it was computed against, and the new password's hash.
        let mut hashed: Option<(String, PasswordVerdict, Option<String>)> = None;
        // The stored hash changes only when the password is changed; each time, the attempt is
        // compared again against the new hash. A bound, in case something changes it without end.
        for _ in 0..super::work::ATTEMPTS {
            let stored =
                self.reader().get::<StoredPayPassword>(&id).await?.ok_or(PartyError::NotFound(PAY_PASSWORD_NOT_SET))?;
            stored.guard.check_may_try(now)?;
            if hashed.as_ref().is_none_or(|(phc, _, _)| *phc != stored.phc) {
                let verdict = verify(&self.pay_password_permits, stored.phc.clone(), submitted).await?;
                let new_phc = match (verdict, new) {
                    (PasswordVerdict::Correct, Some(new)) => {
                        Some(hash(&self.pay_password_permits, self.config.pay_password_hashing, new.clone()).await?)
                    }
                    _ => None,
                };
                hashed = Some((stored.phc.clone(), verdict, new_phc));
            }
            let (phc, verdict, new_phc) = hashed.clone().expect("hashed above");
            let answer = transact!(self, PartyError, |work| {
                work.now = now;
                if new.is_some() {
                    owner_customer(work, owner).await?;
                }
                let current =
                    work.get::<StoredPayPassword>(&id).await?.ok_or(PartyError::NotFound(PAY_PASSWORD_NOT_SET))?;
                if current.phc != phc {
                    return Ok(None);
                }
                let (guard, answer) = current.guard.after_attempt(verdict, policy, now);
                let owner_key = owner.to_string();
                let customer_key = current.customer_id.to_string();
                match (&answer, &new_phc) {
                    (Ok(()), Some(new_phc)) => {
                        work.put(&StoredPayPassword { phc: new_phc.clone(), guard, set_at: now, ..current });
                        work.history(&owner_key, &customer_key, "pay_password.changed", actor, None, json!({}));
                    }
                    _ if guard != current.guard => {
                        if guard.locked_until().is_some() && current.guard.check_may_try(now).is_ok() {
                            work.history(
                                &owner_key,
                                &customer_key,
                                "pay_password.locked",
                                &Actor::System,
                                None,
                                json!({ "failures": guard.failures(),
                                        "locked_until": guard.locked_until().map(|t| t.to_string()) }),
                            );
                        }
                        work.put(&StoredPayPassword { guard, ..current });
                    }
                    _ => {}
                }
                Ok(Some(answer))
            })?;
            if let Some(answer) = answer {
                return answer.map_err(PartyError::from);
            }
        }
        Err(PartyError::Contended)
    }
}

/// Whose pay password it is may manage it: a member that may manage its security, or an operator that
/// exists (its own rules are the operator module's). Returns the customer the password belongs under.
async fn owner_customer(work: &mut Work, owner: PayPasswordOwner) -> Result<CustomerId, PartyError> {
    match owner {
        PayPasswordOwner::Member(member_id) => member_customer(work, member_id).await,
        PayPasswordOwner::Operator(operator_id) => {
            let records = work.store().party_records(&[operator_id.to_string()]).await?;
            let record =
                records.into_iter().find(|r| r.kind == "operator").ok_or(PartyError::NotFound(OPERATOR_NOT_FOUND))?;
            CustomerId::parse(&record.customer_id)
                .ok_or_else(|| PartyError::Internal(anyhow::anyhow!("operator {operator_id} has no valid customer")))
        }
    }
}

async fn member_customer(work: &mut Work, member_id: MemberId) -> Result<CustomerId, PartyError> {
    let stored = load_member(work, member_id).await?;
    let customer = load_customer(work, stored.member.customer()).await?;
    stored.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
    Ok(customer.customer.id())
}

/// Refused when as many pay password hashes run and wait as the bound allows: nothing was done, and
/// the HTTP layer answers 429 with `Retry-After`.
pub const HASHING_BUSY: Rejection = Rejection {
    code: "rate_limited",
    status: 429,
    message: "the server is checking as many pay passwords as it allows at once; retry shortly",
};

/// Runs a hash under the permits.
async fn under<T: Send + 'static>(
    permits: &HashingPermits,
    hash: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, PartyError> {
    match permits.run(hash).await {
        Ok(result) => result.map_err(PartyError::Internal),
        Err(crate::hashing::Busy) => Err(PartyError::Rejected(HASHING_BUSY)),
    }
}

/// The PHC string of `password` under a fresh salt, computed on the blocking pool.
async fn hash(
    permits: &HashingPermits,
    hashing: PayPasswordHashing,
    password: PayPassword,
) -> Result<String, PartyError> {
    under(permits, move || {
        let salt = SaltString::encode_b64(&clock::random_bytes::<SALT_BYTES>())
            .map_err(|e| anyhow::anyhow!("failed to encode a salt: {e}"))?;
        let hashed = hashing
            .argon2()?
            .hash_password(password.expose_for_hashing(), &salt)
            .map_err(|e| anyhow::anyhow!("failed to hash a pay password: {e}"))?;
        Ok(hashed.to_string())
    })
    .await
}

/// Whether `submitted` is the password hashed in `phc` (with the parameters written in it), computed
/// on the blocking pool. Anything but 6 digits cannot be a pay password: it is wrong without hashing,
/// and costs an attempt all the same.
async fn verify(permits: &HashingPermits, phc: String, submitted: &str) -> Result<PasswordVerdict, PartyError> {
    if submitted.len() != 6 || !submitted.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PasswordVerdict::Incorrect);
    }
    let submitted = submitted.to_owned();
    under(permits, move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("a stored pay password hash: {e}"))?;
        match Argon2::default().verify_password(submitted.as_bytes(), &parsed) {
            Ok(()) => Ok(PasswordVerdict::Correct),
            Err(HashError::Password) => Ok(PasswordVerdict::Incorrect),
            Err(e) => Err(anyhow::anyhow!("failed to verify a pay password: {e}")),
        }
    })
    .await
}
