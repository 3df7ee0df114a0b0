//! Redemption codes (兑换码): generated for an approved batch, shown once (in the answer that
//! generates them, for printing) and kept only as a keyed hash (`PartySecret::redemption_code_digest`);
//! a member redeems one to get its card (sold, activated and bound to the member at once), or staff
//! bind codes to members from the back office, one at a time or a CSV of phone numbers and codes.
//!
//! **A code holds a card.** Each code generated holds one of its batch's cards (the batch's
//! `codes_unused`), which a sale does not take: a batch's cards sold and held by codes are at most its
//! quantity, so every code generated can be redeemed. Redeeming takes the batch's next card.
//!
//! **Once.** The store marks a code redeemed, and takes its card, in the statement that checks it is
//! unused and not expired: of any number of redemptions of one code at once, one gets the card and
//! the others `card_code_used`. The same member redeeming its code again (a retry) is answered its card.
//! A crash between the code's redemption and its card's sale is finished by that retry: the sale's
//! record is named by the code, and the card's number by the index the code took.
//!
//! **Guessing.** A code is 70 random bits; a mistyped one is caught by its check symbols
//! (`card_code_invalid`, no try spent). A well-formed code that is no code the caller reaches, or one
//! another member redeemed, is a failed redemption for the caller (the client, or the staff member)
//! and for the member named; either with [`FAILED_REDEMPTIONS_MAX`] failures within
//! [`FAILED_REDEMPTIONS_WINDOW_SECONDS`] is refused every redemption, before any code is looked up
//! (429 `card_code_attempts_exceeded`), until its older failures leave the window. An attempt is
//! counted as a failure before it is decided, in the transaction that checks the ceiling (so a
//! burst at once cannot pass it), and given back when it turns out not to be one.

use anyhow::anyhow;
use sanhu_core::card::redemption::{
    check_code_quantity, check_expiry, check_redeemable, parse_bulk, CodeStatus, RedeemRefusal, RedemptionCode,
    CODE_ENTROPY_BYTES, FAILED_REDEMPTIONS_MAX, FAILED_REDEMPTIONS_WINDOW_SECONDS,
};
use sanhu_core::card::{CardError, CardKind, CardOwner};
use sanhu_core::id::{CardBatchId, CardCodeId, MemberId};
use sanhu_core::party::{Actor, PhoneNumber};
use sanhu_core::Timestamp;
use sanhu_store::card::{CardStore, CodesInsert, StoredCardCode};
use serde::{Deserialize, Serialize};

use super::batches::{BatchStatus, CardBatch};
use super::cards::{Card, SaleRecord};
use super::documents::{decode, encode};
use super::{
    page_limit, CardFailure, Cards, CARD_CODES_EXCEED_BATCH, CARD_CODE_ATTEMPTS_EXCEEDED, CARD_CODE_NOT_FOUND,
};
use crate::clock;
use crate::party::work::actor_text;
use crate::party::PartyError;
use crate::wallet::CHANNEL_NOT_CONFIGURED;

/// What to generate.
#[derive(Clone, Debug)]
pub struct NewCodes {
    pub batch_id: CardBatchId,
    /// 1 to 1,000.
    pub quantity: i64,
    pub expires_at: Timestamp,
    /// The payment channel the codes are paid through (a stored-value card sold at a price needs
    /// one): a redeemed code's sale takes the sale price from its clearing account.
    pub payment_channel: Option<String>,
}

/// Codes just generated: the only time their text is known.
#[derive(Clone, Debug)]
pub struct GeneratedCodes {
    pub batch_id: CardBatchId,
    pub expires_at: Timestamp,
    pub codes: Vec<(CardCodeId, RedemptionCode)>,
}

/// A code as kept (never its text).
#[derive(Clone, Debug)]
pub struct CardCode {
    pub id: CardCodeId,
    pub batch_id: CardBatchId,
    pub owner: CardOwner,
    pub status: CodeStatus,
    pub expires_at: Timestamp,
    pub payment_channel: Option<String>,
    /// Who redeemed it, when, and the card it gave (its index in the batch).
    pub member_id: Option<MemberId>,
    pub redeemed_at: Option<Timestamp>,
    pub card_index: Option<i64>,
    /// The card's number (in a batch's list of codes).
    pub card_number: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeDoc {
    payment_channel: Option<String>,
    created_by: String,
}

impl CardCode {
    fn stored(&self, digest: String) -> StoredCardCode {
        StoredCardCode {
            id: self.id.to_string(),
            batch_id: self.batch_id.to_string(),
            owner: self.owner.as_text(),
            digest,
            status: status_text(self.status).to_owned(),
            expires_at: self.expires_at,
            member_id: self.member_id.map(|m| m.to_string()),
            card_index: self.card_index,
            redeemed_at: self.redeemed_at,
            data: encode(&CodeDoc {
                payment_channel: self.payment_channel.clone(),
                created_by: self.created_by.clone(),
            }),
            created_at: self.created_at,
        }
    }

