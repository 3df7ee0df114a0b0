use super::*;

fn terms() -> CardTerms {
    CardTerms {
        kind: CardKind::StoredValue,
        face_value: 500_000,
        sale_price: 450_000,
        validity: Validity::DaysFromActivation(365),
        rechargeable: true,
        default_rate_bp: 9_000,
        line_rates: vec![LineRate { line: "coffee".into(), rate_bp: 7_000 }],
        uses: 0,
        transferable: false,
        on_expiry: ExpiryPolicy::Keep,
    }
}

#[test]
fn terms_are_checked() {
    assert!(terms().check().is_ok());
    assert_eq!(CardTerms { sale_price: 500_001, ..terms() }.check(), Err(CardError::PriceInvalid));
    assert_eq!(CardTerms { face_value: 0, sale_price: 0, ..terms() }.check(), Err(CardError::PriceInvalid));
    assert_eq!(
        CardTerms { kind: CardKind::Discount, rechargeable: false, ..terms() }.check(),
        Err(CardError::PriceInvalid),
        "a discount card holds no face value"
    );
    assert_eq!(
        CardTerms { kind: CardKind::Discount, face_value: 0, ..terms() }.check(),
        Err(CardError::NotStoredValue),
        "only a stored-value card is recharged"
    );
    assert_eq!(CardTerms { default_rate_bp: 0, ..terms() }.check(), Err(CardError::DiscountInvalid));
    assert_eq!(CardTerms { default_rate_bp: 10_001, ..terms() }.check(), Err(CardError::DiscountInvalid));
    let twice = vec![LineRate { line: "tea".into(), rate_bp: 8_000 }, LineRate { line: "tea".into(), rate_bp: 9_000 }];
    assert_eq!(CardTerms { line_rates: twice, ..terms() }.check(), Err(CardError::DiscountInvalid));
    assert_eq!(
        CardTerms { validity: Validity::DaysFromActivation(0), ..terms() }.check(),
        Err(CardError::ValidityInvalid)
    );
    let t = Timestamp::from_nanos(1_000);
    assert_eq!(
        CardTerms { validity: Validity::Fixed { from: t, until: t }, ..terms() }.check(),
        Err(CardError::ValidityInvalid)
    );
    assert_eq!(CardTerms { uses: 3, ..terms() }.check(), Err(CardError::CountInvalid));
    let count = CardTerms { kind: CardKind::Count, face_value: 0, rechargeable: false, uses: 10, ..terms() };
    assert!(count.check().is_ok());
}

#[test]
fn the_rate_of_a_line_is_its_own_else_the_default() {
    assert_eq!(terms().rate_for(Some("coffee")), 7_000);
    assert_eq!(terms().rate_for(Some("bakery")), 9_000);
    assert_eq!(terms().rate_for(None), 9_000);
}

#[test]
fn a_discounted_amount_is_rounded_half_up_to_the_minor_unit() {
    assert_eq!(discounted(10_000, 8_000), Some((8_000, 2_000)));
    // 12.35 × 70% = 8.645 → 8.65 (half up), the discount 3.70.
    assert_eq!(discounted(1_235, 7_000), Some((865, 370)));
    // 12.33 × 70% = 8.631 → 8.63.
    assert_eq!(discounted(1_233, 7_000), Some((863, 370)));
    assert_eq!(discounted(1, 10_000), Some((1, 0)));
    // Never nothing paid: 0.01 at 10% is 0.001, paid as 0.01.
    assert_eq!(discounted(1, 1_000), Some((1, 0)));
    assert_eq!(discounted(0, 8_000), None);
    assert_eq!(discounted(i64::MAX, 10_000), Some((i64::MAX, 0)));
}

#[test]
fn a_segments_numbers_carry_a_luhn_check_digit_and_overlaps_are_seen() {
    let segment = Segment { prefix: "8601".into(), serial_digits: 8, first: 0, last: 999 }.check().unwrap();
    let number = segment.number(42);
    assert_eq!(&number[..12], "860100000042");
    assert_eq!(number.len(), 13);
    assert!(luhn_valid(&number));
    assert!(check_number(&number).is_ok());
    assert_eq!(segment.size(), 1000);
    let next = Segment { first: 1000, last: 1999, ..segment.clone() };
    assert!(!segment.overlaps(&next));
    assert!(segment.overlaps(&Segment { first: 999, last: 1999, ..segment.clone() }));
    assert!(segment.overlaps(&Segment { prefix: "860".into(), serial_digits: 9, first: 0, last: 10 }));
    assert!(!segment.overlaps(&Segment { prefix: "8602".into(), ..segment.clone() }));
    assert_eq!(Segment { prefix: "8".into(), ..segment.clone() }.check(), Err(CardError::SegmentInvalid));
    assert_eq!(Segment { first: 10, last: 9, ..segment.clone() }.check(), Err(CardError::SegmentInvalid));
    assert_eq!(Segment { last: 100_000_000, ..segment }.check(), Err(CardError::SegmentInvalid));
    let mut wrong = number.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert_eq!(check_number(&wrong), Err(CardError::NumberInvalid));
}

