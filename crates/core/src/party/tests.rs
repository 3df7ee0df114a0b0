//! Fixtures shared by the party tests, and the checks that span every module: ids and codes.

use super::certificate::{Certificate, CertificateType};
use super::change::{Actor, Change, Reason, StaffName};
use super::real_name::RealName;
use crate::id::{AccountId, AuthenticationId, BankCardId, CustomerId, MemberId, OperatorId};
use crate::{Currency, Timestamp};

const SECOND: i64 = 1_000_000_000;

/// `seconds` after the tests' epoch.
pub(crate) fn at(seconds: i64) -> Timestamp {
    Timestamp(1_763_784_000 * SECOND + seconds * SECOND)
}

pub(crate) const DAY_S: i64 = 86_400;

pub(crate) fn cus(n: u128) -> CustomerId {
    CustomerId::from_u128(n).unwrap()
}

pub(crate) fn mem(n: u128) -> MemberId {
    MemberId::from_u128(n).unwrap()
}

pub(crate) fn acc(n: u128) -> AccountId {
    AccountId::from_u128(n).unwrap()
}

pub(crate) fn opr(n: u128) -> OperatorId {
    OperatorId::from_u128(n).unwrap()
}

pub(crate) fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

pub(crate) fn person(name: &str) -> RealName {
    RealName::person(name).unwrap()
}

/// A synthetic resident ID (region 110101, born 1990-03-07, sequence 123, computed check digit).
pub(crate) fn id_card() -> Certificate {
    Certificate::parse(CertificateType::IdCard, "110101199003071233").unwrap()
}

/// Another synthetic resident ID.
pub(crate) fn other_id_card() -> Certificate {
    Certificate::parse(CertificateType::IdCard, "310115198511114560").unwrap()
}

/// A synthetic unified social credit code with its computed check character.
pub(crate) fn uscc() -> Certificate {
    Certificate::parse(CertificateType::UnifiedSocialCreditCode, "91110108MA01ABCD0B").unwrap()
}

pub(crate) fn staff() -> Actor {
    Actor::Staff(StaffName::parse("ops.li").unwrap())
}

/// A change by staff at `at(seconds)`.
pub(crate) fn change(seconds: i64) -> Change {
    Change { actor: staff(), reason: Reason::parse("test").unwrap(), at: at(seconds) }
}

#[test]
fn the_new_id_kinds_print_and_parse_with_their_prefixes() {
    fn round_trip<K: crate::id::IdKind>(prefix: &str) {
        let id = crate::Id128::<K>::generate(1_763_784_000_000, 42);
        let text = id.to_string();
        assert!(text.starts_with(&format!("{prefix}_")), "{text}");
        assert_eq!(crate::Id128::<K>::parse(&text), Some(id));
    }
    round_trip::<crate::id::CustomerTag>("cus");
    round_trip::<crate::id::MemberTag>("mem");
    round_trip::<crate::id::OperatorTag>("opr");
    round_trip::<crate::id::AuthenticationTag>("aut");
    round_trip::<crate::id::BankCardTag>("bcd");
    let customer = CustomerId::generate(1, 2).to_string();
    assert!(MemberId::parse(&customer).is_none(), "a customer id is not a member id");
    let _ = (AuthenticationId::from_u128(1), BankCardId::from_u128(1), OperatorId::from_u128(1));
}