    fn restore(k: StoredCardCode) -> anyhow::Result<CardCode> {
        let doc: CodeDoc = decode(&k.data, "card code")?;
        Ok(CardCode {
            id: CardCodeId::parse(&k.id).ok_or_else(|| anyhow!("stored card code id {:?}", k.id))?,
            batch_id: CardBatchId::parse(&k.batch_id).ok_or_else(|| anyhow!("stored batch id {:?}", k.batch_id))?,
            owner: CardOwner::parse(&k.owner).ok_or_else(|| anyhow!("stored card owner {:?}", k.owner))?,
            status: match k.status.as_str() {
                "unused" => CodeStatus::Unused,
                "redeemed" => CodeStatus::Redeemed,
                "expired" => CodeStatus::Expired,
                other => anyhow::bail!("stored card code status {other:?}"),
            },
            expires_at: k.expires_at,
            payment_channel: doc.payment_channel,
            member_id: k
                .member_id
                .as_deref()
                .map(|m| MemberId::parse(m).ok_or_else(|| anyhow!("stored member id {m:?}")))
                .transpose()?,
            redeemed_at: k.redeemed_at,
            card_index: k.card_index,
            card_number: None,
            created_by: doc.created_by,
            created_at: k.created_at,
        })
    }
}

/// `unused`, `redeemed` or `expired`, as stored and shown.
pub fn status_text(status: CodeStatus) -> &'static str {
    match status {
        CodeStatus::Unused => "unused",
        CodeStatus::Redeemed => "redeemed",
        CodeStatus::Expired => "expired",
    }
}

/// One row of a bulk binding, answered.
#[derive(Debug)]
pub struct BulkOutcome {
    /// Its line in the text (1 for the first).
    pub line: usize,
    pub phone: String,
    /// The card it gave, or why it did not.
    pub result: Result<Card, CardFailure>,
}

impl Cards {
    /// The subjects a failed redemption for `member` counts against, each with its ceiling within
    /// the window: the member and the caller when the caller is the member's own (a client bound to
    /// it, or the member itself); otherwise the caller for that member, and the caller across all
    /// members with the platform's higher ceiling, so no caller can lock a member out for another.
    fn subjects(&self, actor: &Actor, member: MemberId, binding: Option<MemberId>) -> Vec<(String, i64)> {
        let caller = actor_text(actor);
        let own = binding == Some(member) || matches!(actor, Actor::Member(m) if *m == member);
        if own {
            let mut subjects = vec![(format!("member:{member}"), FAILED_REDEMPTIONS_MAX)];
            if caller != subjects[0].0 {
                subjects.push((caller, FAILED_REDEMPTIONS_MAX));
            }
            subjects
        } else {
            vec![
                (format!("{caller}|member:{member}"), FAILED_REDEMPTIONS_MAX),
                (caller, self.wallets.config().card_code_caller_attempts),
            ]
        }
    }

    fn window_start(now: Timestamp) -> Timestamp {
        Timestamp::from_nanos(now.nanos() - FAILED_REDEMPTIONS_WINDOW_SECONDS * 1_000_000_000)
    }

    /// Records an attempt as a failure of each subject before it is decided, refused (429) when a
    /// subject reached its ceiling within the window: the check and the record are one transaction,
    /// so a burst of attempts at once cannot pass a ceiling. Its time, for [`Cards::forgive`].
    async fn attempt(&self, subjects: &[(String, i64)]) -> Result<Timestamp, CardFailure> {
        let now = clock::now();
        if self.store().record_card_code_attempt(subjects.to_vec(), now, Self::window_start(now)).await? {
            Ok(now)
        } else {
            Err(CardFailure::Rejected(CARD_CODE_ATTEMPTS_EXCEEDED))
        }
    }

    /// Gives back an attempt that did not fail (a redemption, an expired code, a refusal of the
    /// sale): only failed guesses count.
    async fn forgive(&self, subjects: &[(String, i64)], at: Timestamp) -> Result<(), CardFailure> {
        let names = subjects.iter().map(|(subject, _)| subject.clone()).collect();
        Ok(self.store().forget_card_code_attempt(names, at).await?)
    }

    /// Whether a redemption's refusal is a failed guess: no code the caller reaches, or another
    /// member's.
    fn is_failed_guess(result: &Result<Card, CardFailure>) -> bool {
        match result {
            Err(CardFailure::NotFound(r)) => r.code == CARD_CODE_NOT_FOUND.code,
            Err(CardFailure::Rejected(r)) => r.code == CardError::CodeUsed.code(),
            _ => false,
        }
    }

