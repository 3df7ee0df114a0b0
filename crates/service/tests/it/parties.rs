//! The three-party model's use cases on both backends: registration, activation (the basic account
//! opens), real-name authentication (the customer gains its certificate; a second customer with the
//! same certificate merges into it with members and balances intact), customer statuses reaching every
//! account and giving back exactly what they took, account statuses, cancellation, dormancy, history.

use sanhu_core::id::MemberId;
use sanhu_core::ledger::TransferError;
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::{
    Actor, AuthenticationSubject, Certificate, CertificateType, CustomerScope, CustomerStatus, LoginIdentity,
    MemberAccountStatus, MemberAction, MemberStatus, PartyKind, PhoneNumber, RealName, Reason,
};
use sanhu_core::{AccountId, Timestamp};
use sanhu_service::party::{AuthenticationResult, CustomerSearch, Parties, PartyConfig, PartyError, Registration};
use sanhu_service::{clock, Ledger, LedgerConfig, NewAccount};
use sanhu_store::{LedgerStore, Store};
use sanhu_testkit::ids::ID_CARD;
use sanhu_testkit::ledger;
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{actor, code};

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

fn phone(n: u32) -> LoginIdentity {
    LoginIdentity::Phone(PhoneNumber::parse(&format!("138{n:08}")).unwrap())
}

fn id_card_subject(name: &str) -> AuthenticationSubject {
    let certificate = Certificate::parse(CertificateType::IdCard, ID_CARD).unwrap();
    AuthenticationSubject::id_card(RealName::person(name).unwrap(), certificate).unwrap()
}

fn channel() -> AuthenticationChannel {
    AuthenticationChannel::parse("police_id_check").unwrap()
}

struct World {
    parties: Parties,
    ledger: Ledger,
    /// The platform's debit-normal account that funds members in these tests.
    funding: AccountId,
}

async fn world(store: &Store) -> World {
    let parties = Parties::new(store.clone(), PartyConfig::default());
    let ledger = Ledger::start(store.clone(), LedgerConfig::default());
    let funding = ledger
        .open_account(NewAccount {
            currency: cny(),
            normal_side: sanhu_core::ledger::NormalSide::Debit,
            limit: None,
            code: "platform_funding".into(),
            metadata: "{}".into(),
        })
        .await
        .unwrap()
        .id;
    World { parties, ledger, funding }
}

impl World {
    /// Registers and activates a personal member; returns it and its basic account.
    async fn active_member(&self, n: u32) -> (MemberId, AccountId) {
        let registration =
            Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity: phone(n) };
        let registered = self.parties.register_member(&registration, &actor()).await.unwrap();
        let member = registered.member.member.id();
        let (_, opened) = self.parties.activate_member(member, &actor()).await.unwrap();
        (member, opened[0].0.account_id)
    }

    async fn transfer(&self, debit: AccountId, credit: AccountId, amount: i64) -> Result<(), TransferError> {
        let request = ledger::post(clock::new_id(), debit, credit, amount);
        self.ledger.submit_one(request).await.unwrap().map(|_| ())
    }

    async fn balance(&self, account: AccountId) -> i64 {
        let a = self.ledger.store().get_account(account).await.unwrap().unwrap();
        a.counters.credits_posted - a.counters.debits_posted
    }
}

on_both_backends!(registration_creates_an_inactive_member_under_a_new_customer, |db| {
    let w = world(&db.store).await;
    let registration = Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity: phone(1) };
    let registered = w.parties.register_member(&registration, &actor()).await.unwrap();
    assert_eq!(registered.member.member.status(), MemberStatus::Inactive);
    assert_eq!(registered.member.member.customer(), registered.customer.customer.id());
    assert_eq!(registered.customer.customer.certificate(), None);
    // The phone is unique in the platform.
    let again = w.parties.register_member(&registration, &actor()).await.unwrap_err();
    assert_eq!(again.code(), "identity_taken");
    // An inactive member cannot move money or open accounts.
    let member = registered.member.member.id();
    assert_eq!(w.parties.member_acts(member, MemberAction::Pay).await.unwrap_err().code(), "member_not_active");
    assert_eq!(
        w.parties.open_account(member, &code("settlement"), &actor()).await.unwrap_err().code(),
        "member_not_active"
    );
    // Found by phone.
    let found =
        w.parties.search_customers(&CustomerSearch::Phone(PhoneNumber::parse("13800000001").unwrap())).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].customer.id(), registered.customer.customer.id());
});

