//! A member's security on both backends: login identities (unique, never the last), phone changes
//! proved on both numbers, one-time codes (single use, limited attempts and lifetime, kept only as a
//! keyed digest), bank cards (never the full number, never the CVV, withdrawals only to the member's
//! own name), pay passwords (Argon2id, locked after repeated failures across instances and concurrent
//! attempts, unlocked by time).

use sanhu_core::id::MemberId;
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::bank_card::BindCardRequest;
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::{
    AuthenticationSubject, Certificate, CertificateType, CustomerScope, Email, LoginIdentity, OneTimeCodePolicy,
    PartyKind, PayPassword, PayPasswordPolicy, PhoneNumber, RealName, Reason,
};
use sanhu_core::Timestamp;
use sanhu_service::clock;
use sanhu_service::party::{
    AuthenticationResult, Parties, PartyConfig, PartySecret, PayPasswordHashing, PayPasswordOwner, Registration,
};
use sanhu_store::party::{ChangeQuery, PartyStore};
use sanhu_store::Store;
use sanhu_testkit::ids::{CARD, CARD_DIGITS};
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::actor;

const OTHER_CARD: &str = "4111 1111 1111 1111";

fn phone(n: u32) -> PhoneNumber {
    PhoneNumber::parse(&format!("139{n:08}")).unwrap()
}

fn email(text: &str) -> LoginIdentity {
    LoginIdentity::Email(Email::parse(text).unwrap())
}

/// Cheap hashing (tests hash often) and a one-minute lock, the shortest the policy allows; one secret
/// shared by every instance, as a deployment configures it.
fn config() -> PartyConfig {
    PartyConfig {
        pay_password: PayPasswordPolicy::new(5, 60).unwrap(),
        pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        secret: PartySecret::from_bytes(&[42; 32]).unwrap(),
        ..PartyConfig::default()
    }
}

fn later(now: Timestamp, seconds: u32) -> Timestamp {
    now.add_seconds(seconds).unwrap()
}

async fn member(parties: &Parties, n: u32) -> MemberId {
    let registration = Registration {
        kind: PartyKind::Personal,
        scope: CustomerScope::External,
        identity: LoginIdentity::Phone(phone(n)),
    };
    parties.register_member(&registration, &actor()).await.unwrap().member.member.id()
}

/// Gives a member the verified real name `name` (an ID card authentication).
async fn real_name(parties: &Parties, member: MemberId, name: &str) {
    let certificate = Certificate::parse(CertificateType::IdCard, "110101199003071233").unwrap();
    let subject = AuthenticationSubject::id_card(RealName::person(name).unwrap(), certificate).unwrap();
    let channel = AuthenticationChannel::parse("police_id_check").unwrap();
    parties.authenticate(member, &subject, &channel, AuthenticationResult::Verified, &actor()).await.unwrap();
}

/// Every stored record of a member's customer, and its history, as one text.
async fn everything_stored(store: &Store, parties: &Parties, member: MemberId) -> String {
    let customer = parties.get_member(member).await.unwrap().member.customer().to_string();
    let records = store.party_records_of_customer(&customer, None).await.unwrap();
    let query = ChangeQuery { record_id: None, customer_id: Some(customer), after_seq: 0, limit: 1000 };
    let changes = store.party_changes(&query).await.unwrap();
    format!("{records:?}\n{changes:?}")
}

async fn stored_data(store: &Store, id: &str) -> String {
    store.party_records(&[id.to_owned()]).await.unwrap().pop().expect("the record exists").data
}

// ---------------------------------------------------------------------------------------------------
// Login identities

