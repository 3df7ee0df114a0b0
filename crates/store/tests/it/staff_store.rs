//! Staff accounts, sessions and approvals through the `StaffStore` trait, every test on both
//! backends: accounts change only over the version they were read at, sessions are found by their
//! token's hash and end, and an approval is decided once however many staff members decide it at once.

use sanhu_core::staff::{ApprovalId, ApprovalStatus, LoginGuard, StaffRole, StaffStatus, Username};
use sanhu_core::Timestamp;
use sanhu_store::approvals::{Approval, ApprovalQuery, ApprovalStore};
use sanhu_store::on_both_backends;
use sanhu_store::staff::{StaffAccount, StaffSession, StaffStore};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_nanos(1_700_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn name(text: &str) -> Username {
    Username::parse(text).unwrap()
}

fn account(username: &str, role: StaffRole) -> StaffAccount {
    StaffAccount {
        username: name(username),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        status: StaffStatus::Active,
        guard: LoginGuard::default(),
        created_at: at(0),
        password_set_at: at(0),
        version: 1,
    }
}

fn session(token_hash: &str, username: &str, created: i64) -> StaffSession {
    StaffSession {
        token_hash: token_hash.to_owned(),
        username: name(username),
        csrf_hash: format!("csrf-{token_hash}"),
        created_at: at(created),
        last_seen_at: at(created),
        ended_at: None,
    }
}

fn approval(n: u128, maker: &str) -> Approval {
    Approval {
        id: ApprovalId::from_u128((1_700_000_000_000u128 << 80) + n).unwrap(),
        status: ApprovalStatus::Pending,
        maker: name(maker),
        checker: None,
        method: "POST".to_owned(),
        route: "/v1/freezes".to_owned(),
        path: "/v1/freezes".to_owned(),
        body: format!(r#"{{"freeze_number":"F-{n}"}}"#),
        reason: None,
        created_at: at(n as i64),
        decided_at: None,
        response_status: None,
        response_body: None,
    }
}

on_both_backends!(a_staff_account_is_created_once_and_changed_only_over_the_version_read, |db| {
    let store = &db.store;
    let li = account("li.wei", StaffRole::Finance);
    assert!(store.create_staff(&li).await.unwrap());
    assert!(!store.create_staff(&account("li.wei", StaffRole::Auditor)).await.unwrap(), "the username is taken");
    assert!(store.create_staff(&account("wang", StaffRole::Auditor)).await.unwrap());
    assert_eq!(store.staff_account(&name("li.wei")).await.unwrap(), Some(li.clone()));
    assert_eq!(store.staff_account(&name("nobody")).await.unwrap(), None);
    let listed: Vec<String> = store.staff_accounts().await.unwrap().iter().map(|a| a.username.to_string()).collect();
    assert_eq!(listed, ["li.wei", "wang"]);

    let locked = StaffAccount { guard: LoginGuard::restore(5, Some(at(900))), ..li.clone() };
    assert!(store.update_staff(&locked).await.unwrap());
    let stored = store.staff_account(&name("li.wei")).await.unwrap().unwrap();
    assert_eq!((stored.guard, stored.version), (locked.guard, 2));
    assert!(!store.update_staff(&locked).await.unwrap(), "version 1 was read before the write");

    let disabled = StaffAccount { status: StaffStatus::Disabled, role: StaffRole::Auditor, ..stored };
    assert!(store.update_staff(&disabled).await.unwrap());
    let stored = store.staff_account(&name("li.wei")).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.role, stored.version), (StaffStatus::Disabled, StaffRole::Auditor, 3));
});

on_both_backends!(concurrent_writes_over_one_version_succeed_once, |db| {
    db.store.create_staff(&account("li.wei", StaffRole::Finance)).await.unwrap();
    let other = db.open_another().await;
    let read = db.store.staff_account(&name("li.wei")).await.unwrap().unwrap();
    let mut writes = Vec::new();
    for n in 0..8u32 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        let write = StaffAccount { guard: LoginGuard::restore(n + 1, None), ..read.clone() };
        writes.push(tokio::spawn(async move { store.update_staff(&write).await.unwrap() }));
    }
    let mut succeeded = 0;
    for write in writes {
        succeeded += usize::from(write.await.unwrap());
    }
    assert_eq!(succeeded, 1);
    assert_eq!(db.store.staff_account(&name("li.wei")).await.unwrap().unwrap().version, 2);
});