    /// The code whose text is `text`, if the caller reaches it.
    async fn reached_code(
        &self,
        text: &RedemptionCode,
        binding: Option<MemberId>,
    ) -> Result<Option<(CardCode, String)>, CardFailure> {
        let digest = self.parties().config().secret.redemption_code_digest(text.as_str());
        let Some(stored) = self.store().card_code_by_digest(&digest).await? else { return Ok(None) };
        let code = CardCode::restore(stored)?;
        Ok(self.reaches(binding, code.owner).await?.then_some((code, digest)))
    }

    /// Generates codes for an approved batch the caller reaches, each holding one of its cards:
    /// the codes' text is in the answer and nowhere else.
    pub async fn generate_codes(
        &self,
        new: NewCodes,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<GeneratedCodes, CardFailure> {
        let quantity = check_code_quantity(new.quantity)?;
        let now = clock::now();
        let expires_at = check_expiry(new.expires_at, now)?;
        let batch = self.batch(new.batch_id, binding).await?;
        if batch.status != BatchStatus::Approved {
            return Err(CardError::BatchNotApproved.into());
        }
        let payment_channel = match new.payment_channel {
            Some(name) => Some(
                self.wallets.config().channel(&name).ok_or(CardFailure::Rejected(CHANNEL_NOT_CONFIGURED))?.name.clone(),
            ),
            None if batch.terms.kind == CardKind::StoredValue && batch.terms.sale_price > 0 => {
                return Err(CardFailure::Rejected(CHANNEL_NOT_CONFIGURED));
            }
            None => None,
        };
        let secret = &self.parties().config().secret;
        let mut codes = Vec::new();
        let mut stored = Vec::new();
        for _ in 0..quantity {
            let text = RedemptionCode::from_entropy(clock::random_bytes::<CODE_ENTROPY_BYTES>());
            let code = CardCode {
                id: clock::new_id(),
                batch_id: batch.id,
                owner: batch.owner,
                status: CodeStatus::Unused,
                expires_at,
                payment_channel: payment_channel.clone(),
                member_id: None,
                redeemed_at: None,
                card_index: None,
                card_number: None,
                created_by: actor_text(actor),
                created_at: now,
            };
            stored.push(code.stored(secret.redemption_code_digest(text.as_str())));
            codes.push((code.id, text));
        }
        // In id order, as the batch's list shows them (ids made in one millisecond are not in order).
        codes.sort_by_key(|(id, _)| id.to_string());
        let _turn = self.turn(format!("card_batch:{}", batch.id)).await;
        match self.store().create_card_codes(&batch.id.to_string(), stored, clock::now()).await? {
            CodesInsert::Stored => Ok(GeneratedCodes { batch_id: batch.id, expires_at, codes }),
            CodesInsert::NotApproved => Err(CardError::BatchNotApproved.into()),
            CodesInsert::OverQuantity => Err(CardFailure::Rejected(CARD_CODES_EXCEED_BATCH)),
        }
    }

    /// A batch's codes (never their text), in id order.
    pub async fn batch_codes(
        &self,
        batch_id: CardBatchId,
        binding: Option<MemberId>,
        after: Option<CardCodeId>,
        limit: Option<u32>,
    ) -> Result<Vec<CardCode>, CardFailure> {
        let limit = page_limit(limit)?;
        let batch = self.batch(batch_id, binding).await?;
        let page = self.store().card_codes(&batch.id.to_string(), after.map(|id| id.to_string()), limit).await?;
        let segment = self.segment(batch.segment_id).await?.segment;
        let mut codes = page.into_iter().map(CardCode::restore).collect::<anyhow::Result<Vec<_>>>()?;
        for code in &mut codes {
            code.card_number = code.card_index.map(|index| segment.number(batch.first_serial + index));
        }
        Ok(codes)
    }

    /// Redeems the code `typed` for `member`: the card it holds, sold, activated and bound to the
    /// member. A code the caller does not reach answers as if absent.
    pub async fn redeem_code(
        &self,
        typed: &str,
        member: MemberId,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let text = RedemptionCode::parse(typed).map_err(|_| CardError::CodeInvalid)?;
        self.parties().get_member(member).await?;
        let found = self.reached_code(&text, binding).await?;
        // The member's own code again (a retry): its card, whatever the guessing limit says.
        let retry = found.as_ref().is_some_and(|(code, _)| {
            code.status == CodeStatus::Redeemed && code.member_id == Some(member) && code.card_index.is_some()
        });
        let subjects = self.subjects(actor, member, binding);
        // Counted as a failure before it is decided, and given back unless it is one.
        let attempt = if retry { None } else { Some(self.attempt(&subjects).await?) };
        let result = self.redeem_found(found, member, binding, actor).await;
        if let Some(at) = attempt {
            if !Self::is_failed_guess(&result) {
                self.forgive(&subjects, at).await?;
            }
        }
        result
    }

    /// A redemption, its attempt counted: the code found (None: no code the caller reaches).
    async fn redeem_found(
        &self,
        found: Option<(CardCode, String)>,
        member: MemberId,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let Some((code, digest)) = found else {
            return Err(CardFailure::NotFound(CARD_CODE_NOT_FOUND));
        };
        let _turn = self.turn(format!("card_code:{}", code.id)).await;
        let batch = self.batch(code.batch_id, None).await?;
        // Whatever may refuse the sale is decided before the code is spent.
        let moves = self.sale_moves(&batch.terms, code.payment_channel.as_deref()).await?;
        self.segment(batch.segment_id).await?;
        let index = match self.claim(&code, &digest, member, &batch).await? {
            Ok(index) => index,
            Err(RedeemRefusal::Expired) => return Err(CardError::CodeExpired.into()),
            Err(RedeemRefusal::Used) => return Err(CardError::CodeUsed.into()),
        };
        let sale = SaleRecord {
            id: format!("card_sale:code:{}", code.id),
            order_number: code.id.to_string(),
            fingerprint: format!("redeem|{}|{member}", code.id),
            moves,
            actor: actor_text(actor),
        };
        self.issue_card(&batch, index, sale, Some(member), binding).await
    }

    /// The card index `code` gives `member`: taken now if the code is unused and not expired, or the
    /// one it took when `member` redeemed it before (a retry).
    async fn claim(
        &self,
        code: &CardCode,
        digest: &str,
        member: MemberId,
        batch: &CardBatch,
    ) -> Result<Result<i64, RedeemRefusal>, CardFailure> {
        let mine = |c: &CardCode| c.member_id == Some(member) && c.card_index.is_some();
        if code.status == CodeStatus::Redeemed && mine(code) {
            return Ok(Ok(code.card_index.expect("checked")));
        }
        let now = clock::now();
        if let Err(refusal) = check_redeemable(code.status, code.expires_at, now) {
            return Ok(Err(refusal));
        }
        // A card of a batch with fixed dates that are over cannot be activated: the code stays unused.
        let (_, until) = batch.terms.validity.window(now, &self.parties().config().calendar);
        if now >= until {
            return Err(CardError::Expired.into());
        }
        if let Some(index) = self.store().redeem_card_code(&code.id.to_string(), &member.to_string(), now).await? {
            crate::effects::wrote();
            return Ok(Ok(index));
        }
        // Redeemed meanwhile (another instance), or expired at this moment.
        let again = self.store().card_code_by_digest(digest).await?.ok_or_else(|| anyhow!("card code vanished"))?;
        let again = CardCode::restore(again)?;
        if again.status == CodeStatus::Redeemed && mine(&again) {
            return Ok(Ok(again.card_index.expect("checked")));
        }
        Ok(check_redeemable(again.status, again.expires_at, clock::now()).and(Err(RedeemRefusal::Used)))
    }

    /// Binds codes to members from the back office: each row of `csv` (`phone,code`) redeemed for the
    /// member whose login phone it names, one after another, each answered on its own. A row's code
    /// is checked before its phone is looked up, and a row whose code or phone is no one's counts as
    /// a failed redemption of the caller: the rows do not tell which phones are members'.
    pub async fn bind_codes(
        &self,
        csv: &str,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Vec<BulkOutcome>, CardFailure> {
        let rows = parse_bulk(csv)?;
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let result = self.bind_row(&row.phone, &row.code, binding, actor).await;
            if let Err(CardFailure::Internal(error)) = result {
                return Err(CardFailure::Internal(error));
            }
            outcomes.push(BulkOutcome { line: row.line, phone: row.phone, result });
        }
        Ok(outcomes)
    }

    async fn bind_row(
        &self,
        phone: &str,
        typed: &str,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let text = RedemptionCode::parse(typed).map_err(|_| CardError::CodeInvalid)?;
        let caller = [(actor_text(actor), self.wallets.config().card_code_caller_attempts)];
        // Counted before the code and the phone are looked up; given back when both are someone's
        // (the redemption then counts for itself).
        let at = self.attempt(&caller).await?;
        if self.reached_code(&text, binding).await?.is_none() {
            return Err(CardFailure::NotFound(CARD_CODE_NOT_FOUND));
        }
        let phone = match PhoneNumber::parse(phone) {
            Ok(phone) => phone,
            Err(error) => {
                self.forgive(&caller, at).await?;
                return Err(PartyError::from(error).into());
            }
        };
        let member = match self.parties().member_by_phone(&phone).await {
            Ok(member) => member,
            Err(PartyError::NotFound(what)) => return Err(PartyError::NotFound(what).into()),
            Err(error) => return Err(error.into()),
        };
        self.forgive(&caller, at).await?;
        self.redeem_code(typed, member, binding, actor).await
    }
}
