//! Bank cards (绑卡) bound to a member, where withdrawals go and recharges come from. sanhu keeps a card
//! number only as a token (issued by the vault or channel that holds the number) plus its masked form,
//! and never sees a card's security data: keeping either would put sanhu in scope of the card schemes'
//! security rules, and the articles note that some card data (the CVV) may never be stored.

use super::check_digit::luhn_valid;
use super::mask::mask_card_number;
use super::real_name::RealName;
use crate::id::{BankCardId, MemberId};
use crate::Timestamp;
use std::fmt;

rejection_codes! {
    /// Why a card could not be bound or used.
    pub enum BankCardError {
        CardNumberInvalid => "card_number_invalid", 422, "a card number is 13 to 19 digits",
        CardNumberCheckFailed => "card_number_check_failed", 422,
            "the card number's check digit does not match; it was probably mistyped",
        /// The request carried a CVV or an expiry date, which sanhu refuses to receive at all.
        CardSecurityDataRefused => "card_security_data_refused", 422,
            "do not send a card's CVV or expiry date; sanhu neither needs nor accepts them",
        CardHolderInvalid => "card_holder_invalid", 422, "the card holder's name is not a valid name",
        CardTokenInvalid => "card_token_invalid", 422, "a card token is 1 to 128 printable ASCII characters",
        MaskedCardNumberInvalid => "masked_card_number_invalid", 422,
            "a masked card number is 6 digits, asterisks and 4 digits",
        /// Withdrawals need a verified real name to compare the holder with.
        MemberNotRealNamed => "member_not_real_named", 409, "the member has no verified real name yet",
        /// Money leaves only to the member's own card.
        CardHolderMismatch => "card_holder_mismatch", 422, "the card holder's name is not the member's real name",
        CardNotMembers => "card_not_members", 403, "the card is bound to another member",
    }
}

/// The shortest and longest card numbers accepted (ISO/IEC 7812 allows up to 19 digits; UnionPay
/// debit cards are 16 to 19).
pub const CARD_DIGITS_MIN: usize = 13;
pub const CARD_DIGITS_MAX: usize = 19;

/// A full card number (PAN) that passed the Luhn check, on its way to the vault for a token. It has no
/// `Display`, and its `Debug` shows only the masked form, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Parses digits, ignoring the spaces and hyphens people type between groups.
    pub fn parse(text: &str) -> Result<CardNumber, BankCardError> {
        let digits: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BankCardError::CardNumberInvalid);
        }
        if !luhn_valid(&digits) {
            return Err(BankCardError::CardNumberCheckFailed);
        }
        Ok(CardNumber(digits))
    }

    /// The digits, for the one call that exchanges them for a token. Nothing else should need them.
    pub fn digits_for_tokenisation(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> MaskedCardNumber {
        MaskedCardNumber(mask_card_number(&self.0))
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked().as_str())
    }
}

/// A card number as kept and shown: the first 6 digits (the issuer's BIN), an asterisk for each hidden
/// digit, the last 4.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MaskedCardNumber(String);

