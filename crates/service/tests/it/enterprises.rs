//! Enterprise members and their operators on both backends: registration with company details and a
//! first admin, operators added, granted, limited, disabled and removed by an admin (or the platform),
//! the last admin kept, other enterprises kept out, the authorisation check the wallet asks, the history,
//! and two concurrent removals of the last two admins leaving one.

use sanhu_core::id::{AccountId, MemberId, OperatorId};
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::operator::{Operations, OperatorLimits, OperatorStatus};
use sanhu_core::party::{
    AccountTypeCode, Actor, AuthenticationSubject, Certificate, CertificateType, CompanyDetails, CustomerScope, Email,
    LoginIdentity, Operation, OperatorRequest, OperatorRole, PartyKind, PhoneNumber, RealName, Reason,
};
use sanhu_service::party::{
    AuthenticationResult, CustomerSearch, EnterpriseRegistration, Parties, PartyConfig, PartyError, Registration,
    StoredOperator,
};
use sanhu_store::Store;
use sanhu_testkit::money::{amount, cny};
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor};

const COMPANY_NAMES: [&str; 4] = ["甲", "乙", "丙", "丁"];

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

fn phone(n: u32) -> LoginIdentity {
    LoginIdentity::Phone(PhoneNumber::parse(&format!("139{n:08}")).unwrap())
}

fn email(n: u32) -> LoginIdentity {
    LoginIdentity::Email(Email::parse(&format!("finance{n}@example.com")).unwrap())
}

fn company(n: usize) -> CompanyDetails {
    world::company(&format!("某某{}科技有限公司", COMPANY_NAMES[n]))
}

fn registration(n: usize) -> EnterpriseRegistration {
    EnterpriseRegistration {
        scope: CustomerScope::External,
        identity: email(n as u32),
        company: company(n),
        admin_identity: phone(n as u32),
    }
}

/// An active enterprise member with its first admin and its basic account.
struct Enterprise {
    member: MemberId,
    admin: OperatorId,
    basic: AccountId,
}

async fn active_enterprise(parties: &Parties, n: usize) -> Enterprise {
    let registered = parties.register_enterprise(&registration(n), &actor()).await.unwrap();
    let member = registered.member.member.id();
    let (_, opened) = parties.activate_member(member, &actor()).await.unwrap();
    Enterprise { member, admin: registered.admin.operator.id(), basic: opened[0].0.account_id }
}

fn parties(store: &Store) -> Parties {
    Parties::new(store.clone(), PartyConfig::default())
}

async fn add(parties: &Parties, e: &Enterprise, role: OperatorRole, identity: Option<LoginIdentity>) -> OperatorId {
    let added = parties
        .add_operator(e.member, role, identity.as_ref(), &Actor::Operator(e.admin), &reason("new hire"))
        .await
        .unwrap();
    added.operator.id()
}

fn code(result: Result<impl std::fmt::Debug, PartyError>) -> &'static str {
    result.unwrap_err().code()
}

