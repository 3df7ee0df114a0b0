//! Ids: 128 bits, time-ordered underneath (48-bit milliseconds then 80 random bits, as in ULID),
//! shown with a prefix that names their kind: `acc_01JD…`, `tr_01JD…`.

use std::fmt;
use std::marker::PhantomData;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The kind of thing an id names; its prefix is part of the id's text.
pub trait IdKind {
    const PREFIX: &'static str;
}

/// A 128-bit id of kind `K`. Zero is never a valid id.
pub struct Id128<K> {
    value: u128,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Id128<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id128<K> {}
impl<K> PartialEq for Id128<K> {
    fn eq(&self, o: &Self) -> bool {
        self.value == o.value
    }
}
impl<K> Eq for Id128<K> {}
impl<K> PartialOrd for Id128<K> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<K> Ord for Id128<K> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.value.cmp(&o.value)
    }
}
impl<K> std::hash::Hash for Id128<K> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.value.hash(h)
    }
}

impl<K: IdKind> Id128<K> {
    /// Builds an id from its raw value, as stored. Zero is refused.
    pub fn from_u128(value: u128) -> Option<Self> {
        (value != 0).then_some(Id128 { value, kind: PhantomData })
    }

    /// A new time-ordered id from the current time in milliseconds and 80 random bits.
    pub fn generate(unix_ms: u64, random: u128) -> Self {
        let value = ((unix_ms as u128 & 0xFFFF_FFFF_FFFF) << 80) | (random & ((1u128 << 80) - 1));
        Id128 { value: value.max(1), kind: PhantomData }
    }

    pub fn as_u128(self) -> u128 {
        self.value
    }

    pub fn to_be_bytes(self) -> [u8; 16] {
        self.value.to_be_bytes()
    }

    pub fn from_be_bytes(b: [u8; 16]) -> Option<Self> {
        Self::from_u128(u128::from_be_bytes(b))
    }

    /// Parses `prefix_` followed by 26 Crockford base32 characters (case-insensitive; I, L read as 1,
    /// O as 0, as Crockford allows).
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(K::PREFIX)?.strip_prefix('_')?;
        if rest.len() != 26 {
            return None;
        }
        let mut value: u128 = 0;
        for (i, c) in rest.bytes().enumerate() {
            let digit = decode_crockford(c)? as u128;
            if i == 0 && digit > 7 {
                return None; // 26 digits hold 130 bits; the first may use only 3.
            }
            value = (value << 5) | digit;
        }
        Self::from_u128(value)
    }
}

fn decode_crockford(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    match c {
        b'O' => Some(0),
        b'I' | b'L' => Some(1),
        _ => CROCKFORD.iter().position(|&d| d == c).map(|p| p as u8),
    }
}

impl<K: IdKind> fmt::Display for Id128<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 26];
        for (i, slot) in buf.iter_mut().enumerate() {
            let shift = (25 - i) * 5;
            *slot = CROCKFORD[((self.value >> shift) & 0x1F) as usize];
        }
        write!(f, "{}_{}", K::PREFIX, std::str::from_utf8(&buf).expect("ascii"))
    }
}

impl<K: IdKind> fmt::Debug for Id128<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

pub enum AccountTag {}
impl IdKind for AccountTag {
    const PREFIX: &'static str = "acc";
}
pub type AccountId = Id128<AccountTag>;

pub enum TransferTag {}
impl IdKind for TransferTag {
    const PREFIX: &'static str = "tr";
}
pub type TransferId = Id128<TransferTag>;

pub enum ClientTag {}
impl IdKind for ClientTag {
    const PREFIX: &'static str = "cli";
}
/// An API client (a platform's back-end system that signs its requests).
pub type ClientId = Id128<ClientTag>;

pub enum CustomerTag {}
impl IdKind for CustomerTag {
    const PREFIX: &'static str = "cus";
}
/// A customer (客户): a real-world person or organisation, behind one or more members.
pub type CustomerId = Id128<CustomerTag>;

pub enum MemberTag {}
impl IdKind for MemberTag {
    const PREFIX: &'static str = "mem";
}
/// A member (会员): a login identity that uses products and owns accounts.
pub type MemberId = Id128<MemberTag>;

pub enum OperatorTag {}
impl IdKind for OperatorTag {
    const PREFIX: &'static str = "opr";
}
/// An operator (操作员): a person acting for an enterprise member.
pub type OperatorId = Id128<OperatorTag>;

pub enum AuthenticationTag {}
impl IdKind for AuthenticationTag {
    const PREFIX: &'static str = "aut";
}
/// A real-name authentication record (实名认证).
pub type AuthenticationId = Id128<AuthenticationTag>;

pub enum BankCardTag {}
impl IdKind for BankCardTag {
    const PREFIX: &'static str = "bcd";
}
/// A bank card bound to a member (绑卡).
pub type BankCardId = Id128<BankCardTag>;

