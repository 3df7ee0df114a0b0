//! The three-party records through the `PartyStore` trait, every test on both backends: records and
//! their versions, unique keys, lookups, history, and the ledger accounts and flags a party write
//! changes in the same transaction. A refused write leaves nothing behind.

use sanhu_core::ledger::{Account, AccountCloseError, AccountFlags, Transfer, TransferError, TransferRequest};
use sanhu_core::{AccountId, Timestamp};
use sanhu_store::party::{
    ChangeQuery, CounterAdd, LedgerFlagsWrite, PartyChange, PartyConflict, PartyKey, PartyRecord, PartyStore,
    PartyWrite, RecordWrite,
};
use sanhu_store::{on_both_backends, DatabaseStore, LedgerStore, Store};
use sanhu_testkit::ledger::{self, new_account_id, new_transfer_id, now};

const MEMBERS_OF_CUSTOMER: &str = "members_of_customer";

fn record(id: &str, kind: &str, customer_id: &str, version: i64, data: &str) -> PartyRecord {
    PartyRecord {
        id: id.to_owned(),
        kind: kind.to_owned(),
        customer_id: customer_id.to_owned(),
        version,
        data: data.to_owned(),
        created_at: Timestamp(1_000),
        updated_at: Timestamp(1_000 * version),
    }
}