on_both_backends!(activation_opens_exactly_one_basic_account, |db| {
    let w = world(&db.store).await;
    let (member, basic) = w.active_member(2).await;
    let accounts = w.parties.member_accounts(member).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].account.account_type, "basic");
    assert_eq!(accounts[0].ledger.id, basic);
    assert_eq!(w.parties.get_member(member).await.unwrap().member.status(), MemberStatus::Normal);
    assert_eq!(w.parties.activate_member(member, &actor()).await.unwrap_err().code(), "member_already_active");
    assert_eq!(
        w.parties.open_account(member, &code("basic"), &actor()).await.unwrap_err().code(),
        "basic_account_exists"
    );
    assert_eq!(
        w.parties.open_account(member, &code("points"), &actor()).await.unwrap_err().code(),
        "account_type_not_configured"
    );
    let settlement = w.parties.open_account(member, &code("settlement"), &actor()).await.unwrap();
    assert_eq!(settlement.ledger.code, "settlement");
    assert_eq!(w.parties.member_accounts(member).await.unwrap().len(), 2);
    // Money arrives in the basic account through the ledger.
    w.transfer(w.funding, basic, 500).await.unwrap();
    assert_eq!(w.balance(basic).await, 500);
});

on_both_backends!(concurrent_openings_of_a_one_per_member_type_open_one, |db| {
    let w = world(&db.store).await;
    let (member, _) = w.active_member(3).await;
    let margin = code("margin");
    let actor = actor();
    let attempts = (0..4).map(|_| w.parties.open_account(member, &margin, &actor));
    let results = futures_util::future::join_all(attempts).await;
    let opened = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        opened,
        1,
        "{:?}",
        results.iter().map(|r| r.as_ref().map(|_| ()).map_err(PartyError::code)).collect::<Vec<_>>()
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r.code(), "account_type_limit_reached" | "concurrent_change"), "{}", r.code());
    }
    let margins = w
        .parties
        .member_accounts(member)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.account.account_type == "margin")
        .count();
    assert_eq!(margins, 1);
});