on_both_backends!(an_enterprise_registers_with_its_company_details_and_its_first_admin, |db| {
    let parties = parties(&db.store);
    let registered = parties.register_enterprise(&registration(0), &actor()).await.unwrap();
    let customer = &registered.customer;
    let member = registered.member.member.clone();
    assert_eq!((customer.customer.kind(), member.kind()), (PartyKind::Enterprise, PartyKind::Enterprise));
    assert_eq!(member.customer(), customer.customer.id());
    // The credit code is only claimed: the certificate comes from a verified business licence.
    assert_eq!(customer.customer.certificate(), None);
    assert_eq!(customer.name.as_ref().unwrap().as_str(), "某某甲科技有限公司");

    let details = parties.company_details(member.id()).await.unwrap().unwrap();
    assert_eq!(details.details, company(0));
    assert_eq!(details.customer_id, customer.customer.id());

    let admin = parties.get_operator(registered.admin.operator.id()).await.unwrap();
    assert_eq!((admin.operator.role(), admin.operator.status()), (OperatorRole::Admin, OperatorStatus::Active));
    assert_eq!(admin.operator.member(), member.id());
    assert_eq!(parties.operator_by_identity(&phone(0)).await.unwrap(), admin);
    // The member's own identity is the member's, not an operator's.
    assert_eq!(code(parties.operator_by_identity(&email(0)).await), "operator_not_found");
    assert_eq!(parties.member_operators(member.id()).await.unwrap(), vec![admin.clone()]);

    // Identities are unique in the platform, the admin's among them, and the admin's is its own.
    assert_eq!(code(parties.register_enterprise(&registration(0), &actor()).await), "identity_taken");
    let admin_phone_taken = EnterpriseRegistration { identity: email(5), ..registration(0) };
    assert_eq!(code(parties.register_enterprise(&admin_phone_taken, &actor()).await), "identity_taken");
    let same_identity = EnterpriseRegistration { admin_identity: email(6), identity: email(6), ..registration(1) };
    assert_eq!(code(parties.register_enterprise(&same_identity, &actor()).await), "identity_taken");
    // A failed registration wrote nothing: its identities are still free.
    let personal = Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity: email(6) };
    parties.register_member(&personal, &actor()).await.unwrap();

    // Found by the company's name; registration is in the customer's history.
    let found = parties.search_customers(&CustomerSearch::Name("某某甲科技有限公司".into())).await.unwrap();
    assert_eq!(found.len(), 1);
    let history = parties.customer_history(customer.customer.id(), 0, 100).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["customer.registered", "member.registered", "company.recorded", "operator.added"]);
    assert!(history.iter().all(|h| h.actor.starts_with("client:")));
});

on_both_backends!(a_personal_member_has_neither_company_details_nor_operators, |db| {
    let parties = parties(&db.store);
    let personal = Registration { kind: PartyKind::Personal, scope: CustomerScope::External, identity: phone(1) };
    let member = parties.register_member(&personal, &actor()).await.unwrap().member.member.id();
    assert_eq!(code(parties.company_details(member).await), "member_not_enterprise");
    let refused = parties.add_operator(member, OperatorRole::Admin, None, &actor(), &reason("try")).await;
    assert_eq!(code(refused), "member_not_enterprise");
    // An enterprise registered as a plain member has no details yet; the platform gives it its admin.
    let plain = Registration { kind: PartyKind::Enterprise, scope: CustomerScope::External, identity: phone(2) };
    let plain = parties.register_member(&plain, &actor()).await.unwrap().member.member.id();
    assert_eq!(parties.company_details(plain).await.unwrap(), None);
    parties.add_operator(plain, OperatorRole::Admin, Some(&phone(3)), &actor(), &reason("first admin")).await.unwrap();
});

