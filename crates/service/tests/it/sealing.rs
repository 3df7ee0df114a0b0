//! Certificate numbers at rest, on both backends: a customer's certificate and the numbers in company
//! details are kept sealed under the data key and found by their keyed hash, never in the clear in
//! records, unique keys or history; a database written before sealing is sealed by the sealing pass
//! (records, keys, authentication subjects, history, and on SQLite the file's freed space); a new
//! data key seals everything again while the retired one still reads; another server secret is
//! refused.

use sanhu_core::id::{CustomerId, MemberId};
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::enterprise::{CompanyDetails, CompanyDetailsParts};
use sanhu_core::party::{
    AuthenticationSubject, Certificate, CertificateType, CustomerScope, Email, LoginIdentity, PartyKind, PhoneNumber,
    RealName,
};
use sanhu_service::party::{
    AuthenticationResult, CustomerSearch, DataKeys, EnterpriseRegistration, Parties, PartyConfig, PartySecret,
    Registration,
};
use sanhu_store::party::{ChangeQuery, PartyKey, PartyRecord, PartyStore, PartyWrite, RecordWrite};
use sanhu_store::Store;
use sanhu_testkit::ids::{CREDIT_CODE, ID_CARD, OTHER_ID_CARD};
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor};
use sanhu_testkit::TestDatabase;
use serde_json::{json, Value};

fn config(secret: u8, data_keys: DataKeys) -> PartyConfig {
    PartyConfig { secret: PartySecret::from_bytes(&[secret; 32]).unwrap(), data_keys, ..PartyConfig::default() }
}

fn keys(current: u8, retired: &[u8]) -> DataKeys {
    DataKeys::new(&[current; 32], &retired.iter().map(|&b| vec![b; 32]).collect::<Vec<_>>()).unwrap()
}

fn id_card() -> Certificate {
    Certificate::parse(CertificateType::IdCard, ID_CARD).unwrap()
}

fn credit_code() -> Certificate {
    Certificate::parse(CertificateType::UnifiedSocialCreditCode, CREDIT_CODE).unwrap()
}

/// A person authenticated with an ID card, and an enterprise with company details whose business
/// licence is verified: every place a certificate number reaches.
struct Parties3 {
    person: MemberId,
    person_customer: CustomerId,
    enterprise: MemberId,
    enterprise_customer: CustomerId,
}

async fn populate(parties: &Parties) -> Parties3 {
    let registration = Registration {
        kind: PartyKind::Personal,
        scope: CustomerScope::External,
        identity: LoginIdentity::Phone(PhoneNumber::parse("13900000001").unwrap()),
    };
    let person = parties.register_member(&registration, &actor()).await.unwrap().member.member.id();
    let channel = AuthenticationChannel::parse("police_id_check").unwrap();
    let subject = AuthenticationSubject::id_card(RealName::person("张三").unwrap(), id_card()).unwrap();
    let outcome = parties.authenticate(person, &subject, &channel, AuthenticationResult::Verified, &actor()).await;
    let person_customer = outcome.unwrap().customer_id;

    let company = CompanyDetails::new(CompanyDetailsParts {
        legal_person: RealName::person("李四").unwrap(),
        legal_person_certificate: Certificate::parse(CertificateType::IdCard, OTHER_ID_CARD).unwrap(),
        contact: RealName::person("王五").unwrap(),
        ..world::company_parts("某某科技有限公司")
    })
    .unwrap();
    let registration = EnterpriseRegistration {
        scope: CustomerScope::External,
        identity: LoginIdentity::Email(Email::parse("finance@example.com").unwrap()),
        company,
        admin_identity: LoginIdentity::Phone(PhoneNumber::parse("13900000002").unwrap()),
    };
    let enterprise = parties.register_enterprise(&registration, &actor()).await.unwrap().member.member.id();
    let licence =
        AuthenticationSubject::business_licence(RealName::organisation("某某科技有限公司").unwrap(), credit_code())
            .unwrap();
    let registry = AuthenticationChannel::parse("business_registry").unwrap();
    let verified = AuthenticationResult::Verified;
    let outcome = parties.authenticate(enterprise, &licence, &registry, verified, &actor()).await;
    let enterprise_customer = outcome.unwrap().customer_id;
    Parties3 { person, person_customer, enterprise, enterprise_customer }
}