#[test]
fn every_rejection_code_is_snake_case_and_unique_within_its_module() {
    use super::*;
    let modules: Vec<(&str, Vec<&str>)> = vec![
        ("account", account::AccountError::ALL.iter().map(|e| e.code()).collect()),
        ("account_type", account_type::AccountTypeError::ALL.iter().map(|e| e.code()).collect()),
        ("authentication", authentication::AuthenticationError::ALL.iter().map(|e| e.code()).collect()),
        ("bank_card", bank_card::BankCardError::ALL.iter().map(|e| e.code()).collect()),
        ("certificate", certificate::CertificateError::ALL.iter().map(|e| e.code()).collect()),
        ("change", change::ChangeError::ALL.iter().map(|e| e.code()).collect()),
        ("customer", customer::CustomerError::ALL.iter().map(|e| e.code()).collect()),
        ("enterprise", enterprise::EnterpriseError::ALL.iter().map(|e| e.code()).collect()),
        ("identity", identity::IdentityError::ALL.iter().map(|e| e.code()).collect()),
        ("member", member::MemberError::ALL.iter().map(|e| e.code()).collect()),
        ("merge", merge::MergeError::ALL.iter().map(|e| e.code()).collect()),
        ("one_time_code", one_time_code::OneTimeCodeError::ALL.iter().map(|e| e.code()).collect()),
        ("operator", operator::OperatorError::ALL.iter().map(|e| e.code()).collect()),
        ("pay_password", pay_password::PayPasswordError::ALL.iter().map(|e| e.code()).collect()),
        ("phone_change", phone_change::PhoneChangeError::ALL.iter().map(|e| e.code()).collect()),
        ("real_name", real_name::RealNameError::ALL.iter().map(|e| e.code()).collect()),
    ];
    for (module, codes) in modules {
        let mut seen = std::collections::HashSet::new();
        for code in codes {
            let snake = code.starts_with(|c: char| c.is_ascii_lowercase())
                && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && !code.ends_with('_')
                && !code.contains("__");
            assert!(snake, "{module}: {code}");
            assert!(seen.insert(code), "{module}: {code} twice");
        }
    }
}

#[test]
fn the_issues_named_codes_exist() {
    use super::*;
    let named = [
        member::MemberError::CustomerBanned.code(),
        member::MemberError::MemberLocked.code(),
        member::MemberError::MemberNotActive.code(),
        identity::IdentityError::IdentityTaken.code(),
        operator::OperatorError::LastAdmin.code(),
        member::MemberError::AccountNotEmpty.code(),
        account::AccountError::AccountTypeNotConfigured.code(),
        account::AccountError::BasicAccountExists.code(),
        bank_card::BankCardError::CardSecurityDataRefused.code(),
    ];
    assert_eq!(
        named,
        [
            "customer_banned",
            "member_locked",
            "member_not_active",
            "identity_taken",
            "last_admin",
            "account_not_empty",
            "account_type_not_configured",
            "basic_account_exists",
            "card_security_data_refused",
        ]
    );
}

/// The issue's merge story end to end: a member registered by phone verifies an ID card that another
/// customer already holds, so its customer merges into that one, and the member gets its real name.
#[test]
fn a_verified_id_card_held_by_another_customer_merges_the_newcomer_into_the_holder() {
    use super::authentication::{Authentication, AuthenticationChannel, AuthenticationSubject};
    use super::customer::{CertificateOutcome, Customer, CustomerScope, CustomerStatus, PartyKind};
    use super::member::Member;
    use super::merge::{plan_merge, MergeGround};

    let holder = Customer::restore(
        cus(1),
        PartyKind::Personal,
        CustomerScope::External,
        Some(id_card()),
        CustomerStatus::Normal,
        at(0),
    )
    .unwrap();
    let newcomer = Customer::register(cus(2), PartyKind::Personal, CustomerScope::External, at(10));
    let member = Member::register(mem(20), &newcomer, PartyKind::Personal, at(10)).unwrap();

    let subject = AuthenticationSubject::id_card(person("张三"), id_card()).unwrap();
    let channel = AuthenticationChannel::parse("police_id_check").unwrap();
    let pending =
        Authentication::request(AuthenticationId::from_u128(7).unwrap(), member.id(), &subject, channel, at(11));
    let (_, proof) = pending.verify(&subject, at(12)).unwrap();
    let proof = proof.expect("an ID card proves a certificate");

    let outcome = newcomer.certificate_outcome(proof.certificate(), Some(holder.id())).unwrap();
    assert_eq!(outcome, CertificateOutcome::MergeInto(cus(1)));
    let member = member.take_real_name(&proof).unwrap();
    let merge = plan_merge(
        holder,
        newcomer,
        vec![member],
        vec![acc(30)],
        MergeGround::Authentication(proof),
        Actor::System,
        at(12),
    )
    .unwrap();
    assert_eq!(merge.absorbed.status(), CustomerStatus::Merged(cus(1)));
    assert_eq!(merge.members[0].customer(), cus(1));
    assert_eq!(merge.members[0].real_name(), Some(&person("张三")));
}