// The story: an enterprise member with an admin operator and a cashier limited to one account.
on_both_backends!(a_cashier_limited_to_one_account_pays_only_there_and_within_its_limits, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let settlement = parties
        .open_account(e.member, &AccountTypeCode::parse("settlement").unwrap(), &actor())
        .await
        .unwrap()
        .account
        .account_id;
    let cashier = add(&parties, &e, OperatorRole::Cashier, Some(phone(10))).await;
    let by_admin = Actor::Operator(e.admin);
    let pay_only = Operations::of(&[Operation::Pay]);
    parties.grant_operator(cashier, e.basic, pay_only, &by_admin, &reason("pays suppliers")).await.unwrap();
    let limits = OperatorLimits::new(cny(), Some(amount(1_000)), Some(amount(1_500))).unwrap();
    let limited = parties.set_operator_limits(cashier, Some(limits), &by_admin, &reason("policy")).await.unwrap();
    assert_eq!(limited.operator.limits(), Some(limits));
    assert_eq!(limited.operator.grants().len(), 1);

    // Within the limit on its account: allowed, and counted towards the day.
    let allowed = parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(1_000))).await.unwrap();
    assert_eq!(allowed.spent_today, 1_000);
    // Above the limit per transaction, on another account, or another operation: refused.
    let above = parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(1_001))).await;
    assert_eq!(code(above), "operator_limit_per_transaction");
    let elsewhere = parties.authorise_operator(cashier, settlement, OperatorRequest::Pay(amount(1))).await;
    assert_eq!(code(elsewhere), "operator_not_authorised");
    let withdraw = parties.authorise_operator(cashier, e.basic, OperatorRequest::Withdraw(amount(1))).await;
    assert_eq!(code(withdraw), "operator_not_authorised");
    let view = parties.authorise_operator(cashier, e.basic, OperatorRequest::View).await;
    assert_eq!(code(view), "operator_not_authorised");

    // The limit per day counts what was allowed today (kept in the operator's record).
    let over_day = parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(600))).await;
    assert_eq!(code(over_day), "operator_limit_per_day");
    let last = parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(500))).await.unwrap();
    assert_eq!(last.spent_today, 1_500);
    assert_eq!(
        code(parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(1))).await),
        "operator_limit_per_day"
    );
    // A payment that did not happen gives its amount back.
    let released = parties.release_operator_authorisation(&last).await.unwrap();
    assert_eq!(released.spent.on(last.day, last.currency), 1_000);
    parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(500))).await.unwrap();

    // The role bounds what can be granted: an operator never withdraws, staff only look.
    let preparer = add(&parties, &e, OperatorRole::Operator, None).await;
    let withdraw_only = Operations::of(&[Operation::Withdraw]);
    let refused = parties.grant_operator(preparer, e.basic, withdraw_only, &by_admin, &reason("try")).await;
    assert_eq!(code(refused), "operation_not_allowed_for_role");
    let staff = add(&parties, &e, OperatorRole::Staff, None).await;
    let refused = parties.grant_operator(staff, e.basic, pay_only, &by_admin, &reason("try")).await;
    assert_eq!(code(refused), "operation_not_allowed_for_role");
    // A role that would not allow a grant already given is refused until it is revoked.
    let refused = parties.change_operator_role(cashier, OperatorRole::Staff, &by_admin, &reason("moved")).await;
    assert_eq!(code(refused), "operation_not_allowed_for_role");
    parties.revoke_operator(cashier, e.basic, &by_admin, &reason("moved")).await.unwrap();
    let moved = parties.change_operator_role(cashier, OperatorRole::Staff, &by_admin, &reason("moved")).await.unwrap();
    assert_eq!((moved.operator.role(), moved.operator.grants()), (OperatorRole::Staff, &[][..]));
    let revoked = parties.authorise_operator(cashier, e.basic, OperatorRequest::Pay(amount(1))).await;
    assert_eq!(code(revoked), "operator_not_authorised");
});

on_both_backends!(a_disabled_operator_may_do_nothing_until_enabled_and_a_removed_one_never, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let by_admin = Actor::Operator(e.admin);
    let cashier = add(&parties, &e, OperatorRole::Cashier, Some(phone(10))).await;
    parties.grant_operator(cashier, e.basic, Operations::ALL, &by_admin, &reason("cashier")).await.unwrap();
    parties.disable_operator(cashier, &by_admin, &reason("on leave")).await.unwrap();
    assert_eq!(code(parties.authorise_operator(cashier, e.basic, OperatorRequest::View).await), "operator_disabled");
    assert_eq!(code(parties.disable_operator(cashier, &by_admin, &reason("again")).await), "operator_status_unchanged");
    parties.enable_operator(cashier, &by_admin, &reason("back")).await.unwrap();
    parties.authorise_operator(cashier, e.basic, OperatorRequest::View).await.unwrap();

    let removed = parties.remove_operator(cashier, &by_admin, &reason("left")).await.unwrap();
    assert_eq!((removed.operator.status(), removed.identities.len()), (OperatorStatus::Removed, 0));
    assert_eq!(code(parties.authorise_operator(cashier, e.basic, OperatorRequest::View).await), "operator_removed");
    assert_eq!(code(parties.enable_operator(cashier, &by_admin, &reason("undo")).await), "operator_removed");
    // Its phone is free again, and the removed operator stays listed for the record.
    assert_eq!(code(parties.operator_by_identity(&phone(10)).await), "operator_not_found");
    let successor = add(&parties, &e, OperatorRole::Cashier, Some(phone(10))).await;
    assert_eq!(parties.operator_by_identity(&phone(10)).await.unwrap().operator.id(), successor);
    let team = parties.member_operators(e.member).await.unwrap();
    assert_eq!(team.len(), 3);
    assert_eq!(team.iter().filter(|o| o.operator.status() == OperatorStatus::Removed).count(), 1);
    // An identity taken by a member cannot be an operator's.
    let taken = parties.add_operator(e.member, OperatorRole::Staff, Some(&email(0)), &by_admin, &reason("x")).await;
    assert_eq!(code(taken), "identity_taken");
});