/// Every party record, key owner looked up by number, and history row, as one text.
async fn party_store_text(store: &Store, customers: &[CustomerId]) -> String {
    let mut text = String::new();
    for customer in customers {
        let records = store.party_records_of_customer(&customer.to_string(), None).await.unwrap();
        text.push_str(&format!("{records:?}\n"));
    }
    let changes = store
        .party_changes(&ChangeQuery { record_id: None, customer_id: None, after_seq: 0, limit: 10_000 })
        .await
        .unwrap();
    text.push_str(&format!("{changes:?}\n"));
    text
}

fn assert_holds_no_number(text: &str, what: &str) {
    for number in [ID_CARD, OTHER_ID_CARD, CREDIT_CODE] {
        assert!(!text.contains(number), "{what} holds {number}:\n{text}");
    }
}

async fn record(store: &Store, id: &str) -> PartyRecord {
    store.party_records(&[id.to_owned()]).await.unwrap().pop().unwrap_or_else(|| panic!("no record {id}"))
}

/// Rewrites a stored record's JSON as `change` says, behind the service's back.
async fn rewrite(store: &Store, id: &str, change: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let stored = record(store, id).await;
    let mut data: Value = serde_json::from_str(&stored.data).unwrap();
    change(data.as_object_mut().unwrap());
    let record = PartyRecord { data: data.to_string(), version: stored.version + 1, ..stored.clone() };
    let write =
        PartyWrite { records: vec![RecordWrite { record, expected_version: stored.version }], ..PartyWrite::default() };
    store.party_write(&write).await.unwrap().unwrap();
}

async fn owner(store: &Store, key: &str) -> Option<String> {
    store.party_key_owner(&PartyKey::new("certificate", key)).await.unwrap()
}

/// The SQLite file and its WAL, whole, or nothing on PostgreSQL.
fn sqlite_files(db: &TestDatabase) -> Vec<u8> {
    let Some(path) = db.url.strip_prefix("sqlite://") else { return Vec::new() };
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        bytes.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
    }
    bytes
}

fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

on_both_backends!(certificate_numbers_are_kept_sealed_and_found_by_their_keyed_hash, |db| {
    let secret = PartySecret::from_bytes(&[42; 32]).unwrap();
    let parties = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    let made = populate(&parties).await;

    let stored = party_store_text(&db.store, &[made.person_customer, made.enterprise_customer]).await;
    assert_holds_no_number(&stored, "the party store");
    let customer = record(&db.store, &made.person_customer.to_string()).await;
    assert!(customer.data.contains("\"certificate_sealed\":\"s1."), "{}", customer.data);
    // The unique keys hold the keyed hash, not the number.
    assert_eq!(owner(&db.store, &format!("id_card:{ID_CARD}")).await, None);
    let index = format!("id_card:{}", secret.certificate_index(&id_card()));
    assert_eq!(owner(&db.store, &index).await, Some(made.person_customer.to_string()));
    let licence_index = format!("unified_social_credit_code:{}", secret.certificate_index(&credit_code()));
    assert_eq!(owner(&db.store, &licence_index).await, Some(made.enterprise_customer.to_string()));

    // Read back whole, shown masked.
    let read = parties.get_customer(made.person_customer).await.unwrap();
    assert_eq!(read.customer.certificate(), Some(&id_card()));
    let company = parties.company_details(made.enterprise).await.unwrap().unwrap();
    assert_eq!(company.details.credit_code(), &credit_code());
    assert_eq!(company.details.parts().legal_person_certificate.number(), OTHER_ID_CARD);
    assert_eq!(credit_code().masked(), "911***********CD0B");

    // Found by number, through the index; in lower case too (the number is canonical before hashing).
    for number in [ID_CARD.to_owned(), CREDIT_CODE.to_lowercase()] {
        let found = parties.search_customers(&CustomerSearch::CertificateNumber(number.clone())).await.unwrap();
        assert_eq!(found.len(), 1, "{number}");
    }
    // Still one certificate, one customer: a second member proving the same ID card merges into the first.
    let registration = Registration {
        kind: PartyKind::Personal,
        scope: CustomerScope::External,
        identity: LoginIdentity::Phone(PhoneNumber::parse("13900000009").unwrap()),
    };
    let second = parties.register_member(&registration, &actor()).await.unwrap().member.member.id();
    let subject = AuthenticationSubject::id_card(RealName::person("张三").unwrap(), id_card()).unwrap();
    let channel = AuthenticationChannel::parse("police_id_check").unwrap();
    let outcome = parties.authenticate(second, &subject, &channel, AuthenticationResult::Verified, &actor()).await;
    assert_eq!(outcome.unwrap().merged_into, Some(made.person_customer));

    // Nothing on disk either (SQLite: the database file and its WAL, read as bytes).
    let files = sqlite_files(&db);
    for number in [ID_CARD, OTHER_ID_CARD, CREDIT_CODE] {
        assert!(!bytes_contain(&files, number), "the SQLite files hold {number}");
    }
    // Another data key cannot read what this one sealed.
    let other = Parties::new(db.store.clone(), config(42, keys(2, &[])));
    assert!(other.get_customer(made.person_customer).await.is_err());
    let _ = made.person;
});