impl MaskedCardNumber {
    /// Parses a stored masked number.
    pub fn parse(text: &str) -> Result<MaskedCardNumber, BankCardError> {
        let b = text.as_bytes();
        let ok = (CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&b.len())
            && b[..6].iter().all(u8::is_ascii_digit)
            && b[6..b.len() - 4].iter().all(|&c| c == b'*')
            && b[b.len() - 4..].iter().all(u8::is_ascii_digit);
        ok.then(|| MaskedCardNumber(text.to_owned())).ok_or(BankCardError::MaskedCardNumberInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The issuer identification number, which names the bank and the card's kind.
    pub fn bin(&self) -> &str {
        &self.0[..6]
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

/// The vault's or channel's stand-in for a card number: what sanhu sends when money moves to or from
/// the card. Opaque to sanhu.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CardToken(String);

impl CardToken {
    pub fn parse(text: &str) -> Result<CardToken, BankCardError> {
        let ok = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| CardToken(text.to_owned())).ok_or(BankCardError::CardTokenInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request to bind a card, as it arrives. The security fields are here only so that a request that
/// carries them can be refused: `Some` means the caller sent the field, whatever it held.
#[derive(Clone, Copy, Debug)]
pub struct BindCardRequest<'a> {
    pub number: &'a str,
    pub holder: &'a str,
    pub cvv: Option<&'a str>,
    pub expiry: Option<&'a str>,
}

/// A bind request that may go on: a valid number (still to be exchanged for a token) and the holder's
/// name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CardToBind {
    number: CardNumber,
    holder: RealName,
}

impl BindCardRequest<'_> {
    /// Refuses security data first, before even reading the number, so that the refusal does not
    /// depend on anything else being right.
    pub fn parse(self) -> Result<CardToBind, BankCardError> {
        if self.cvv.is_some() || self.expiry.is_some() {
            return Err(BankCardError::CardSecurityDataRefused);
        }
        let number = CardNumber::parse(self.number)?;
        let holder = RealName::person(self.holder)
            .or_else(|_| RealName::organisation(self.holder))
            .map_err(|_| BankCardError::CardHolderInvalid)?;
        Ok(CardToBind { number, holder })
    }
}

impl CardToBind {
    pub fn number(&self) -> &CardNumber {
        &self.number
    }

    pub fn holder(&self) -> &RealName {
        &self.holder
    }
}

/// A card bound to a member: its masked number and token, never its full number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BankCard {
    id: BankCardId,
    member: MemberId,
    masked: MaskedCardNumber,
    token: CardToken,
    holder: RealName,
    bound_at: Timestamp,
}

impl BankCard {
    /// Binds the card, keeping its masked form and the token the vault gave for its number; the number
    /// itself is dropped here.
    pub fn bind(id: BankCardId, member: MemberId, card: CardToBind, token: CardToken, at: Timestamp) -> BankCard {
        BankCard { id, member, masked: card.number.masked(), token, holder: card.holder, bound_at: at }
    }

    pub fn restore(
        id: BankCardId,
        member: MemberId,
        masked: MaskedCardNumber,
        token: CardToken,
        holder: RealName,
        bound_at: Timestamp,
    ) -> BankCard {
        BankCard { id, member, masked, token, holder, bound_at }
    }

    pub fn id(&self) -> BankCardId {
        self.id
    }

    pub fn member(&self) -> MemberId {
        self.member
    }

    pub fn masked(&self) -> &MaskedCardNumber {
        &self.masked
    }

    pub fn token(&self) -> &CardToken {
        &self.token
    }

    pub fn holder(&self) -> &RealName {
        &self.holder
    }

    pub fn bound_at(&self) -> Timestamp {
        self.bound_at
    }

    /// Whether money of `member` may be withdrawn to this card: the card is the member's, and its
    /// holder is the member's verified real name (同名). Withdrawing to someone else's card is how
    /// stolen wallets are emptied and money is laundered.
    pub fn check_withdrawal(&self, member: MemberId, real_name: Option<&RealName>) -> Result<(), BankCardError> {
        if self.member != member {
            return Err(BankCardError::CardNotMembers);
        }
        let real_name = real_name.ok_or(BankCardError::MemberNotRealNamed)?;
        if !self.holder.matches(real_name) {
            return Err(BankCardError::CardHolderMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(number: &str) -> BindCardRequest<'_> {
        BindCardRequest { number, holder: "ZHANG SAN", cvv: None, expiry: None }
    }

    fn card(holder: &str) -> BankCard {
        let to_bind = BindCardRequest { holder, ..request("6222 0200 0000 0000 018") }.parse().unwrap();
        let token = CardToken::parse("tok_8f3a").unwrap();
        BankCard::bind(BankCardId::from_u128(1).unwrap(), member(1), to_bind, token, Timestamp(0))
    }

    fn member(n: u128) -> MemberId {
        MemberId::from_u128(n).unwrap()
    }

    fn person(s: &str) -> RealName {
        RealName::person(s).unwrap()
    }

    #[test]
    fn a_card_number_with_a_valid_luhn_digit_parses_without_its_spaces() {
        let n = CardNumber::parse("6222 0200 0000 0000 018").unwrap();
        assert_eq!(n.digits_for_tokenisation(), "6222020000000000018");
        assert!(CardNumber::parse("4111-1111-1111-1111").is_ok());
    }

    #[test]
    fn a_card_number_failing_the_luhn_check_is_refused() {
        assert_eq!(CardNumber::parse("6222020000000000017"), Err(BankCardError::CardNumberCheckFailed));
    }

    #[test]
    fn a_card_number_of_the_wrong_length_or_with_letters_is_refused() {
        for bad in ["", "411111111111", "62220200000000000189", "41111111111111A1"] {
            assert_eq!(CardNumber::parse(bad), Err(BankCardError::CardNumberInvalid), "{bad}");
        }
    }

    #[test]
    fn a_card_number_never_prints_its_digits() {
        let n = CardNumber::parse("4111111111111111").unwrap();
        assert_eq!(format!("{n:?}"), "CardNumber(411111******1111)");
    }

    #[test]
    fn a_request_carrying_a_cvv_or_expiry_is_refused_whatever_else_it_holds() {
        let with_cvv = BindCardRequest { cvv: Some("123"), ..request("4111111111111111") };
        assert_eq!(with_cvv.parse(), Err(BankCardError::CardSecurityDataRefused));
        let with_expiry = BindCardRequest { expiry: Some("12/29"), ..request("not a card") };
        assert_eq!(with_expiry.parse(), Err(BankCardError::CardSecurityDataRefused));
        let with_empty_cvv = BindCardRequest { cvv: Some(""), ..request("4111111111111111") };
        assert_eq!(with_empty_cvv.parse(), Err(BankCardError::CardSecurityDataRefused));
    }

    #[test]
    fn a_bound_card_keeps_only_its_masked_number_and_token() {
        let c = card("ZHANG SAN");
        assert_eq!(c.masked().as_str(), "622202*********0018");
        assert_eq!((c.masked().bin(), c.masked().last4()), ("622202", "0018"));
        assert_eq!(c.token().as_str(), "tok_8f3a");
        assert!(!format!("{c:?}").contains("6222020000000000018"));
    }

    #[test]
    fn masked_numbers_round_trip_and_anything_else_is_refused() {
        assert!(MaskedCardNumber::parse("622202*********0018").is_ok());
        for bad in ["6222020000000000018", "622202*****", "62220*********00189", "abcdef******1234"] {
            assert_eq!(MaskedCardNumber::parse(bad), Err(BankCardError::MaskedCardNumberInvalid), "{bad}");
        }
    }

    #[test]
    fn a_card_token_is_printable_ascii() {
        assert_eq!(CardToken::parse(""), Err(BankCardError::CardTokenInvalid));
        assert_eq!(CardToken::parse("tok 1"), Err(BankCardError::CardTokenInvalid));
    }

    #[test]
    fn a_withdrawal_goes_to_a_card_in_the_members_real_name_whatever_its_case_and_spacing() {
        assert_eq!(card("ZHANG SAN").check_withdrawal(member(1), Some(&person("Zhang  San"))), Ok(()));
        assert_eq!(card("张三").check_withdrawal(member(1), Some(&person("张三"))), Ok(()));
    }

    #[test]
    fn a_withdrawal_to_a_card_in_another_name_is_refused() {
        let refused = card("LI SI").check_withdrawal(member(1), Some(&person("Zhang San")));
        assert_eq!(refused, Err(BankCardError::CardHolderMismatch));
    }

    #[test]
    fn a_withdrawal_before_real_name_authentication_is_refused() {
        assert_eq!(card("ZHANG SAN").check_withdrawal(member(1), None), Err(BankCardError::MemberNotRealNamed));
    }

    #[test]
    fn a_withdrawal_to_another_members_card_is_refused() {
        let refused = card("ZHANG SAN").check_withdrawal(member(2), Some(&person("Zhang San")));
        assert_eq!(refused, Err(BankCardError::CardNotMembers));
    }

    #[test]
    fn a_corporate_card_holder_may_be_an_organisation() {
        let c = card("某某（北京）科技有限公司");
        let company = RealName::organisation("某某(北京)科技有限公司").unwrap();
        assert_eq!(c.check_withdrawal(member(1), Some(&company)), Ok(()));
    }
}