on_both_backends!(the_last_active_admin_cannot_be_removed_disabled_or_demoted, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let why = reason("restructuring");
    assert_eq!(code(parties.remove_operator(e.admin, &actor(), &why).await), "last_admin");
    assert_eq!(code(parties.disable_operator(e.admin, &actor(), &why).await), "last_admin");
    let demote = parties.change_operator_role(e.admin, OperatorRole::Staff, &actor(), &why).await;
    assert_eq!(code(demote), "last_admin");
    // A disabled admin does not count as the admin who remains.
    let second = add(&parties, &e, OperatorRole::Admin, None).await;
    parties.disable_operator(second, &actor(), &why).await.unwrap();
    assert_eq!(code(parties.remove_operator(e.admin, &actor(), &why).await), "last_admin");
    // With another active admin, the first can go; then the second is the last.
    parties.enable_operator(second, &actor(), &why).await.unwrap();
    parties.remove_operator(e.admin, &Actor::Operator(second), &why).await.unwrap();
    assert_eq!(code(parties.remove_operator(second, &Actor::Operator(second), &why).await), "last_admin");
    let admins = parties.member_operators(e.member).await.unwrap();
    let active_admins = admins
        .iter()
        .filter(|o| o.operator.role() == OperatorRole::Admin && o.operator.status() == OperatorStatus::Active)
        .count();
    assert_eq!(active_admins, 1);
});

on_both_backends!(only_an_active_admin_or_the_platform_manages_operators, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let cashier = add(&parties, &e, OperatorRole::Cashier, None).await;
    let by_cashier = Actor::Operator(cashier);
    let why = reason("try");
    let added = parties.add_operator(e.member, OperatorRole::Admin, None, &by_cashier, &why).await;
    assert_eq!(code(added), "operator_not_admin");
    let granted = parties.grant_operator(cashier, e.basic, Operations::ALL, &by_cashier, &why).await;
    assert_eq!(code(granted), "operator_not_admin");
    assert_eq!(code(parties.remove_operator(e.admin, &by_cashier, &why).await), "operator_not_admin");
    // The member acts through its operators, not on them.
    let by_member = Actor::Member(e.member);
    assert_eq!(code(parties.disable_operator(cashier, &by_member, &why).await), "operator_not_admin");
    // An admin that is disabled manages nothing.
    let second = add(&parties, &e, OperatorRole::Admin, None).await;
    parties.disable_operator(second, &actor(), &reason("suspended")).await.unwrap();
    let by_disabled = Actor::Operator(second);
    assert_eq!(code(parties.remove_operator(cashier, &by_disabled, &why).await), "operator_disabled");
    // The platform may.
    parties.grant_operator(cashier, e.basic, Operations::ALL, &actor(), &reason("support ticket")).await.unwrap();
    // An unknown operator is not found.
    let nobody = OperatorId::from_u128(1).unwrap();
    assert_eq!(code(parties.get_operator(nobody).await), "operator_not_found");
    assert_eq!(code(parties.remove_operator(nobody, &actor(), &why).await), "operator_not_found");
});