on_both_backends!(sessions_are_found_by_their_hash_touched_forward_and_ended, |db| {
    let store = &db.store;
    store.create_staff_session(&session("aa", "li.wei", 0), at(-3600)).await.unwrap();
    store.create_staff_session(&session("bb", "li.wei", 10), at(-3600)).await.unwrap();
    store.create_staff_session(&session("cc", "wang", 20), at(-3600)).await.unwrap();
    assert_eq!(store.staff_session("aa").await.unwrap(), Some(session("aa", "li.wei", 0)));
    assert_eq!(store.staff_session("zz").await.unwrap(), None);

    store.touch_staff_session("aa", at(60)).await.unwrap();
    store.touch_staff_session("aa", at(30)).await.unwrap();
    assert_eq!(store.staff_session("aa").await.unwrap().unwrap().last_seen_at, at(60), "never moved back");

    assert!(store.end_staff_session("aa", at(70)).await.unwrap());
    assert!(!store.end_staff_session("aa", at(80)).await.unwrap(), "ended already");
    assert_eq!(store.staff_session("aa").await.unwrap().unwrap().ended_at, Some(at(70)));
    assert_eq!(store.end_staff_sessions(&name("li.wei"), at(90)).await.unwrap(), 1);
    assert_eq!(store.staff_session("bb").await.unwrap().unwrap().ended_at, Some(at(90)));
    assert_eq!(store.staff_session("cc").await.unwrap().unwrap().ended_at, None, "another's session is open");

    // A new session forgets the ended ones and those signed in before the cut-off.
    store.create_staff_session(&session("dd", "wang", 100), at(15)).await.unwrap();
    for gone in ["aa", "bb"] {
        assert_eq!(store.staff_session(gone).await.unwrap(), None, "{gone}");
    }
    assert!(store.staff_session("cc").await.unwrap().is_some(), "open and young enough");
    assert!(store.staff_session("dd").await.unwrap().is_some());
});

on_both_backends!(approvals_are_listed_in_order_and_decided_once, |db| {
    let store = &db.store;
    for n in 1..=5 {
        store.create_approval(&approval(n, "li.wei")).await.unwrap();
    }
    assert_eq!(store.approval(approval(3, "li.wei").id).await.unwrap(), Some(approval(3, "li.wei")));
    let page = store.approvals(&ApprovalQuery { limit: 2, ..ApprovalQuery::default() }).await.unwrap();
    assert_eq!(page, [approval(1, "li.wei"), approval(2, "li.wei")]);
    let next = ApprovalQuery { after: Some(page[1].id), limit: 10, ..ApprovalQuery::default() };
    assert_eq!(store.approvals(&next).await.unwrap().len(), 3);

    let other = db.open_another().await;
    let mut decisions = Vec::new();
    for checker in ["wang", "zhao", "qian", "sun"] {
        let store = if checker.len() % 2 == 0 { db.store.clone() } else { other.clone() };
        let decided = Approval {
            status: ApprovalStatus::Applying,
            checker: Some(name(checker)),
            decided_at: Some(at(100)),
            ..approval(2, "li.wei")
        };
        decisions.push(tokio::spawn(async move { store.update_approval(&decided, ApprovalStatus::Pending).await }));
    }
    let mut won = 0;
    for decision in decisions {
        won += usize::from(decision.await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "one checker decides");

    let applying = store.approval(approval(2, "li.wei").id).await.unwrap().unwrap();
    assert_eq!(applying.status, ApprovalStatus::Applying);
    let applied = Approval {
        status: ApprovalStatus::Applied,
        response_status: Some(201),
        response_body: Some(r#"{"freeze_number":"F-2"}"#.to_owned()),
        ..applying.clone()
    };
    assert!(store.update_approval(&applied, ApprovalStatus::Applying).await.unwrap());
    assert!(!store.update_approval(&applied, ApprovalStatus::Applying).await.unwrap(), "applied already");
    assert_eq!(store.approval(applied.id).await.unwrap(), Some(applied));

    let pending = ApprovalQuery { status: Some(ApprovalStatus::Pending), limit: 10, ..ApprovalQuery::default() };
    let ids: Vec<ApprovalId> = store.approvals(&pending).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(ids, [1, 3, 4, 5].map(|n| approval(n, "li.wei").id));
});