on_both_backends!(a_verified_id_card_gives_the_customer_its_certificate_and_a_second_holder_merges, |db| {
    let w = world(&db.store).await;
    let (first, first_basic) = w.active_member(4).await;
    let (second, second_basic) = w.active_member(5).await;
    w.transfer(w.funding, first_basic, 1_000).await.unwrap();
    w.transfer(w.funding, second_basic, 2_500).await.unwrap();
    let first_customer = w.parties.get_member(first).await.unwrap().member.customer();
    let second_customer = w.parties.get_member(second).await.unwrap().member.customer();
    assert_ne!(first_customer, second_customer);

    // The first member proves the ID card: its customer takes the certificate, the member its name.
    let outcome = w
        .parties
        .authenticate(first, &id_card_subject("张三"), &channel(), AuthenticationResult::Verified, &actor())
        .await
        .unwrap();
    assert!(outcome.certificate_assigned);
    assert_eq!(outcome.merged_into, None);
    let customer = w.parties.get_customer(first_customer).await.unwrap();
    assert_eq!(customer.customer.certificate().unwrap().number(), ID_CARD);
    assert_eq!(w.parties.get_member(first).await.unwrap().member.real_name().unwrap().as_str(), "张三");
    assert!(outcome.authentication.masked_subject().contains("110***"), "{}", outcome.authentication.masked_subject());
    let found = w.parties.search_customers(&CustomerSearch::CertificateNumber(ID_CARD.into())).await.unwrap();
    assert_eq!(found.iter().map(|c| c.customer.id()).collect::<Vec<_>>(), vec![first_customer]);
    let by_name = w.parties.search_customers(&CustomerSearch::Name("张三".into())).await.unwrap();
    assert_eq!(by_name.len(), 1);

    // The second member proves the same ID card: the two customers are one, and merge.
    let pending = w
        .parties
        .authenticate(second, &id_card_subject("张三"), &channel(), AuthenticationResult::Pending, &actor())
        .await
        .unwrap();
    assert_eq!(pending.merged_into, None);
    let decided = w
        .parties
        .decide_authentication(
            pending.authentication.id(),
            Some(&id_card_subject("张三")),
            AuthenticationResult::Verified,
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(decided.merged_into, Some(first_customer));
    let absorbed = w.parties.get_customer(second_customer).await.unwrap();
    assert_eq!(absorbed.customer.status(), CustomerStatus::Merged(first_customer));
    let view = w.parties.customer_view(first_customer).await.unwrap();
    let mut members: Vec<_> = view.members.iter().map(|m| m.member.id()).collect();
    members.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(members, expected);
    assert_eq!(view.accounts.len(), 2);
    assert!(view.accounts.iter().all(|(a, _)| a.customer_id == first_customer));
    // Balances intact, and still usable.
    assert_eq!(w.balance(first_basic).await, 1_000);
    assert_eq!(w.balance(second_basic).await, 2_500);
    w.transfer(second_basic, first_basic, 500).await.unwrap();
    assert!(view.history.iter().any(|h| h.action == "customer.merged_in"));
    let absorbed_history = w.parties.customer_history(second_customer, 0, 100).await.unwrap();
    assert!(absorbed_history.iter().any(|h| h.action == "customer.merged_into" && h.actor == "system"));
    // A search by the absorbed customer's member's phone finds the survivor.
    let found =
        w.parties.search_customers(&CustomerSearch::Phone(PhoneNumber::parse("13800000005").unwrap())).await.unwrap();
    assert_eq!(found[0].customer.id(), first_customer);
    // The ledger is still consistent.
    assert!(db.store.verify().await.unwrap().problems.is_empty());
});

on_both_backends!(a_failed_or_mismatched_authentication_changes_no_customer, |db| {
    let w = world(&db.store).await;
    let (member, _) = w.active_member(6).await;
    let customer = w.parties.get_member(member).await.unwrap().member.customer();
    let failed = w
        .parties
        .authenticate(member, &id_card_subject("李四"), &channel(), AuthenticationResult::Failed, &actor())
        .await
        .unwrap();
    assert_eq!(failed.authentication.status().as_str(), "failed");
    assert_eq!(w.parties.get_customer(customer).await.unwrap().customer.certificate(), None);
    let pending = w
        .parties
        .authenticate(member, &id_card_subject("李四"), &channel(), AuthenticationResult::Pending, &actor())
        .await
        .unwrap();
    // Verified with another name than the one requested: refused, nothing changes.
    let err = w
        .parties
        .decide_authentication(
            pending.authentication.id(),
            Some(&id_card_subject("王五")),
            AuthenticationResult::Verified,
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "authentication_subject_mismatch");
    assert_eq!(w.parties.member_authentications(member).await.unwrap().len(), 2);
});

on_both_backends!(customer_statuses_reach_every_account_and_give_back_exactly_what_they_took, |db| {
    let w = world(&db.store).await;
    let (member, basic) = w.active_member(7).await;
    let settlement = w.parties.open_account(member, &code("settlement"), &actor()).await.unwrap().account.account_id;
    w.transfer(w.funding, basic, 1_000).await.unwrap();
    w.transfer(w.funding, settlement, 1_000).await.unwrap();
    let customer = w.parties.get_member(member).await.unwrap().member.customer();
    // The settlement account is frozen on its own first.
    w.parties
        .change_account_status(settlement, MemberAccountStatus::Frozen, &actor(), &reason("dispute"))
        .await
        .unwrap();

    // Judicial freeze: no money leaves or enters any account.
    w.parties.change_customer_status(customer, CustomerStatus::Frozen, &actor(), &reason("court order")).await.unwrap();
    assert_eq!(w.transfer(basic, w.funding, 1).await, Err(TransferError::DebitsBlocked));
    assert_eq!(w.transfer(w.funding, basic, 1).await, Err(TransferError::CreditsBlocked));

    // Stop-payment: money may come in, not go out.
    w.parties.change_customer_status(customer, CustomerStatus::StopPayment, &actor(), &reason("eased")).await.unwrap();
    assert_eq!(w.transfer(basic, w.funding, 1).await, Err(TransferError::DebitsBlocked));
    w.transfer(w.funding, basic, 1).await.unwrap();

    // Back to normal: the basic account moves again; the settlement account stays frozen on its own.
    w.parties.change_customer_status(customer, CustomerStatus::Normal, &actor(), &reason("lifted")).await.unwrap();
    w.transfer(basic, w.funding, 1).await.unwrap();
    assert_eq!(w.transfer(settlement, w.funding, 1).await, Err(TransferError::DebitsBlocked));
    assert_eq!(w.transfer(w.funding, settlement, 1).await, Err(TransferError::CreditsBlocked));
    w.parties
        .change_account_status(settlement, MemberAccountStatus::Normal, &actor(), &reason("resolved"))
        .await
        .unwrap();
    w.transfer(settlement, w.funding, 1).await.unwrap();

    // Banned: the member cannot act (its accounts keep their flags).
    w.parties.change_customer_status(customer, CustomerStatus::Banned, &actor(), &reason("fraud")).await.unwrap();
    assert_eq!(w.parties.member_acts(member, MemberAction::Pay).await.unwrap_err().code(), "customer_banned");
    // Every change has its actor and reason.
    let history = w.parties.customer_history(customer, 0, 100).await.unwrap();
    let changes: Vec<_> = history.iter().filter(|h| h.action == "customer.status_changed").collect();
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[0].reason.as_deref(), Some("court order"));
    assert!(changes[0].actor.starts_with("client:cli_"));
    assert_eq!(changes[0].detail["to"], "frozen");
    assert_eq!(
        w.parties
            .change_customer_status(customer, CustomerStatus::Banned, &actor(), &reason("again"))
            .await
            .unwrap_err()
            .code(),
        "customer_status_unchanged"
    );
});