on_both_backends!(operators_of_another_enterprise_are_refused, |db| {
    let parties = parties(&db.store);
    let a = active_enterprise(&parties, 0).await;
    let b = active_enterprise(&parties, 1).await;
    let cashier_a = add(&parties, &a, OperatorRole::Cashier, None).await;
    let by_b_admin = Actor::Operator(b.admin);
    let why = reason("try");
    assert_eq!(code(parties.remove_operator(cashier_a, &by_b_admin, &why).await), "operator_other_member");
    let added = parties.add_operator(a.member, OperatorRole::Admin, None, &by_b_admin, &why).await;
    assert_eq!(code(added), "operator_other_member");
    let granted = parties.grant_operator(cashier_a, a.basic, Operations::ALL, &by_b_admin, &why).await;
    assert_eq!(code(granted), "operator_other_member");
    // A's operator is granted only A's accounts, even by A's admin.
    let by_a_admin = Actor::Operator(a.admin);
    let foreign = parties.grant_operator(cashier_a, b.basic, Operations::ALL, &by_a_admin, &why).await;
    assert_eq!(code(foreign), "account_other_member");
    parties.grant_operator(cashier_a, a.basic, Operations::ALL, &by_a_admin, &why).await.unwrap();
    let paid = parties.authorise_operator(cashier_a, b.basic, OperatorRequest::Pay(amount(1))).await;
    assert_eq!(code(paid), "operator_not_authorised");
    // B's admin is no admin of A's accounts either.
    let viewed = parties.authorise_operator(b.admin, a.basic, OperatorRequest::View).await;
    assert_eq!(code(viewed), "operator_not_authorised");
});

on_both_backends!(every_operator_change_is_in_the_history_with_its_actor_and_reason, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let by_admin = Actor::Operator(e.admin);
    let cashier = add(&parties, &e, OperatorRole::Cashier, None).await;
    parties.grant_operator(cashier, e.basic, Operations::ALL, &by_admin, &reason("grant")).await.unwrap();
    let limits = OperatorLimits::new(cny(), Some(amount(100)), None).unwrap();
    parties.set_operator_limits(cashier, Some(limits), &by_admin, &reason("limit")).await.unwrap();
    parties.revoke_operator(cashier, e.basic, &by_admin, &reason("revoke")).await.unwrap();
    parties.change_operator_role(cashier, OperatorRole::Operator, &by_admin, &reason("role")).await.unwrap();
    parties.disable_operator(cashier, &by_admin, &reason("disable")).await.unwrap();
    parties.enable_operator(cashier, &by_admin, &reason("enable")).await.unwrap();
    parties.remove_operator(cashier, &actor(), &reason("remove")).await.unwrap();
    // Authorisations are not changes to the operator.
    let _ = parties.authorise_operator(cashier, e.basic, OperatorRequest::View).await;

    let history = parties.record_history(&cashier.to_string(), 0, 100).await.unwrap();
    let seen: Vec<(&str, &str)> =
        history.iter().map(|h| (h.action.as_str(), h.reason.as_deref().unwrap_or(""))).collect();
    assert_eq!(
        seen,
        [
            ("operator.added", "new hire"),
            ("operator.granted", "grant"),
            ("operator.limits_set", "limit"),
            ("operator.revoked", "revoke"),
            ("operator.role_changed", "role"),
            ("operator.disabled", "disable"),
            ("operator.enabled", "enable"),
            ("operator.removed", "remove"),
        ]
    );
    let admin_actor = format!("operator:{}", e.admin);
    assert!(history[..7].iter().all(|h| h.actor == admin_actor));
    assert!(history[7].actor.starts_with("client:"));
    assert_eq!(history[1].detail["operations"], serde_json::json!(["view", "pay", "transfer", "withdraw"]));
    assert_eq!(history[2].detail["to"]["per_transaction"], 100);
    assert_eq!(history[4].detail, serde_json::json!({ "from": "cashier", "to": "operator" }));
    let customer = parties.get_member(e.member).await.unwrap().member.customer().to_string();
    assert!(history.iter().all(|h| h.customer_id == customer));
});