#[test]
fn a_batch_is_approved_by_marketing_and_finance_each_a_different_person_than_its_maker() {
    let at = Timestamp::from_nanos(1);
    let by = |role, who: &str| BatchApproval { role, by: who.into(), at };
    let maker = "staff:mei.lin";
    assert_eq!(approve(&[], maker, by(ApproverRole::Marketing, maker)), Err(CardError::SameApprover));
    let one = approve(&[], maker, by(ApproverRole::Marketing, "staff:zhao.lei")).unwrap();
    assert!(!fully_approved(&one));
    assert_eq!(approve(&one, maker, by(ApproverRole::Marketing, "staff:other")), Err(CardError::AlreadyApprovedByRole));
    assert_eq!(approve(&one, maker, by(ApproverRole::Finance, "staff:zhao.lei")), Err(CardError::SameApprover));
    let both = approve(&one, maker, by(ApproverRole::Finance, "staff:qian.yu")).unwrap();
    assert!(fully_approved(&both));
}

#[test]
fn a_card_moves_money_only_when_active_and_within_its_validity() {
    let china = crate::PlatformCalendar::china();
    let (from, until) = Validity::DaysFromActivation(1).window(Timestamp::from_nanos(0), &china);
    // 1970-01-01 08:00 in Shanghai: valid through 1970-01-02 there, until 16:00 UTC that day.
    assert_eq!(until.nanos(), (86_400 + 16 * 3600) * 1_000_000_000);
    let now = Timestamp::from_nanos(5);
    assert_eq!(check_usable(CardStatus::Active, Some((from, until)), now), Ok(()));
    assert_eq!(check_usable(CardStatus::Frozen, Some((from, until)), now), Err(CardError::NotActive));
    assert_eq!(check_usable(CardStatus::Sold, None, now), Err(CardError::NotActive));
    assert_eq!(check_usable(CardStatus::Active, Some((from, until)), until), Err(CardError::Expired));
    // A lost, expired or dead card says why.
    assert_eq!(check_usable(CardStatus::Lost, Some((from, until)), now), Err(CardError::Lost));
    assert_eq!(check_usable(CardStatus::Expired, Some((from, until)), now), Err(CardError::Expired));
    assert_eq!(check_usable(CardStatus::Reissued, Some((from, until)), now), Err(CardError::Reissued));
    assert_eq!(check_usable(CardStatus::Cancelled, Some((from, until)), now), Err(CardError::Cancelled));
    // A lost or expired card still receives its refunds; a dead one nothing.
    assert_eq!(check_receives(CardStatus::Lost), Ok(()));
    assert_eq!(check_receives(CardStatus::Expired), Ok(()));
    assert_eq!(check_receives(CardStatus::Reissued), Err(CardError::Reissued));
    assert_eq!(check_extension(0), Err(CardError::ExtensionInvalid));
    assert_eq!(ExpiryPolicy::parse("forfeit"), Ok(ExpiryPolicy::Forfeit));
    assert_eq!(ExpiryPolicy::parse("burn"), Err(CardError::ExpiryInvalid));
}

#[test]
fn a_validity_in_days_ends_at_the_end_of_the_platforms_day() {
    let china = crate::PlatformCalendar::china();
    // Activated at 2026-12-07 23:30 in Shanghai (15:30 UTC) for 30 days: valid through 2027-01-06,
    // until 2027-01-06T16:00:00Z; not 30 x 24 hours (2027-01-06T15:30:00Z).
    let at = Timestamp::parse_rfc3339("2026-12-07T15:30:00Z").unwrap();
    let (from, until) = Validity::DaysFromActivation(30).window(at, &china);
    assert_eq!((from, until), (at, Timestamp::parse_rfc3339("2027-01-06T16:00:00Z").unwrap()));
    // Activated a minute after midnight there (16:01 UTC the day before): the same last day as one
    // activated a minute before midnight the day after is not.
    let early = Timestamp::parse_rfc3339("2026-12-07T16:01:00Z").unwrap();
    assert_eq!(
        Validity::DaysFromActivation(1).window(early, &china).1,
        Timestamp::parse_rfc3339("2026-12-09T16:00:00Z").unwrap()
    );
    assert_eq!(days_end(&china, early, 0), Timestamp::parse_rfc3339("2026-12-08T16:00:00Z").unwrap());
}

#[test]
fn codes_round_trip() {
    for kind in [CardKind::StoredValue, CardKind::Discount, CardKind::Count] {
        assert_eq!(CardKind::parse(kind.as_str()), Some(kind));
    }
    for channel in SalesChannel::ALL {
        assert_eq!(SalesChannel::parse(channel.as_str()), Ok(channel));
    }
    for status in CardStatus::ALL {
        assert_eq!(CardStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(CardOwner::parse("platform"), Some(CardOwner::Platform));
    assert!(CardError::ALL.iter().all(|e| e.code().contains("card")));
}