fn customer(id: &str) -> PartyRecord {
    record(id, "customer", id, 1, r#"{"status":"normal"}"#)
}

fn member(id: &str, customer_id: &str) -> PartyRecord {
    record(id, "member", customer_id, 1, r#"{"status":"active"}"#)
}

/// Creating `record` (which must be at version 1).
fn create(record: PartyRecord) -> RecordWrite {
    RecordWrite { record, expected_version: 0 }
}

/// `record` with new data at the next version, replacing the version it was read at.
fn update(read: &PartyRecord, data: &str) -> RecordWrite {
    let mut record = read.clone();
    record.version += 1;
    record.data = data.to_owned();
    record.updated_at = Timestamp(read.updated_at.nanos() + 1_000);
    RecordWrite { record, expected_version: read.version }
}

fn creating(records: Vec<PartyRecord>) -> PartyWrite {
    PartyWrite { records: records.into_iter().map(create).collect(), ..PartyWrite::default() }
}

fn key(namespace: &str, key: &str) -> PartyKey {
    PartyKey::new(namespace, key)
}

fn claim(namespace: &str, k: &str, owner: &str) -> (PartyKey, String) {
    (key(namespace, k), owner.to_owned())
}

fn lookup(name: &str, key: &str, record_id: &str) -> (String, String, String) {
    (name.to_owned(), key.to_owned(), record_id.to_owned())
}

fn change(record_id: &str, customer_id: &str, action: &str, at: i64) -> PartyChange {
    PartyChange {
        seq: 0,
        record_id: record_id.to_owned(),
        customer_id: customer_id.to_owned(),
        action: action.to_owned(),
        actor: "client:cli_1".to_owned(),
        reason: None,
        detail: "{}".to_owned(),
        at: Timestamp(at),
    }
}

fn changes_of(record_id: Option<&str>, customer_id: Option<&str>, after_seq: i64, limit: u32) -> ChangeQuery {
    ChangeQuery {
        record_id: record_id.map(str::to_owned),
        customer_id: customer_id.map(str::to_owned),
        after_seq,
        limit,
    }
}

fn ids(records: &[PartyRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

async fn write(store: &Store, write: PartyWrite) -> Result<(), PartyConflict> {
    store.party_write(&write).await.expect("the party write runs")
}

async fn read_one(store: &Store, id: &str) -> Option<PartyRecord> {
    store.party_records(&[id.to_owned()]).await.unwrap().pop()
}

fn platform() -> Account {
    ledger::new_platform("member_wallet")
}

fn wallet() -> Account {
    ledger::new_wallet("member_wallet")
}

fn post(debit: AccountId, credit: AccountId, amount: i64) -> TransferRequest {
    ledger::request(new_transfer_id(), ledger::post_action(debit, credit, amount), "pay")
}

async fn commit_one(store: &Store, request: TransferRequest) -> Result<Transfer, TransferError> {
    store.commit_batch(vec![request], now()).await.unwrap().pop().unwrap()
}

fn flags(account_id: AccountId, flags: AccountFlags, closing: bool) -> PartyWrite {
    PartyWrite { ledger_flags: vec![LedgerFlagsWrite { account_id, flags, closing }], ..PartyWrite::default() }
}

/// A write that touches every part of the store besides its records: what a refused write must leave
/// untouched.
fn with_everything_else(mut w: PartyWrite, tag: &str) -> (PartyWrite, Account) {
    let account = wallet();
    w.claim_keys.push(claim("identity", &format!("phone:{tag}"), "cus_new"));
    w.add_index.push(lookup(MEMBERS_OF_CUSTOMER, "cus_new", "mem_new"));
    w.changes.push(change("cus_new", "cus_new", "customer.registered", 5));
    w.ledger_accounts.push(account.clone());
    (w, account)
}

async fn assert_nothing_else_written(store: &Store, tag: &str, account: &Account) {
    assert_eq!(store.party_key_owner(&key("identity", &format!("phone:{tag}"))).await.unwrap(), None);
    assert!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_new", 10).await.unwrap().is_empty());
    assert!(store.party_changes(&changes_of(Some("cus_new"), None, 0, 10)).await.unwrap().is_empty());
    assert_eq!(store.get_account(account.id).await.unwrap(), None);
}

on_both_backends!(a_record_is_created_read_back_and_updated_keeping_its_creation_time, |db| {
    let store = &db.store;
    write(store, creating(vec![customer("cus_1"), member("mem_1", "cus_1")])).await.unwrap();

    let mut read =
        store.party_records(&["mem_1".to_owned(), "cus_1".to_owned(), "cus_missing".to_owned()]).await.unwrap();
    read.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read, vec![customer("cus_1"), member("mem_1", "cus_1")], "the missing id is left out");
    assert!(store.party_records(&[]).await.unwrap().is_empty());

    let mut changed = update(&read[0], r#"{"status":"frozen","note":"中文 ok"}"#);
    changed.record.created_at = Timestamp(999_999);
    write(store, PartyWrite { records: vec![changed.clone()], ..PartyWrite::default() }).await.unwrap();
    let after = read_one(store, "cus_1").await.unwrap();
    assert_eq!(after.version, 2);
    assert_eq!(after.data, r#"{"status":"frozen","note":"中文 ok"}"#, "the document comes back as written");
    assert_eq!(after.updated_at, changed.record.updated_at);
    assert_eq!(after.created_at, Timestamp(1_000), "an update keeps the stored creation time");

    // A merge moves a record to another customer: the update writes its new customer.
    let mut moved = update(&read_one(store, "mem_1").await.unwrap(), "{}");
    moved.record.customer_id = "cus_2".to_owned();
    write(store, PartyWrite { records: vec![moved], ..PartyWrite::default() }).await.unwrap();
    assert_eq!(read_one(store, "mem_1").await.unwrap().customer_id, "cus_2");
});

on_both_backends!(an_update_at_a_stale_version_is_refused_and_nothing_of_the_write_is_applied, |db| {
    let store = &db.store;
    write(store, creating(vec![customer("cus_1")])).await.unwrap();
    let v1 = read_one(store, "cus_1").await.unwrap();
    write(store, PartyWrite { records: vec![update(&v1, r#"{"v":2}"#)], ..PartyWrite::default() }).await.unwrap();

    // Another use case read version 1 and decided on it; its write must not land.
    let stale = PartyWrite {
        records: vec![create(member("mem_9", "cus_1")), update(&v1, r#"{"v":"stale"}"#)],
        ..PartyWrite::default()
    };
    let (stale, account) = with_everything_else(stale, "stale");
    assert_eq!(write(store, stale).await, Err(PartyConflict::RecordChanged { id: "cus_1".to_owned() }));
    let stored = read_one(store, "cus_1").await.unwrap();
    assert_eq!((stored.version, stored.data.as_str()), (2, r#"{"v":2}"#));
    assert_eq!(read_one(store, "mem_9").await, None, "a record created earlier in the refused write is gone");
    assert_nothing_else_written(store, "stale", &account).await;

    // Updating a record that was never created is refused the same way.
    let ghost = update(&customer("cus_ghost"), "{}");
    assert_eq!(
        write(store, PartyWrite { records: vec![ghost], ..PartyWrite::default() }).await,
        Err(PartyConflict::RecordChanged { id: "cus_ghost".to_owned() })
    );
    assert_eq!(read_one(store, "cus_ghost").await, None);
});

on_both_backends!(creating_a_record_that_exists_is_refused_and_nothing_of_the_write_is_applied, |db| {
    let store = &db.store;
    write(store, creating(vec![customer("cus_1")])).await.unwrap();
    let again = PartyWrite {
        records: vec![create(member("mem_1", "cus_1")), create(record("cus_1", "customer", "cus_1", 1, r#"{"x":1}"#))],
        ..PartyWrite::default()
    };
    let (again, account) = with_everything_else(again, "again");
    assert_eq!(write(store, again).await, Err(PartyConflict::RecordChanged { id: "cus_1".to_owned() }));
    assert_eq!(read_one(store, "cus_1").await.unwrap(), customer("cus_1"), "the stored record is unchanged");
    assert_eq!(read_one(store, "mem_1").await, None);
    assert_nothing_else_written(store, "again", &account).await;
});

on_both_backends!(a_record_whose_version_is_not_one_past_the_version_it_was_read_at_is_an_error, |db| {
    let mut wrong = create(customer("cus_1"));
    wrong.record.version = 3;
    let refused = db.store.party_write(&PartyWrite { records: vec![wrong], ..PartyWrite::default() }).await;
    assert!(refused.is_err(), "a caller's fault, not a conflict: {refused:?}");
    assert_eq!(read_one(&db.store, "cus_1").await, None);
});

on_both_backends!(a_key_is_held_by_one_owner_reclaimed_by_it_and_released_only_by_it, |db| {
    let store = &db.store;
    let phone = key("identity", "phone:+8613800000000");
    let mut first = creating(vec![customer("cus_1")]);
    first.claim_keys.push((phone.clone(), "cus_1".to_owned()));
    write(store, first).await.unwrap();
    assert_eq!(store.party_key_owner(&phone).await.unwrap().as_deref(), Some("cus_1"));
    assert_eq!(store.party_key_owner(&key("identity", "phone:other")).await.unwrap(), None);
    assert_eq!(store.party_key_owner(&key("certificate", &phone.key)).await.unwrap(), None, "namespaces differ");

    // The same owner claiming again is no conflict.
    write(store, PartyWrite { claim_keys: vec![(phone.clone(), "cus_1".to_owned())], ..PartyWrite::default() })
        .await
        .unwrap();

    // Another owner is refused with the holder's name, and its record is not created.
    let mut second = creating(vec![customer("cus_2")]);
    second.claim_keys.push(claim("identity", "phone:free", "cus_2"));
    second.claim_keys.push((phone.clone(), "cus_2".to_owned()));
    assert_eq!(
        write(store, second).await,
        Err(PartyConflict::KeyTaken { key: phone.clone(), owner: "cus_1".to_owned() })
    );
    assert_eq!(read_one(store, "cus_2").await, None);
    assert_eq!(store.party_key_owner(&key("identity", "phone:free")).await.unwrap(), None);

    // Only the holder's release gives the key up.
    write(store, PartyWrite { release_keys: vec![(phone.clone(), "cus_2".to_owned())], ..PartyWrite::default() })
        .await
        .unwrap();
    assert_eq!(store.party_key_owner(&phone).await.unwrap().as_deref(), Some("cus_1"));
    write(store, PartyWrite { release_keys: vec![(phone.clone(), "cus_1".to_owned())], ..PartyWrite::default() })
        .await
        .unwrap();
    assert_eq!(store.party_key_owner(&phone).await.unwrap(), None);

    // One write may move a key: releases come before claims.
    write(store, PartyWrite { claim_keys: vec![(phone.clone(), "cus_2".to_owned())], ..PartyWrite::default() })
        .await
        .unwrap();
    let moved = PartyWrite {
        release_keys: vec![(phone.clone(), "cus_2".to_owned())],
        claim_keys: vec![(phone.clone(), "cus_3".to_owned())],
        ..PartyWrite::default()
    };
    write(store, moved).await.unwrap();
    assert_eq!(store.party_key_owner(&phone).await.unwrap().as_deref(), Some("cus_3"));
});

on_both_backends!(lookups_are_added_once_removed_and_listed_in_id_order_up_to_a_limit, |db| {
    let store = &db.store;
    let added = PartyWrite {
        add_index: vec![
            lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_3"),
            lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_1"),
            lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_2"),
            lookup(MEMBERS_OF_CUSTOMER, "cus_2", "mem_9"),
            lookup("customers_by_name", "cus_1", "cus_1"),
        ],
        ..PartyWrite::default()
    };
    write(store, added).await.unwrap();
    // Adding what is there already is harmless, within a write and across writes.
    let again = PartyWrite {
        add_index: vec![lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_1"), lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_1")],
        ..PartyWrite::default()
    };
    write(store, again).await.unwrap();

    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_1", 10).await.unwrap(), ["mem_1", "mem_2", "mem_3"]);
    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_1", 2).await.unwrap(), ["mem_1", "mem_2"]);
    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_2", 10).await.unwrap(), ["mem_9"]);
    assert_eq!(store.party_index("customers_by_name", "cus_1", 10).await.unwrap(), ["cus_1"]);
    assert!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_3", 10).await.unwrap().is_empty());

    let removed = PartyWrite {
        remove_index: vec![
            lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_2"),
            lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_8"),
        ],
        ..PartyWrite::default()
    };
    write(store, removed).await.unwrap();
    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_1", 10).await.unwrap(), ["mem_1", "mem_3"]);

    // Moving a member between customers in one write: removal comes before the addition.
    let moved = PartyWrite {
        remove_index: vec![lookup(MEMBERS_OF_CUSTOMER, "cus_1", "mem_3")],
        add_index: vec![lookup(MEMBERS_OF_CUSTOMER, "cus_2", "mem_3")],
        ..PartyWrite::default()
    };
    write(store, moved).await.unwrap();
    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_1", 10).await.unwrap(), ["mem_1"]);
    assert_eq!(store.party_index(MEMBERS_OF_CUSTOMER, "cus_2", 10).await.unwrap(), ["mem_3", "mem_9"]);
});

on_both_backends!(a_customers_records_are_listed_in_id_order_of_one_kind_or_all, |db| {
    let store = &db.store;
    let records = vec![
        member("mem_b", "cus_1"),
        customer("cus_1"),
        record("acc_x", "member_account", "cus_1", 1, "{}"),
        member("mem_a", "cus_1"),
        customer("cus_2"),
        member("mem_c", "cus_2"),
    ];
    write(store, creating(records)).await.unwrap();

    let all = store.party_records_of_customer("cus_1", None).await.unwrap();
    assert_eq!(ids(&all), ["acc_x", "cus_1", "mem_a", "mem_b"]);
    let members = store.party_records_of_customer("cus_1", Some("member")).await.unwrap();
    assert_eq!(ids(&members), ["mem_a", "mem_b"]);
    assert_eq!(members[0], member("mem_a", "cus_1"));
    assert_eq!(ids(&store.party_records_of_customer("cus_2", Some("member")).await.unwrap()), ["mem_c"]);
    assert!(store.party_records_of_customer("cus_1", Some("operator")).await.unwrap().is_empty());
    assert!(store.party_records_of_customer("cus_3", None).await.unwrap().is_empty());
});

on_both_backends!(records_of_a_kind_are_listed_page_by_page_in_byte_order_of_their_ids, |db| {
    let store = &db.store;
    // Byte order puts upper case before the underscore and lower case: the same on both backends,
    // whatever PostgreSQL's locale would say.
    let members = ["mem_b", "mem_A", "mem_a", "mem_B", "mem__"];
    let mut records: Vec<PartyRecord> = members.iter().map(|id| member(id, "cus_1")).collect();
    records.push(customer("cus_1"));
    write(store, creating(records)).await.unwrap();

    let first = store.party_list("member", None, 2).await.unwrap();
    assert_eq!(ids(&first), ["mem_A", "mem_B"]);
    let second = store.party_list("member", Some("mem_B"), 2).await.unwrap();
    assert_eq!(ids(&second), ["mem__", "mem_a"]);
    let third = store.party_list("member", Some("mem_a"), 2).await.unwrap();
    assert_eq!(ids(&third), ["mem_b"]);
    assert!(store.party_list("member", Some("mem_b"), 2).await.unwrap().is_empty());
    assert_eq!(ids(&store.party_list("customer", None, 10).await.unwrap()), ["cus_1"]);
    assert!(store.party_list("operator", None, 10).await.unwrap().is_empty());
});

on_both_backends!(changes_are_appended_in_order_and_read_by_record_or_customer_after_a_cursor, |db| {
    let store = &db.store;
    let mut registered = change("cus_1", "cus_1", "customer.registered", 10);
    registered.detail = r#"{"name":"张三"}"#.to_owned();
    let activated = change("mem_1", "cus_1", "member.activated", 11);
    let mut frozen = change("cus_1", "cus_1", "customer.status_changed", 12);
    frozen.reason = Some("court order".to_owned());
    frozen.actor = "staff:alice".to_owned();
    let other = change("cus_2", "cus_2", "customer.registered", 13);
    write(store, PartyWrite { changes: vec![registered.clone(), activated.clone()], ..PartyWrite::default() })
        .await
        .unwrap();
    write(store, PartyWrite { changes: vec![frozen.clone()], ..PartyWrite::default() }).await.unwrap();
    write(store, PartyWrite { changes: vec![other.clone()], ..PartyWrite::default() }).await.unwrap();

    let all = store.party_changes(&changes_of(None, None, 0, 100)).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["customer.registered", "member.activated", "customer.status_changed", "customer.registered"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "seqs increase: {all:?}");
    assert!(all[0].seq > 0);
    // Everything but the seq comes back as written.
    for (stored, written) in all.iter().zip([&registered, &activated, &frozen, &other]) {
        assert_eq!(PartyChange { seq: 0, ..stored.clone() }, *written);
    }

    let of_record = store.party_changes(&changes_of(Some("cus_1"), None, 0, 100)).await.unwrap();
    assert_eq!(of_record, [all[0].clone(), all[2].clone()]);
    let of_customer = store.party_changes(&changes_of(None, Some("cus_1"), 0, 100)).await.unwrap();
    assert_eq!(of_customer, all[..3]);
    let page = store.party_changes(&changes_of(None, Some("cus_1"), all[0].seq, 1)).await.unwrap();
    assert_eq!(page, [all[1].clone()]);
    let rest = store.party_changes(&changes_of(None, Some("cus_1"), all[1].seq, 100)).await.unwrap();
    assert_eq!(rest, [all[2].clone()]);
    let both = store.party_changes(&changes_of(Some("mem_1"), Some("cus_1"), 0, 100)).await.unwrap();
    assert_eq!(both, [all[1].clone()]);
    assert!(store.party_changes(&changes_of(Some("mem_1"), Some("cus_2"), 0, 100)).await.unwrap().is_empty());
    assert_eq!(store.party_changes(&changes_of(None, None, all[1].seq, 100)).await.unwrap(), all[2..]);
});

on_both_backends!(a_ledger_account_opened_in_a_party_write_is_read_and_moves_money, |db| {
    let store = &db.store;
    let (bank, purse) = (platform(), wallet());
    let mut open = creating(vec![record("acc_1", "member_account", "cus_1", 1, "{}")]);
    open.ledger_accounts = vec![bank.clone(), purse.clone()];
    write(store, open).await.unwrap();

    assert_eq!(store.get_account(purse.id).await.unwrap(), Some(purse.clone()));
    assert_eq!(store.get_account(bank.id).await.unwrap(), Some(bank.clone()));
    let funded = commit_one(store, post(bank.id, purse.id, 100)).await.unwrap();
    assert_eq!(funded.credit_account_after.credits_posted, 100);
    let spent = commit_one(store, post(purse.id, bank.id, 30)).await.unwrap();
    assert_eq!(spent.debit_account_after.debits_posted, 30);
    assert_eq!(store.get_account(purse.id).await.unwrap().unwrap().balance(), 70);
    assert!(store.verify().await.unwrap().problems.is_empty());
});

on_both_backends!(flags_set_by_a_party_write_bind_the_next_batch_even_when_the_writer_had_the_account_cached, |db| {
    let store = &db.store;
    let (bank, purse) = (platform(), wallet());
    store.create_accounts(&[bank.clone(), purse.clone()]).await.unwrap();
    // A first batch puts both accounts into the SQLite writer's cache.
    commit_one(store, post(bank.id, purse.id, 100)).await.unwrap();

    let blocked = AccountFlags { debits_blocked: true, ..AccountFlags::default() };
    write(store, flags(purse.id, blocked, false)).await.unwrap();
    assert_eq!(store.get_account(purse.id).await.unwrap().unwrap().flags, blocked);
    assert_eq!(commit_one(store, post(purse.id, bank.id, 10)).await.unwrap_err(), TransferError::DebitsBlocked);
    commit_one(store, post(bank.id, purse.id, 5)).await.expect("credits are still allowed");

    write(store, flags(purse.id, AccountFlags::default(), false)).await.unwrap();
    commit_one(store, post(purse.id, bank.id, 10)).await.expect("debits allowed again");
    assert_eq!(store.get_account(purse.id).await.unwrap().unwrap().balance(), 95);
});

on_both_backends!(an_account_with_money_may_not_close_and_one_at_zero_may, |db| {
    let store = &db.store;
    let (bank, purse) = (platform(), wallet());
    store.create_accounts(&[bank.clone(), purse.clone()]).await.unwrap();
    commit_one(store, post(bank.id, purse.id, 100)).await.unwrap();
    let closed = AccountFlags { closed: true, ..AccountFlags::default() };

    let mut close = flags(purse.id, closed, true);
    close.records.push(create(record("acc_1", "member_account", "cus_1", 1, r#"{"status":"closed"}"#)));
    assert_eq!(
        write(store, close.clone()).await,
        Err(PartyConflict::LedgerAccountNotClosable { id: purse.id, why: AccountCloseError::NotEmpty })
    );
    assert_eq!(read_one(store, "acc_1").await, None, "the refused write's record is not written");
    assert_eq!(store.get_account(purse.id).await.unwrap().unwrap().flags, AccountFlags::default());

    commit_one(store, post(purse.id, bank.id, 100)).await.unwrap();
    write(store, close.clone()).await.unwrap();
    assert_eq!(store.get_account(purse.id).await.unwrap().unwrap().flags, closed);
    assert_eq!(read_one(store, "acc_1").await.unwrap().data, r#"{"status":"closed"}"#);
    assert_eq!(commit_one(store, post(bank.id, purse.id, 1)).await.unwrap_err(), TransferError::AccountClosed);

    assert_eq!(
        write(store, flags(purse.id, closed, true)).await,
        Err(PartyConflict::LedgerAccountNotClosable { id: purse.id, why: AccountCloseError::AlreadyClosed })
    );
});

on_both_backends!(flags_for_a_missing_ledger_account_refuse_the_write, |db| {
    let store = &db.store;
    let missing = new_account_id();
    let (w, account) = with_everything_else(creating(vec![customer("cus_1")]), "missing");
    let mut w = w;
    w.ledger_flags.push(LedgerFlagsWrite { account_id: missing, flags: AccountFlags::default(), closing: false });
    assert_eq!(write(store, w).await, Err(PartyConflict::LedgerAccountMissing { id: missing }));
    assert_eq!(read_one(store, "cus_1").await, None);
    assert_nothing_else_written(store, "missing", &account).await;
});

on_both_backends!(two_stores_claiming_one_key_at_once_give_it_to_exactly_one, |db| {
    let other = db.open_another().await;
    for round in 0..10 {
        let phone = key("identity", &format!("phone:+86138{round:08}"));
        let claiming = |customer_id: String| {
            let mut w = creating(vec![customer(&customer_id)]);
            w.claim_keys.push((phone.clone(), customer_id.clone()));
            w.changes.push(change(&customer_id, &customer_id, "customer.registered", round));
            w
        };
        let (a, b) = (format!("cus_{round}_a"), format!("cus_{round}_b"));
        let (wa, wb) = (claiming(a.clone()), claiming(b.clone()));
        let (ra, rb) = tokio::join!(db.store.party_write(&wa), other.party_write(&wb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let (winner, loser, refusal) = match (&ra, &rb) {
            (Ok(()), Err(refusal)) => (&a, &b, refusal),
            (Err(refusal), Ok(())) => (&b, &a, refusal),
            _ => panic!("round {round}: exactly one claim must win, got {ra:?} and {rb:?}"),
        };
        assert_eq!(*refusal, PartyConflict::KeyTaken { key: phone.clone(), owner: winner.clone() });
        assert_eq!(db.store.party_key_owner(&phone).await.unwrap().as_ref(), Some(winner));
        assert_eq!(read_one(&other, loser).await, None, "round {round}: the loser's record is not written");
        assert!(read_one(&other, winner).await.is_some());
        assert!(db.store.party_changes(&changes_of(Some(loser), None, 0, 10)).await.unwrap().is_empty());
    }
});

fn adding(key: &str, amount: i64, limit: Option<i64>) -> PartyWrite {
    PartyWrite { counters: vec![CounterAdd { key: key.to_owned(), amount, limit }], ..PartyWrite::default() }
}

on_both_backends!(a_counter_moves_in_a_write_within_its_limit_and_one_past_it_refuses_the_whole_write, |db| {
    let store = &db.store;
    assert_eq!(store.party_counter("receipts:day").await.unwrap(), 0, "a counter never moved is zero");
    write(store, adding("receipts:day", 300, Some(500))).await.unwrap();
    write(store, adding("receipts:day", 200, Some(500))).await.unwrap();
    assert_eq!(store.party_counter("receipts:day").await.unwrap(), 500);
    // One past the limit: nothing of the write stays, the counter neither.
    let (mut over, account) = with_everything_else(adding("receipts:day", 1, Some(500)), "counter");
    over.counters.push(CounterAdd { key: "receipts:month".to_owned(), amount: 1, limit: None });
    assert_eq!(write(store, over).await, Err(PartyConflict::CounterOverLimit { key: "receipts:day".to_owned() }));
    assert_nothing_else_written(store, "counter", &account).await;
    assert_eq!(store.party_counter("receipts:month").await.unwrap(), 0);
    // A first addition past its limit is refused too; a giving back has no limit.
    let refused = write(store, adding("receipts:other", 600, Some(500))).await;
    assert_eq!(refused, Err(PartyConflict::CounterOverLimit { key: "receipts:other".to_owned() }));
    write(store, adding("receipts:day", -200, None)).await.unwrap();
    assert_eq!(store.party_counter("receipts:day").await.unwrap(), 300);
});

on_both_backends!(two_stores_adding_to_one_counter_at_once_count_both_and_never_pass_its_limit, |db| {
    let other = db.open_another().await;
    // Each round: two additions of 60 under a limit of 100 at once: exactly one fits.
    for round in 0..10 {
        let counter = format!("receipts:{round}");
        let (wa, wb) = (adding(&counter, 60, Some(100)), adding(&counter, 60, Some(100)));
        let (ra, rb) = tokio::join!(db.store.party_write(&wa), other.party_write(&wb));
        let results = [ra.unwrap(), rb.unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert_eq!(db.store.party_counter(&counter).await.unwrap(), 60);
    }
    // Without a limit, twenty additions at once all count.
    let adds: Vec<PartyWrite> = (0..20).map(|_| adding("receipts:all", 7, None)).collect();
    let results = futures_util::future::join_all(adds.iter().enumerate().map(|(i, w)| {
        if i % 2 == 0 {
            db.store.party_write(w)
        } else {
            other.party_write(w)
        }
    }))
    .await;
    assert!(results.into_iter().all(|r| r.unwrap().is_ok()));
    assert_eq!(other.party_counter("receipts:all").await.unwrap(), 140);
});

on_both_backends!(migrating_again_keeps_the_party_tables_and_their_rows, |db| {
    let mut first = creating(vec![customer("cus_1")]);
    first.claim_keys.push(claim("identity", "phone:1", "cus_1"));
    first.changes.push(change("cus_1", "cus_1", "customer.registered", 1));
    write(&db.store, first).await.unwrap();
    db.store.migrate().await.unwrap();
    let other = db.open_another().await;
    other.migrate().await.unwrap();
    assert_eq!(read_one(&other, "cus_1").await, Some(customer("cus_1")));
    assert_eq!(other.party_key_owner(&key("identity", "phone:1")).await.unwrap().as_deref(), Some("cus_1"));
    let changes = other.party_changes(&changes_of(Some("cus_1"), None, 0, 10)).await.unwrap();
    assert_eq!(changes.len(), 1);
    let mut next =
        PartyWrite { changes: vec![change("cus_1", "cus_1", "customer.renamed", 2)], ..PartyWrite::default() };
    next.records.push(update(&customer("cus_1"), "{}"));
    write(&other, next).await.unwrap();
    let changes = db.store.party_changes(&changes_of(Some("cus_1"), None, 0, 10)).await.unwrap();
    assert!(changes[1].seq > changes[0].seq, "seqs keep increasing after a second migration: {changes:?}");
});