on_both_backends!(a_login_identity_belongs_to_one_member_and_the_last_one_stays, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let (a, b) = (member(&parties, 1).await, member(&parties, 2).await);
    parties.add_identity(a, &email("zhang@example.com"), &actor()).await.unwrap();
    assert_eq!(
        parties.member_identities(a).await.unwrap(),
        vec![LoginIdentity::Phone(phone(1)), email("zhang@example.com")]
    );
    // Unique in the platform, without regard to case, and for the member itself too.
    let taken = parties.add_identity(b, &email("ZHANG@example.com"), &actor()).await.unwrap_err();
    assert_eq!(taken.code(), "identity_taken");
    let taken = parties.add_identity(a, &LoginIdentity::Phone(phone(2)), &actor()).await.unwrap_err();
    assert_eq!(taken.code(), "identity_taken");
    let taken = parties.add_identity(a, &email("zhang@example.com"), &actor()).await.unwrap_err();
    assert_eq!(taken.code(), "identity_taken");
    // Removing: only its own, never the last; a removed identity is free for another member.
    let not_its = parties.remove_identity(a, &LoginIdentity::Phone(phone(2)), &actor()).await.unwrap_err();
    assert_eq!(not_its.code(), "identity_not_found");
    parties.remove_identity(a, &LoginIdentity::Phone(phone(1)), &actor()).await.unwrap();
    let last = parties.remove_identity(a, &email("zhang@example.com"), &actor()).await.unwrap_err();
    assert_eq!(last.code(), "last_identity");
    assert_eq!(parties.member_identities(a).await.unwrap(), vec![email("zhang@example.com")]);
    parties.add_identity(b, &LoginIdentity::Phone(phone(1)), &actor()).await.unwrap();
    let again = Registration {
        kind: PartyKind::Personal,
        scope: CustomerScope::External,
        identity: LoginIdentity::Phone(phone(1)),
    };
    assert_eq!(parties.register_member(&again, &actor()).await.unwrap_err().code(), "identity_taken");
});

// ---------------------------------------------------------------------------------------------------
// Phone changes

on_both_backends!(a_phone_change_needs_a_code_verified_on_the_old_number_and_one_on_the_new, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let a = member(&parties, 1).await;
    member(&parties, 2).await;
    let now = clock::now();
    // From a number it does not have, or to one another member has, or to the same one: refused.
    let refused = parties.start_phone_change(a, &phone(3), &phone(4), &actor(), now).await.unwrap_err();
    assert_eq!(refused.code(), "identity_not_found");
    let refused = parties.start_phone_change(a, &phone(1), &phone(2), &actor(), now).await.unwrap_err();
    assert_eq!(refused.code(), "identity_taken");
    let refused = parties.start_phone_change(a, &phone(1), &phone(1), &actor(), now).await.unwrap_err();
    assert_eq!(refused.code(), "phone_unchanged");
    assert_eq!(parties.complete_phone_change(a, &actor(), now).await.unwrap_err().code(), "phone_change_not_found");

    let started = parties.start_phone_change(a, &phone(1), &phone(9), &actor(), now).await.unwrap();
    let (old_code, new_code) = (started.old_code.code.as_str().to_owned(), started.new_code.code.as_str().to_owned());
    let t = |s| later(now, s);
    assert_eq!(parties.complete_phone_change(a, &actor(), t(1)).await.unwrap_err().code(), "phone_change_unverified");
    // The old number's code proves nothing for the new number.
    let crossed = parties.verify_phone_change_code(a, &phone(9), &old_code, t(2)).await;
    assert!(crossed.is_err_and(|e| e.code() == "code_incorrect") || old_code == new_code);
    let progress = parties.verify_phone_change_code(a, &phone(1), &old_code, t(3)).await.unwrap();
    assert!(progress.old_verified && !progress.new_verified);
    // One verified number is not enough.
    assert_eq!(parties.complete_phone_change(a, &actor(), t(4)).await.unwrap_err().code(), "phone_change_unverified");
    let used = parties.verify_phone_change_code(a, &phone(1), &old_code, t(5)).await.unwrap_err();
    assert_eq!(used.code(), "code_used");
    let progress = parties.verify_phone_change_code(a, &phone(9), &new_code, t(6)).await.unwrap();
    assert!(progress.old_verified && progress.new_verified);

    let changed = parties.complete_phone_change(a, &actor(), t(7)).await.unwrap();
    assert_eq!(changed.identities, vec![LoginIdentity::Phone(phone(9))]);
    assert_eq!(parties.complete_phone_change(a, &actor(), t(8)).await.unwrap_err().code(), "phone_change_not_found");
    // The old number is free again; the new one is taken.
    parties.add_identity(member(&parties, 5).await, &LoginIdentity::Phone(phone(1)), &actor()).await.unwrap();
    let taken = parties.add_identity(member(&parties, 6).await, &LoginIdentity::Phone(phone(9)), &actor()).await;
    assert_eq!(taken.unwrap_err().code(), "identity_taken");
    let history = parties.record_history(&a.to_string(), 0, 100).await.unwrap();
    assert!(history.iter().any(|h| h.action == "member.phone_changed"));
    // The codes were never stored.
    let stored = everything_stored(&db.store, &parties, a).await;
    let codes = db.store.party_list("one_time_code", None, 100).await.unwrap();
    for code in [&old_code, &new_code] {
        assert!(codes.iter().all(|r| !r.data.contains(&format!("\"{code}\""))));
        assert!(!stored.contains(&format!("\"{code}\"")));
    }
});