on_both_backends!(a_member_is_cancelled_only_once_its_accounts_are_empty_and_its_phone_is_freed, |db| {
    let w = world(&db.store).await;
    let (member, basic) = w.active_member(8).await;
    w.transfer(w.funding, basic, 300).await.unwrap();
    let err = w.parties.cancel_member(member, &actor(), &reason("user asked")).await.unwrap_err();
    assert_eq!(err.code(), "account_not_empty");
    assert_eq!(
        w.parties.close_account(basic, &actor(), &reason("tidy")).await.unwrap_err().code(),
        "account_not_empty"
    );
    assert_eq!(w.parties.get_member(member).await.unwrap().member.status(), MemberStatus::Normal);

    w.transfer(basic, w.funding, 300).await.unwrap();
    let cancelled = w.parties.cancel_member(member, &actor(), &reason("user asked")).await.unwrap();
    assert_eq!(cancelled.member.status(), MemberStatus::Cancelled);
    assert!(cancelled.identities.is_empty());
    let account = w.parties.get_member_account(basic).await.unwrap();
    assert_eq!(account.account.status, MemberAccountStatus::Closed);
    assert!(account.ledger.flags.closed);
    assert_eq!(w.transfer(w.funding, basic, 1).await, Err(TransferError::AccountClosed));
    // The phone can be registered again, by a new member.
    let registration = Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity: phone(8) };
    let again = w.parties.register_member(&registration, &actor()).await.unwrap();
    assert_ne!(again.member.member.id(), member);
    assert_eq!(
        w.parties.cancel_member(member, &actor(), &reason("twice")).await.unwrap_err().code(),
        "member_cancelled"
    );
});

