//! Who changed a status, when and why. A customer's ban or judicial freeze, a member's lock, an
//! account's stop-payment all touch someone's money or access, so each change carries an actor and a
//! reason, for the audit trail and for the support staff who later have to explain it.

use super::mask::mask_sensitive_numbers;
use crate::id::{ClientId, MemberId, OperatorId};
use crate::Timestamp;

rejection_codes! {
    /// Why a reason or an actor could not be built.
    pub enum ChangeError {
        ReasonInvalid => "reason_invalid", 422, "a reason is 1 to 200 characters of text without control characters",
        StaffNameInvalid => "staff_name_invalid", 422, "a staff name is 1 to 64 characters without control characters",
    }
}

/// The longest reason, in characters.
pub const REASON_CHARS_MAX: usize = 200;
/// The longest staff name, in characters.
pub const STAFF_NAME_CHARS_MAX: usize = 64;

/// Why something changed, in words a person wrote or a job states ("judicial freeze, case 2026-01").
/// Trimmed, never empty, and with any card or certificate number in it masked
/// ([`mask_sensitive_numbers`]): a reason is kept in the history, the wallet's records and the audit
/// log, and shown to whoever reads them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: &str) -> Result<Reason, ChangeError> {
        bounded_text(text, REASON_CHARS_MAX)
            .map(|text| Reason(mask_sensitive_numbers(&text)))
            .ok_or(ChangeError::ReasonInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member of the platform's staff acting in the admin console, by name until staff have accounts
/// of their own.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StaffName(String);

impl StaffName {
    pub fn parse(text: &str) -> Result<StaffName, ChangeError> {
        bounded_text(text, STAFF_NAME_CHARS_MAX).map(StaffName).ok_or(ChangeError::StaffNameInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn bounded_text(text: &str, chars_max: usize) -> Option<String> {
    let text = text.trim();
    let chars = text.chars().count();
    let ok = (1..=chars_max).contains(&chars) && !text.chars().any(char::is_control);
    ok.then(|| text.to_owned())
}

/// Who made a change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Actor {
    /// A platform's back-end system, through the signed API.
    Client(ClientId),
    /// Platform staff in the admin console.
    Staff(StaffName),
    /// The member itself.
    Member(MemberId),
    /// An operator acting for its enterprise member.
    Operator(OperatorId),
    /// sanhu itself: a background job (dormancy) or a rule that follows from another change (a
    /// merge caused by a verified authentication).
    System,
}

impl Actor {
    /// Whether this actor may make the platform's administrative decisions (an explicit merge): the
    /// platform's staff and its back-end systems, not the members or operators the decision is about,
    /// and not sanhu's own jobs, which follow rules rather than judgement.
    pub fn is_administrator(&self) -> bool {
        matches!(self, Actor::Client(_) | Actor::Staff(_))
    }
}

/// The who, why and when of one change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    pub actor: Actor,
    pub reason: Reason,
    pub at: Timestamp,
}

/// A status change as recorded: from, to, and the change's actor, reason and time. Only the rules
/// build one, so a recorded change is always an allowed one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatusChange<S> {
    from: S,
    to: S,
    change: Change,
}

impl<S: Copy> StatusChange<S> {
    pub(crate) fn new(from: S, to: S, change: Change) -> StatusChange<S> {
        StatusChange { from, to, change }
    }

    pub fn from(&self) -> S {
        self.from
    }

    pub fn to(&self) -> S {
        self.to
    }

    pub fn change(&self) -> &Change {
        &self.change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_text() {
        assert_eq!(Reason::parse("  judicial freeze  ").unwrap().as_str(), "judicial freeze");
        assert_eq!(Reason::parse("司法冻结").unwrap().as_str(), "司法冻结");
    }

    #[test]
    fn a_card_or_certificate_number_in_a_reason_is_masked() {
        let reason = Reason::parse("card 6222020000000000018 and ID 110101199003071233 reported stolen").unwrap();
        assert_eq!(reason.as_str(), "card 622202*********0018 and ID 110***********1233 reported stolen");
        assert_eq!(
            Reason::parse("order 20260131123456789, 100.00").unwrap().as_str(),
            "order 20260131123456789, 100.00"
        );
    }

    #[test]
    fn an_empty_overlong_or_control_character_reason_is_refused() {
        assert_eq!(Reason::parse("   "), Err(ChangeError::ReasonInvalid));
        assert_eq!(Reason::parse(&"x".repeat(REASON_CHARS_MAX + 1)), Err(ChangeError::ReasonInvalid));
        assert!(Reason::parse(&"冻".repeat(REASON_CHARS_MAX)).is_ok(), "the limit counts characters");
        assert_eq!(Reason::parse("a\u{0}b"), Err(ChangeError::ReasonInvalid));
    }

    #[test]
    fn only_staff_and_platform_systems_are_administrators() {
        assert!(Actor::Staff(StaffName::parse("ops.li").unwrap()).is_administrator());
        assert!(Actor::Client(ClientId::from_u128(1).unwrap()).is_administrator());
        assert!(!Actor::Member(MemberId::from_u128(1).unwrap()).is_administrator());
        assert!(!Actor::Operator(OperatorId::from_u128(1).unwrap()).is_administrator());
        assert!(!Actor::System.is_administrator());
    }

    #[test]
    fn an_empty_staff_name_is_refused() {
        assert_eq!(StaffName::parse(""), Err(ChangeError::StaffNameInvalid));
    }
}