// ---------------------------------------------------------------------------------------------------
// One-time codes

on_both_backends!(a_one_time_code_works_once_within_its_lifetime_and_its_attempts, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let target = CodeTarget::Phone(phone(1));
    let sign_in = CodePurpose::SignIn;
    let t0 = clock::now();
    let t = |s| later(t0, s);
    let policy = OneTimeCodePolicy::DEFAULT;

    // None issued: wrong, like any wrong code.
    assert_eq!(parties.verify_code(sign_in, &target, "123456", t0).await.unwrap_err().code(), "code_incorrect");

    // Wrong codes use the attempts up; then even the right one is refused.
    let issued = parties.issue_code(sign_in, &target, t0).await.unwrap();
    assert_eq!(issued.code.as_str().len(), 6);
    assert_eq!(issued.expires_at, t(policy.lifetime_s()));
    let right = issued.code.as_str().to_owned();
    let wrong = if right == "000000" { "000001" } else { "000000" };
    for _ in 0..policy.attempts_max() {
        assert_eq!(parties.verify_code(sign_in, &target, wrong, t(1)).await.unwrap_err().code(), "code_incorrect");
    }
    let exhausted = parties.verify_code(sign_in, &target, &right, t(2)).await.unwrap_err();
    assert_eq!(exhausted.code(), "code_attempts_exhausted");

    // Not resent within the interval; a new code replaces the last.
    let early = parties.issue_code(sign_in, &target, t(policy.resend_interval_s() - 1)).await.unwrap_err();
    assert_eq!(early.code(), "code_sent_too_recently");
    let t1 = t(policy.resend_interval_s());
    let issued = parties.issue_code(sign_in, &target, t1).await.unwrap();
    // Too late: expired.
    let expired = parties.verify_code(sign_in, &target, issued.code.as_str(), later(t1, policy.lifetime_s())).await;
    assert_eq!(expired.unwrap_err().code(), "code_expired");

    // In time: accepted once, by any instance sharing the secret; bound to its purpose and target.
    let t2 = later(t1, policy.lifetime_s() + 1);
    let issued = parties.issue_code(sign_in, &target, t2).await.unwrap();
    let code = issued.code.as_str().to_owned();
    let other_purpose = parties.verify_code(CodePurpose::Register, &target, &code, later(t2, 1)).await;
    assert_eq!(other_purpose.unwrap_err().code(), "code_incorrect");
    let another = Parties::new(db.open_another().await, config());
    let verified = another.verify_code(sign_in, &target, &code, later(t2, 2)).await.unwrap();
    assert_eq!((verified.purpose(), verified.target()), (sign_in, &target));
    assert_eq!(parties.verify_code(sign_in, &target, &code, later(t2, 3)).await.unwrap_err().code(), "code_used");

    // Only a digest of the code is stored.
    let records = db.store.party_list("one_time_code", None, 100).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(!records[0].data.contains(&format!("\"{code}\"")), "{}", records[0].data);
    assert!(records[0].data.contains("\"digest\""));
});

on_both_backends!(concurrent_wrong_codes_each_use_an_attempt, |db| {
    let a = Parties::new(db.store.clone(), config());
    let b = Parties::new(db.open_another().await, config());
    let target = CodeTarget::Email(Email::parse("li@example.com").unwrap());
    let now = clock::now();
    let issued = a.issue_code(CodePurpose::Authentication, &target, now).await.unwrap();
    let wrong = if issued.code.as_str() == "111111" { "222222" } else { "111111" };
    let attempts = (0..4).map(|i| {
        let (parties, target) = (if i % 2 == 0 { a.clone() } else { b.clone() }, target.clone());
        tokio::spawn(async move { parties.verify_code(CodePurpose::Authentication, &target, wrong, now).await })
    });
    for attempt in futures_util::future::join_all(attempts).await {
        assert_eq!(attempt.unwrap().unwrap_err().code(), "code_incorrect");
    }
    let data = stored_data(&db.store, &format!("otp:authentication:{}", target.key())).await;
    assert!(data.contains("\"attempts_left\":1"), "{data}");
});

// ---------------------------------------------------------------------------------------------------
// Bank cards

fn bind<'a>(number: &'a str, holder: &'a str) -> BindCardRequest<'a> {
    BindCardRequest { number, holder, cvv: None, expiry: None }
}