on_both_backends!(concurrent_removals_of_the_last_two_admins_leave_one, |db| {
    let parties = parties(&db.store);
    for n in 0..3 {
        let e = active_enterprise(&parties, n).await;
        let second = add(&parties, &e, OperatorRole::Admin, None).await;
        let why = reason("each removes the other");
        let (p1, p2) = (parties.clone(), parties.clone());
        let (first, other) = (e.admin, second);
        let one = tokio::spawn(async move { p1.remove_operator(other, &Actor::Operator(first), &why).await });
        let why = reason("each removes the other");
        let two = tokio::spawn(async move { p2.remove_operator(first, &Actor::Operator(other), &why).await });
        let results = [one.await.unwrap(), two.await.unwrap()];
        let removed = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(removed, 1, "{results:?}");
        // The loser was decided again on what was current: either it was removed itself, or the
        // other was now the last admin.
        let refusal = results.iter().find_map(|r| r.as_ref().err()).unwrap().code();
        assert!(matches!(refusal, "operator_removed" | "last_admin"), "{refusal}");
        let team: Vec<StoredOperator> = parties.member_operators(e.member).await.unwrap();
        let active_admins = team
            .iter()
            .filter(|o| o.operator.role() == OperatorRole::Admin && o.operator.status() == OperatorStatus::Active)
            .count();
        assert_eq!(active_admins, 1);
    }
});

on_both_backends!(concurrent_authorisations_cannot_both_fit_under_the_limit_per_day, |db| {
    let parties = parties(&db.store);
    let e = active_enterprise(&parties, 0).await;
    let cashier = add(&parties, &e, OperatorRole::Cashier, None).await;
    let by_admin = Actor::Operator(e.admin);
    parties.grant_operator(cashier, e.basic, Operations::ALL, &by_admin, &reason("cashier")).await.unwrap();
    let limits = OperatorLimits::new(cny(), None, Some(amount(1_000))).unwrap();
    parties.set_operator_limits(cashier, Some(limits), &by_admin, &reason("policy")).await.unwrap();
    let basic = e.basic;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let parties = parties.clone();
            tokio::spawn(
                async move { parties.authorise_operator(cashier, basic, OperatorRequest::Pay(amount(400))).await },
            )
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => allowed += 1,
            Err(e) => assert!(matches!(e.code(), "operator_limit_per_day" | "concurrent_change"), "{e}"),
        }
    }
    assert!(allowed <= 2, "{allowed} authorisations of 400 fit under 1,000");
    let stored = parties.get_operator(cashier).await.unwrap();
    assert_eq!(stored.spent.totals.iter().map(|(_, t)| *t).sum::<i64>(), allowed * 400);
});

on_both_backends!(a_verified_business_licence_gives_the_certificate_and_a_merge_takes_operators_along, |db| {
    let parties = parties(&db.store);
    let a = active_enterprise(&parties, 0).await;
    let b = active_enterprise(&parties, 1).await;
    let cashier_b = add(&parties, &b, OperatorRole::Cashier, None).await;
    // Both claim the same credit code (registration assigned it to neither).
    let licence = AuthenticationSubject::business_licence(
        RealName::organisation("某某甲科技有限公司").unwrap(),
        Certificate::parse(CertificateType::UnifiedSocialCreditCode, "91110108MA01ABCD0B").unwrap(),
    )
    .unwrap();
    let channel = AuthenticationChannel::parse("business_registry").unwrap();
    let verified = AuthenticationResult::Verified;
    let first = parties.authenticate(a.member, &licence, &channel, verified, &actor()).await.unwrap();
    assert!(first.certificate_assigned);
    let customer_a = first.customer_id;
    assert!(parties.get_customer(customer_a).await.unwrap().customer.certificate().is_some());

    // The second proves the same licence: its customer merges into the first, company and operators too.
    let second =
        parties.authenticate(b.member, &licence, &channel, AuthenticationResult::Verified, &actor()).await.unwrap();
    assert_eq!(second.merged_into, Some(customer_a));
    assert_eq!(parties.company_details(b.member).await.unwrap().unwrap().customer_id, customer_a);
    for operator in [b.admin, cashier_b] {
        assert_eq!(parties.get_operator(operator).await.unwrap().customer_id, customer_a);
    }
    // B's operators still manage only B's member.
    let by_b_admin = Actor::Operator(b.admin);
    let refused = parties.grant_operator(cashier_b, a.basic, Operations::ALL, &by_b_admin, &reason("try")).await;
    assert_eq!(code(refused), "account_other_member");
});