on_both_backends!(members_without_activity_become_dormant_and_wake_when_they_act, |db| {
    let w = world(&db.store).await;
    let (member, _) = w.active_member(9).await;
    let (fresh, _) = w.active_member(10).await;
    let later = Timestamp::from_nanos(clock::now().nanos() + 366 * 86_400 * 1_000_000_000);
    // Only the first is past the period as of `later`: make the second act "then" by not moving time;
    // both were active now, so both are due at `later`.
    let marked = w.parties.mark_dormant_members(later, 1).await.unwrap();
    assert_eq!(marked, 2);
    assert_eq!(w.parties.get_member(member).await.unwrap().member.status(), MemberStatus::Dormant);
    // Not due yet now.
    assert_eq!(w.parties.mark_dormant_members(clock::now(), 10).await.unwrap(), 0);
    // Acting wakes it.
    let woke = w.parties.member_acts(member, MemberAction::Pay).await.unwrap();
    assert_eq!(woke.member.status(), MemberStatus::Normal);
    assert_eq!(w.parties.get_member(fresh).await.unwrap().member.status(), MemberStatus::Dormant);
    let history = w.parties.record_history(&member.to_string(), 0, 100).await.unwrap();
    let actions: Vec<_> = history.iter().map(|h| h.action.as_str()).collect();
    assert!(actions.ends_with(&["member.dormant", "member.woke"]), "{actions:?}");
});

on_both_backends!(an_administrator_merges_with_a_reason_and_never_lifts_a_freeze, |db| {
    let w = world(&db.store).await;
    let (a, _) = w.active_member(11).await;
    let (b, _) = w.active_member(12).await;
    let ca = w.parties.get_member(a).await.unwrap().member.customer();
    let cb = w.parties.get_member(b).await.unwrap().member.customer();
    w.parties.change_customer_status(cb, CustomerStatus::Frozen, &actor(), &reason("court order")).await.unwrap();
    let err = w.parties.merge_customers(ca, cb, &actor(), &reason("same person")).await.unwrap_err();
    assert_eq!(err.code(), "merge_would_lift_restriction");
    let err = w.parties.merge_customers(ca, cb, &Actor::Member(a), &reason("same person")).await.unwrap_err();
    assert!(matches!(err.code(), "merge_would_lift_restriction" | "merge_requires_administrator"));
    w.parties.change_customer_status(cb, CustomerStatus::Normal, &actor(), &reason("lifted")).await.unwrap();
    // The absorbed customer holds the certificate and the survivor none: it moves with the merge.
    w.parties
        .authenticate(b, &id_card_subject("张三"), &channel(), AuthenticationResult::Verified, &actor())
        .await
        .unwrap();
    let record = w.parties.merge_customers(ca, cb, &actor(), &reason("same person")).await.unwrap();
    assert_eq!(record.members_moved, vec![b]);
    assert!(record.certificate_moved);
    assert_eq!(w.parties.get_member(b).await.unwrap().member.customer(), ca);
    assert_eq!(w.parties.get_customer(ca).await.unwrap().customer.certificate().unwrap().number(), ID_CARD);
    assert_eq!(w.parties.get_customer(cb).await.unwrap().customer.certificate(), None);
    let found = w.parties.search_customers(&CustomerSearch::CertificateNumber(ID_CARD.into())).await.unwrap();
    assert_eq!(found.iter().map(|c| c.customer.id()).collect::<Vec<_>>(), vec![ca]);
    let history = w.parties.customer_history(ca, 0, 100).await.unwrap();
    let merged = history.iter().find(|h| h.action == "customer.merged_in").unwrap();
    assert_eq!(merged.reason.as_deref(), Some("same person"));
    assert_eq!(merged.detail["certificate_moved"], true);
    assert_eq!(
        w.parties.merge_customers(ca, cb, &actor(), &reason("again")).await.unwrap_err().code(),
        "customer_merged"
    );
});