on_both_backends!(a_bound_card_keeps_only_its_masked_number_and_a_token, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let a = member(&parties, 1).await;
    // Security data is refused, whatever else the request holds.
    let with_cvv = BindCardRequest { cvv: Some("123"), ..bind(CARD, "张三") };
    assert_eq!(parties.bind_bank_card(a, with_cvv, &actor()).await.unwrap_err().code(), "card_security_data_refused");
    let with_expiry = BindCardRequest { expiry: Some("12/29"), ..bind("not a card", "张三") };
    let refused = parties.bind_bank_card(a, with_expiry, &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "card_security_data_refused");
    let mistyped = parties.bind_bank_card(a, bind("6222 0200 0000 0000 017", "张三"), &actor()).await;
    assert_eq!(mistyped.unwrap_err().code(), "card_number_check_failed");

    let card = parties.bind_bank_card(a, bind(CARD, "张三"), &actor()).await.unwrap();
    assert_eq!(card.card.masked().as_str(), "622202*********0018");
    assert!(card.card.token().as_str().starts_with("ctk_"));
    let again = parties.bind_bank_card(a, bind(CARD, "张三"), &actor()).await.unwrap_err();
    assert_eq!(again.code(), "card_already_bound");
    assert_eq!(parties.member_bank_cards(a).await.unwrap(), vec![card.clone()]);

    // The record holds the masked number and never the number, nor does anything else stored.
    let data = stored_data(&db.store, &card.card.id().to_string()).await;
    assert!(data.contains("\"masked_number\":\"622202*********0018\""), "{data}");
    assert!(!data.contains(CARD_DIGITS) && !data.contains(CARD), "{data}");
    let stored = everything_stored(&db.store, &parties, a).await;
    assert!(!stored.contains(CARD_DIGITS) && !stored.contains("6222 0200"));

    // Unbound: out of the list, not usable, and may be bound again.
    let reason = Reason::parse("member asked").unwrap();
    parties.unbind_bank_card(a, card.card.id(), &actor(), &reason).await.unwrap();
    assert!(parties.member_bank_cards(a).await.unwrap().is_empty());
    let gone = parties.unbind_bank_card(a, card.card.id(), &actor(), &reason).await.unwrap_err();
    assert_eq!(gone.code(), "bank_card_not_found");
    parties.bind_bank_card(a, bind(CARD, "张三"), &actor()).await.unwrap();
});

on_both_backends!(a_withdrawal_goes_only_to_a_card_in_the_members_real_name, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let (a, b) = (member(&parties, 1).await, member(&parties, 2).await);
    let own = parties.bind_bank_card(a, bind(CARD, "张三"), &actor()).await.unwrap().card.id();
    let someone_elses = parties.bind_bank_card(a, bind(OTHER_CARD, "李四"), &actor()).await.unwrap().card.id();
    // Before real-name authentication, no card is usable.
    assert_eq!(parties.card_usable_for_withdrawal(a, own).await.unwrap_err().code(), "member_not_real_named");
    real_name(&parties, a, "张三").await;
    parties.card_usable_for_withdrawal(a, own).await.unwrap();
    assert_eq!(parties.card_usable_for_withdrawal(a, someone_elses).await.unwrap_err().code(), "card_holder_mismatch");
    // Another member's card is not usable, nor its to unbind.
    assert_eq!(parties.card_usable_for_withdrawal(b, own).await.unwrap_err().code(), "card_not_members");
    let reason = Reason::parse("not mine").unwrap();
    let refused = parties.unbind_bank_card(b, own, &actor(), &reason).await.unwrap_err();
    assert_eq!(refused.code(), "bank_card_not_found");
    parties.unbind_bank_card(a, own, &actor(), &reason).await.unwrap();
    assert_eq!(parties.card_usable_for_withdrawal(a, own).await.unwrap_err().code(), "bank_card_not_found");
});

// ---------------------------------------------------------------------------------------------------
// Pay passwords

fn pay(text: &str) -> PayPassword {
    PayPassword::parse(text).unwrap()
}