pub enum MerchantTag {}
impl IdKind for MerchantTag {
    const PREFIX: &'static str = "mch";
}
/// A merchant (商户): a member's business, with its type, documents, settlement account and limits.
pub type MerchantId = Id128<MerchantTag>;

pub enum StoreTag {}
impl IdKind for StoreTag {
    const PREFIX: &'static str = "sto";
}
/// A merchant's store (门店): a place of business with its counter's terminals and settings.
pub type StoreId = Id128<StoreTag>;

pub enum TerminalTag {}
impl IdKind for TerminalTag {
    const PREFIX: &'static str = "trm";
}
/// A terminal (终端) at a store's counter: reads pay codes and sends payments.
pub type TerminalId = Id128<TerminalTag>;

pub enum CardTypeTag {}
impl IdKind for CardTypeTag {
    const PREFIX: &'static str = "ctp";
}
/// A card type (卡种): what a member card gives, its kind, price, validity and discounts.
pub type CardTypeId = Id128<CardTypeTag>;

pub enum CardSegmentTag {}
impl IdKind for CardSegmentTag {
    const PREFIX: &'static str = "csg";
}
/// A number segment (号段): a range of card numbers under one prefix, for a region or issuing branch.
pub type CardSegmentId = Id128<CardSegmentTag>;

pub enum CardBatchTag {}
impl IdKind for CardBatchTag {
    const PREFIX: &'static str = "cbt";
}
/// An issuing batch (发行批次): cards of one type, sold through one channel, approved before sale.
pub type CardBatchId = Id128<CardBatchTag>;

pub enum CardCodeTag {}
impl IdKind for CardCodeTag {
    const PREFIX: &'static str = "ccd";
}
/// A redemption code (兑换码) of a batch, kept as a keyed hash: its id names it after it is printed.
pub type CardCodeId = Id128<CardCodeTag>;

pub enum CouponTemplateTag {}
impl IdKind for CouponTemplateTag {
    const PREFIX: &'static str = "cpt";
}
/// A coupon template (券模板): what its coupons take off, where, for how long, how many.
pub type CouponTemplateId = Id128<CouponTemplateTag>;

pub enum CouponTag {}
impl IdKind for CouponTag {
    const PREFIX: &'static str = "cpn";
}
/// A coupon (券) issued to a member, held in its coupon wallet (券包) until redeemed or expired.
pub type CouponId = Id128<CouponTag>;

pub enum QuoteTag {}
impl IdKind for QuoteTag {
    const PREFIX: &'static str = "quo";
}
/// A checkout quote: what an order costs a member with a card and coupons, valid for a short time.
pub type QuoteId = Id128<QuoteTag>;

pub enum BillTag {}
impl IdKind for BillTag {
    const PREFIX: &'static str = "bil";
}
/// A member's bill (用户账单) of one period.
pub type BillId = Id128<BillTag>;

pub enum WebhookTag {}
impl IdKind for WebhookTag {
    const PREFIX: &'static str = "whk";
}
/// A webhook subscription: where sanhu posts which events, for one API client.
pub type WebhookId = Id128<WebhookTag>;

pub enum MonitorTag {}
impl IdKind for MonitorTag {
    const PREFIX: &'static str = "bmn";
}
/// A balance monitor: a condition on accounts' balances that fires a webhook event once per crossing.
pub type MonitorId = Id128<MonitorTag>;

pub enum FamilyCardTag {}
impl IdKind for FamilyCardTag {
    const PREFIX: &'static str = "fcd";
}
/// A family card (亲情卡): a member's authorisation for another member to pay from one of its accounts.
pub type FamilyCardId = Id128<FamilyCardTag>;

/// A settlement adjustment staff made to a merchant's statements (`sad_…`).
pub enum SettlementAdjustmentTag {}
impl IdKind for SettlementAdjustmentTag {
    const PREFIX: &'static str = "sad";
}
pub type SettlementAdjustmentId = Id128<SettlementAdjustmentTag>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = TransferId::generate(1_763_784_000_000, 0xDEAD_BEEF_1234_5678_9ABC);
        let text = id.to_string();
        assert!(text.starts_with("tr_") && text.len() == 29, "{text}");
        assert_eq!(TransferId::parse(&text), Some(id));
        assert_eq!(TransferId::parse(&text.to_lowercase()), Some(id));
    }

    #[test]
    fn ids_of_another_kind_or_malformed_are_refused() {
        let id = AccountId::generate(1, 2).to_string();
        assert!(TransferId::parse(&id).is_none());
        assert!(AccountId::parse("acc_").is_none());
        assert!(AccountId::parse("acc_00000000000000000000000000").is_none(), "zero is not an id");
        assert!(AccountId::parse("acc_8ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_none(), "over 128 bits");
        assert!(AccountId::parse("acc_0000000000000000000000000U").is_none(), "U is not Crockford");
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = AccountId::generate(1000, u128::MAX);
        let b = AccountId::generate(1001, 0);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
