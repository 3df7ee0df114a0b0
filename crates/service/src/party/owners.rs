//! Whose an object is: the member that owns a member account, an operator or a bank card. An API
//! client bound to one member reaches that member's objects only, and the HTTP layer asks here
//! whether an id it was sent is one of them.

use sanhu_core::id::{BankCardId, MemberId, MerchantId, OperatorId};
use sanhu_core::AccountId;

use super::accounts::load_account;
use super::documents::StoredBankCard;
use super::error::{
    PartyError, BANK_CARD_NOT_FOUND, MEMBER_ACCOUNT_NOT_FOUND, MEMBER_NOT_FOUND, MERCHANT_NOT_FOUND, OPERATOR_NOT_FOUND,
};
use super::operators::load_operator;
use super::Parties;

/// An object that belongs to one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberObject {
    Member(MemberId),
    Account(AccountId),
    Operator(OperatorId),
    BankCard(BankCardId),
    /// A merchant: the member it is run by.
    Merchant(MerchantId),
}

impl MemberObject {
    /// What a request naming this object is answered when there is no such object: the same refusal
    /// the use cases give, so that an object beyond a caller's reach cannot be told from one that
    /// does not exist.
    pub fn not_found(self) -> PartyError {
        PartyError::NotFound(match self {
            MemberObject::Member(_) => MEMBER_NOT_FOUND,
            MemberObject::Account(_) => MEMBER_ACCOUNT_NOT_FOUND,
            MemberObject::Operator(_) => OPERATOR_NOT_FOUND,
            MemberObject::BankCard(_) => BANK_CARD_NOT_FOUND,
            MemberObject::Merchant(_) => MERCHANT_NOT_FOUND,
        })
    }
}

impl Parties {
    /// The member `object` belongs to (a member, itself, without a read); the object's not-found
    /// refusal when there is no such object. An unbound card is not found, as everywhere else.
    pub async fn owning_member(&self, object: MemberObject) -> Result<MemberId, PartyError> {
        let mut work = self.reader();
        match object {
            MemberObject::Member(id) => Ok(id),
            MemberObject::Account(id) => Ok(load_account(&mut work, id).await?.member_id),
            MemberObject::Operator(id) => Ok(load_operator(&mut work, id).await?.operator.member()),
            MemberObject::BankCard(id) => match work.get::<StoredBankCard>(&id.to_string()).await? {
                Some(card) if card.unbound_at.is_none() => Ok(card.card.member()),
                _ => Err(object.not_found()),
            },
            MemberObject::Merchant(id) => self.merchant_member(id).await,
        }
    }
}