on_both_backends!(a_pay_password_is_set_once_changed_with_the_current_one_and_stored_as_argon2id, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let owner = PayPasswordOwner::Member(member(&parties, 1).await);
    let now = clock::now();
    assert_eq!(parties.verify_pay_password(owner, "135790", now).await.unwrap_err().code(), "pay_password_not_set");
    parties.set_pay_password(owner, &pay("135790"), &actor()).await.unwrap();
    let again = parties.set_pay_password(owner, &pay("246801"), &actor()).await.unwrap_err();
    assert_eq!(again.code(), "pay_password_already_set");
    parties.verify_pay_password(owner, "135790", now).await.unwrap();
    assert_eq!(parties.verify_pay_password(owner, "246801", now).await.unwrap_err().code(), "pay_password_incorrect");

    let data = stored_data(&db.store, &format!("pay_password:{owner}")).await;
    assert!(data.contains("$argon2id$v=19$m=256,t=1,p=1$"), "{data}");
    assert!(!data.contains("135790"));

    let wrong = parties.change_pay_password(owner, "246801", &pay("246801"), &actor(), now).await.unwrap_err();
    assert_eq!(wrong.code(), "pay_password_incorrect");
    parties.change_pay_password(owner, "135790", &pay("246801"), &actor(), now).await.unwrap();
    assert_eq!(parties.verify_pay_password(owner, "135790", now).await.unwrap_err().code(), "pay_password_incorrect");
    parties.verify_pay_password(owner, "246801", now).await.unwrap();
    // A right password cleared the failures.
    assert!(stored_data(&db.store, &format!("pay_password:{owner}")).await.contains("\"failures\":0"));
    // An operator that does not exist has none to set.
    let nobody = PayPasswordOwner::Operator(sanhu_core::id::OperatorId::from_u128(9).unwrap());
    let refused = parties.set_pay_password(nobody, &pay("135790"), &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "operator_not_found");
});

on_both_backends!(five_wrong_pay_passwords_lock_it_for_every_instance_until_the_lock_time_passes, |db| {
    let parties = Parties::new(db.store.clone(), config());
    let owner = PayPasswordOwner::Member(member(&parties, 1).await);
    parties.set_pay_password(owner, &pay("135790"), &actor()).await.unwrap();
    let t0 = clock::now();
    for n in 1..=4 {
        let wrong = parties.verify_pay_password(owner, "111112", later(t0, n)).await.unwrap_err();
        assert_eq!(wrong.code(), "pay_password_incorrect");
    }
    let locked = parties.verify_pay_password(owner, "111112", later(t0, 5)).await.unwrap_err();
    assert_eq!(locked.code(), "pay_password_locked");
    // Locked even for the right password, and for another instance on the same database.
    let right = parties.verify_pay_password(owner, "135790", later(t0, 6)).await.unwrap_err();
    assert_eq!(right.code(), "pay_password_locked");
    let another = Parties::new(db.open_another().await, config());
    let there = another.verify_pay_password(owner, "135790", later(t0, 64)).await.unwrap_err();
    assert_eq!(there.code(), "pay_password_locked");
    let change = another.change_pay_password(owner, "135790", &pay("246801"), &actor(), later(t0, 64)).await;
    assert_eq!(change.unwrap_err().code(), "pay_password_locked");
    // The lock (60 s from the fifth try) ends by itself.
    another.verify_pay_password(owner, "135790", later(t0, 65)).await.unwrap();
    let history = parties.record_history(&owner.to_string(), 0, 100).await.unwrap();
    assert_eq!(history.iter().filter(|h| h.action == "pay_password.locked").count(), 1);
});

on_both_backends!(concurrent_wrong_pay_passwords_all_count, |db| {
    let a = Parties::new(db.store.clone(), config());
    let b = Parties::new(db.open_another().await, config());
    let owner = PayPasswordOwner::Member(member(&a, 1).await);
    a.set_pay_password(owner, &pay("135790"), &actor()).await.unwrap();
    let now = clock::now();
    let tries = |count: usize| {
        let (a, b) = (a.clone(), b.clone());
        let attempts = (0..count).map(move |i| {
            let parties = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { parties.verify_pay_password(owner, "111112", now).await.unwrap_err().code() })
        });
        futures_util::future::join_all(attempts)
    };
    // Four at once: four failures recorded, none lost.
    let codes: Vec<_> = tries(4).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(codes, vec!["pay_password_incorrect"; 4]);
    let data = stored_data(&a.store().clone(), &format!("pay_password:{owner}")).await;
    assert!(data.contains("\"failures\":4"), "{data}");
    // Four more at once: the first to be written locks it, and the others find it locked.
    let codes: Vec<_> = tries(4).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(codes, vec!["pay_password_locked"; 4]);
    assert_eq!(b.verify_pay_password(owner, "135790", now).await.unwrap_err().code(), "pay_password_locked");
});