on_both_backends!(a_database_written_before_sealing_is_sealed_at_the_next_start, |db| {
    let secret = PartySecret::from_bytes(&[42; 32]).unwrap();
    let parties = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    let made = populate(&parties).await;
    let (person_key, enterprise_key) = (made.person_customer.to_string(), made.enterprise_customer.to_string());

    // Age the database into the form sanhu wrote before sealing: numbers in the clear in records and
    // unique keys, a credit code whole in an authentication's subject and in history.
    rewrite(&db.store, &person_key, |d| {
        d.remove("certificate_sealed");
        d.insert("certificate_number".into(), json!(ID_CARD));
    })
    .await;
    rewrite(&db.store, &enterprise_key, |d| {
        d.remove("certificate_sealed");
        d.insert("certificate_number".into(), json!(CREDIT_CODE));
    })
    .await;
    let company_id = format!("company:{}", made.enterprise);
    rewrite(&db.store, &company_id, |d| {
        d.remove("credit_code_sealed");
        d.remove("legal_person_certificate_sealed");
        d.insert("credit_code".into(), json!(CREDIT_CODE));
        d.insert("legal_person_certificate_number".into(), json!(OTHER_ID_CARD));
    })
    .await;
    let mut clear_keys = PartyWrite::default();
    for (certificate, owner) in [(id_card(), &person_key), (credit_code(), &enterprise_key)] {
        let kind = certificate.certificate_type().as_str();
        let index = format!("{kind}:{}", secret.certificate_index(&certificate));
        clear_keys.release_keys.push((PartyKey::new("certificate", index), owner.clone()));
        clear_keys
            .claim_keys
            .push((PartyKey::new("certificate", format!("{kind}:{}", certificate.number())), owner.clone()));
    }
    db.store.party_write(&clear_keys).await.unwrap().unwrap();
    let licence = parties.member_authentications(made.enterprise).await.unwrap().pop().unwrap();
    rewrite(&db.store, &licence.id().to_string(), |d| {
        d.insert("masked_subject".into(), json!(format!("某某科技有限公司 {CREDIT_CODE}")));
    })
    .await;
    let history = db
        .store
        .party_changes(&ChangeQuery { record_id: None, customer_id: None, after_seq: 0, limit: 10_000 })
        .await
        .unwrap();
    let mut aged = 0;
    for change in &history {
        let mut detail: Value = serde_json::from_str(&change.detail).unwrap();
        let whole = match change.action.as_str() {
            "company.recorded" => Some(("credit_code", json!(CREDIT_CODE))),
            "customer.certificate_assigned" if detail["certificate_type"] == "unified_social_credit_code" => {
                Some(("certificate", json!(CREDIT_CODE)))
            }
            "authentication.requested" if detail["type"] == "business_licence" => {
                Some(("subject", json!(format!("某某科技有限公司 {CREDIT_CODE}"))))
            }
            _ => None,
        };
        if let Some((field, value)) = whole {
            detail[field] = value;
            assert!(db.store.party_rewrite_change_detail(change.seq, &detail.to_string()).await.unwrap());
            aged += 1;
        }
    }
    assert_eq!(aged, 3, "{history:?}");
    let before = party_store_text(&db.store, &[made.person_customer, made.enterprise_customer]).await;
    assert!(before.contains(ID_CARD) && before.contains(CREDIT_CODE) && before.contains(OTHER_ID_CARD));
    assert_eq!(owner(&db.store, &format!("id_card:{ID_CARD}")).await, Some(person_key.clone()));

    // Such a database is read as it is...
    let restarted = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    assert_eq!(restarted.get_customer(made.person_customer).await.unwrap().customer.certificate(), Some(&id_card()));
    assert_eq!(
        restarted.company_details(made.enterprise).await.unwrap().unwrap().details.credit_code(),
        &credit_code()
    );

    // ...and the next start seals it.
    let report = restarted.seal_certificates().await.unwrap();
    assert!(!report.up_to_date);
    assert_eq!(
        (report.customers_sealed, report.companies_sealed, report.records_in_clear, report.keys_replaced),
        (2, 1, 3, 2),
        "{report:?}"
    );
    assert_eq!((report.authentications_masked, report.history_masked), (1, 3), "{report:?}");
    assert!(report.freed_space_erased);

    let after = party_store_text(&db.store, &[made.person_customer, made.enterprise_customer]).await;
    assert_holds_no_number(&after, "the party store after sealing");
    assert!(after.contains("911***********CD0B"), "the masked code stays where the whole one was:\n{after}");
    assert_eq!(owner(&db.store, &format!("id_card:{ID_CARD}")).await, None);
    assert_eq!(
        owner(&db.store, &format!("id_card:{}", secret.certificate_index(&id_card()))).await,
        Some(person_key.clone())
    );
    let files = sqlite_files(&db);
    for number in [ID_CARD, OTHER_ID_CARD, CREDIT_CODE] {
        assert!(!bytes_contain(&files, number), "the SQLite files still hold {number} in freed space");
    }
    // Everything reads as before; search and uniqueness go by the index.
    assert_eq!(restarted.get_customer(made.person_customer).await.unwrap().customer.certificate(), Some(&id_card()));
    let company = restarted.company_details(made.enterprise).await.unwrap().unwrap();
    assert_eq!(company.details.parts().legal_person_certificate.number(), OTHER_ID_CARD);
    let found = restarted.search_customers(&CustomerSearch::CertificateNumber(ID_CARD.to_owned())).await.unwrap();
    assert_eq!(found.iter().map(|c| c.customer.id()).collect::<Vec<_>>(), vec![made.person_customer]);
    let masked = restarted.member_authentications(made.enterprise).await.unwrap().pop().unwrap();
    assert_eq!(masked.masked_subject(), "某某科技有限公司 911***********CD0B");

    // A second start reads nothing more.
    let again = restarted.seal_certificates().await.unwrap();
    assert!(again.up_to_date, "{again:?}");
    let _ = made.person;
});

on_both_backends!(a_new_data_key_seals_everything_again_and_the_retired_one_is_then_no_longer_needed, |db| {
    let parties = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    let made = populate(&parties).await;
    assert!(!parties.seal_certificates().await.unwrap().up_to_date, "the first start records the state");
    assert!(parties.seal_certificates().await.unwrap().up_to_date);

    // Key 2 becomes current; key 1 is kept, retired, to read what it sealed until it is sealed again.
    let rotated = Parties::new(db.store.clone(), config(42, keys(2, &[1])));
    let report = rotated.seal_certificates().await.unwrap();
    assert_eq!((report.customers_sealed, report.companies_sealed, report.records_in_clear), (2, 1, 0), "{report:?}");
    assert!(!report.freed_space_erased, "nothing was in the clear");
    let key_two = keys(2, &[]).current_id().to_string();
    let customer = record(&db.store, &made.person_customer.to_string()).await;
    assert!(customer.data.contains(&format!("s1.{key_two}.")), "{}", customer.data);

    // Key 1 may now go.
    let only_two = Parties::new(db.store.clone(), config(42, keys(2, &[])));
    assert!(only_two.seal_certificates().await.unwrap().up_to_date);
    assert_eq!(only_two.get_customer(made.person_customer).await.unwrap().customer.certificate(), Some(&id_card()));
    assert_eq!(only_two.company_details(made.enterprise).await.unwrap().unwrap().details.credit_code(), &credit_code());
    // And key 1 alone no longer reads anything.
    let only_one = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    let error = only_one.get_customer(made.person_customer).await.unwrap_err();
    assert!(error.to_string().contains("not configured"), "{error}");
});

on_both_backends!(a_start_with_another_server_secret_is_refused, |db| {
    let parties = Parties::new(db.store.clone(), config(42, keys(1, &[])));
    let made = populate(&parties).await;
    parties.seal_certificates().await.unwrap();
    let other = Parties::new(db.store.clone(), config(43, keys(1, &[])));
    let refused = other.seal_certificates().await.unwrap_err();
    assert!(format!("{refused:#}").contains("server secret"), "{refused:#}");
    // Under it, the certificate would not be found.
    let found = other.search_customers(&CustomerSearch::CertificateNumber(ID_CARD.to_owned())).await.unwrap();
    assert!(found.is_empty());
    let _ = made;
});
