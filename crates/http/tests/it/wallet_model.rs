//! Model-based test of the wallet over the API: random sequences of wallet operations (recharges,
//! payments, authorisations with captures and releases, refunds, withdrawals with reviews and payout
//! results, freezes with unfreezes and seizures, adjustments, and repeats of earlier requests) are sent
//! to the server and played on a small reference model at the same time. Every answer (status and
//! code) and, after every operation, every member's balance and frozen amount and every merchant's
//! balance must be what the model says; at the end the ledger's verify checks pass. Both backends.
//!
//! The model keeps to wallets of one account (the basic account), free channels without tiers, and
//! withdrawals of at least 1.00 approved at once below 50.00: what it predicts is then plain
//! arithmetic. `SANHU_MODEL_SEED` repeats a run; `SANHU_MODEL_OPERATIONS` sets its length.

use crate::common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::TestApp;
use sanhu_core::wallet::{FeePayer, FeeRule, WithdrawalPolicy};
use sanhu_core::Currency;
use sanhu_service::clock;
use sanhu_service::party::{PartyConfig, PayPasswordHashing};
use sanhu_service::wallet::{Channel, ChannelReview, WalletConfig};
use sanhu_store::on_both_backends;
use serde_json::{json, Value};

const MEMBERS: usize = 3;
const MERCHANTS: usize = 2;
const MINIMUM_WITHDRAWAL: i64 = 100;
const AUTO_APPROVE_BELOW: i64 = 5000;

fn wallet_config() -> WalletConfig {
    let cny = Currency::parse("CNY").unwrap();
    let mut config = WalletConfig::default_for(cny);
    config.channels.push(Channel {
        name: "test".into(),
        review: ChannelReview::NotRequired,
        fee: FeeRule::Free,
        fee_payer: FeePayer::Platform,
        status_url: None,
    });
    config.withdrawal = WithdrawalPolicy::new(cny, MINIMUM_WITHDRAWAL, FeeRule::Free, FeePayer::Member).unwrap();
    config.withdrawal_auto_approve_below = AUTO_APPROVE_BELOW;
    config
}

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn amount(&mut self, max: i64) -> i64 {
        1 + (self.next() % max as u64) as i64
    }
}

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Wallet {
    balance: i64,
    frozen: i64,
}

impl Wallet {
    fn available(&self) -> i64 {
        self.balance - self.frozen
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PaymentState {
    Paid {
        member: usize,
        merchant: usize,
        paid: i64,
        refunded: i64,
    },
    Authorised {
        member: usize,
        merchant: usize,
        held: i64,
    },
    /// Released: releasing it again answers it as it is.
    Released,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum WithdrawalState {
    Reviewing { member: usize, amount: i64 },
    Approved { member: usize, amount: i64 },
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum FreezeState {
    Frozen { member: usize, amount: i64 },
    Ended,
}

/// What sanhu should hold: the reference model.
#[derive(Default)]
struct Model {
    wallets: Vec<Wallet>,
    merchants: Vec<i64>,
    payments: BTreeMap<String, PaymentState>,
    withdrawals: BTreeMap<String, WithdrawalState>,
    freezes: BTreeMap<String, FreezeState>,
    /// The bodies of payments that succeeded, to send again.
    paid_bodies: Vec<Value>,
}

/// The answer the model expects: a status, and the code of a refusal.
#[derive(Debug, PartialEq, Eq)]
struct Expected(u16, &'static str);

const OK: Expected = Expected(200, "");
const CREATED: Expected = Expected(201, "");

fn refused(status: u16, code: &'static str) -> Expected {
    Expected(status, code)
}

struct World {
    app: TestApp,
    members: Vec<(String, String)>,
    cards: Vec<String>,
    merchants: Vec<String>,
}

impl World {
    async fn check(&self, model: &Model, step: &str) {
        for (i, (member, _)) in self.members.iter().enumerate() {
            let wallet = self.app.wallet(member).await;
            let actual =
                Wallet { balance: wallet["balance"].as_i64().unwrap(), frozen: wallet["frozen"].as_i64().unwrap() };
            assert_eq!(actual, model.wallets[i], "member {i} after {step}");
        }
        for (i, merchant) in self.merchants.iter().enumerate() {
            assert_eq!(self.app.balance(merchant).await, model.merchants[i], "merchant {i} after {step}");
        }
    }
}

fn pick<'a, T>(random: &mut Random, map: &'a BTreeMap<String, T>, wanted: impl Fn(&T) -> bool) -> Option<&'a String> {
    let candidates: Vec<&String> = map.iter().filter(|(_, v)| wanted(v)).map(|(k, _)| k).collect();
    (!candidates.is_empty()).then(|| candidates[random.below(candidates.len())])
}

/// Sends one random operation, plays it on the model, and returns what was sent and the expected and
/// actual answers.
async fn step(world: &World, model: &mut Model, random: &mut Random, n: usize) -> (String, Expected, (u16, String)) {
    if random.below(6) == 0 {
        return money_safety_step(world, model, random, n).await;
    }
    let app = &world.app;
    let member = random.below(MEMBERS);
    let (member_id, _) = &world.members[member];
    let number = format!("N-{n}");
    let (description, expected, answer) = match random.below(15) {
        14 => {
            // A payment sent again with its order number: answered as it is, nothing moves twice.
            if model.paid_bodies.is_empty() {
                return (String::from("nothing to repeat"), OK, (200, String::new()));
            }
            let body = model.paid_bodies[random.below(model.paid_bodies.len())].clone();
            (format!("repeat {body}"), CREATED, app.post("/v1/payments", body).await)
        }
        0 | 1 => {
            let amount = random.amount(20_000);
            let body = json!({"order_number": number, "member_id": member_id, "amount": amount, "channel": "test"});
            app.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
            model.wallets[member].balance += amount;
            let answer = app.post(&format!("/v1/recharges/{number}/confirm"), json!({})).await;
            (format!("recharge {amount} to member {member}"), OK, answer)
        }
        2 | 3 => {
            let merchant = random.below(MERCHANTS);
            let amount = random.amount(8000);
            let body = json!({"order_number": number, "member_id": member_id, "amount": amount,
                              "receiver_account_id": world.merchants[merchant]});
            let expected = if model.wallets[member].available() >= amount {
                model.wallets[member].balance -= amount;
                model.merchants[merchant] += amount;
                model
                    .payments
                    .insert(number.clone(), PaymentState::Paid { member, merchant, paid: amount, refunded: 0 });
                CREATED
            } else {
                refused(422, "insufficient_funds")
            };
            (format!("pay {amount} from member {member}"), expected, app.post("/v1/payments", body).await)
        }
        4 => {
            let merchant = random.below(MERCHANTS);
            let amount = random.amount(8000);
            let body = json!({"order_number": number, "member_id": member_id, "amount": amount,
                              "receiver_account_id": world.merchants[merchant], "authorise_timeout_s": 3600});
            let expected = if model.wallets[member].available() >= amount {
                model.wallets[member].frozen += amount;
                model.payments.insert(number.clone(), PaymentState::Authorised { member, merchant, held: amount });
                CREATED
            } else {
                refused(422, "insufficient_funds")
            };
            (format!("authorise {amount} from member {member}"), expected, app.post("/v1/payments", body).await)
        }
        5 => {
            let Some(order) = pick(random, &model.payments, |p| matches!(p, PaymentState::Authorised { .. })).cloned()
            else {
                return (String::from("nothing to capture"), OK, (200, String::new()));
            };
            let PaymentState::Authorised { member, merchant, held } = model.payments[&order].clone() else {
                unreachable!()
            };
            let amount = random.amount(held + 500);
            let expected = if amount <= held {
                model.wallets[member].frozen -= held;
                model.wallets[member].balance -= amount;
                model.merchants[merchant] += amount;
                model
                    .payments
                    .insert(order.clone(), PaymentState::Paid { member, merchant, paid: amount, refunded: 0 });
                OK
            } else {
                refused(422, "capture_exceeds_holds")
            };
            let answer = app.post(&format!("/v1/payments/{order}/capture"), json!({"amount": amount})).await;
            (format!("capture {amount} of {order} (held {held})"), expected, answer)
        }
        6 => {
            let Some(order) = pick(random, &model.payments, |_| true).cloned() else {
                return (String::from("nothing to release"), OK, (200, String::new()));
            };
            let expected = match model.payments[&order].clone() {
                PaymentState::Authorised { member, held, .. } => {
                    model.wallets[member].frozen -= held;
                    model.payments.insert(order.clone(), PaymentState::Released);
                    OK
                }
                PaymentState::Released => OK,
                PaymentState::Paid { .. } => refused(409, "order_state_invalid"),
            };
            (format!("release {order}"), expected, app.post(&format!("/v1/payments/{order}/release"), json!({})).await)
        }
        7 | 8 => {
            let Some(order) = pick(random, &model.payments, |p| matches!(p, PaymentState::Paid { .. })).cloned() else {
                return (String::from("nothing to refund"), OK, (200, String::new()));
            };
            let PaymentState::Paid { member, merchant, paid, refunded } = model.payments[&order].clone() else {
                unreachable!()
            };
            let amount = random.amount(paid);
            let expected = if amount <= paid - refunded {
                model.wallets[member].balance += amount;
                model.merchants[merchant] -= amount;
                model
                    .payments
                    .insert(order.clone(), PaymentState::Paid { member, merchant, paid, refunded: refunded + amount });
                CREATED
            } else {
                refused(422, "refund_exceeds_payment")
            };
            let body = json!({"refund_number": number, "amount": amount});
            let answer = app.post(&format!("/v1/payments/{order}/refunds"), body).await;
            (format!("refund {amount} of {order} (paid {paid}, refunded {refunded})"), expected, answer)
        }
        9 => {
            let amount = random.amount(8000);
            let available = model.wallets[member].available();
            let withdrawable = if available >= MINIMUM_WITHDRAWAL { available } else { 0 };
            let expected = if amount < MINIMUM_WITHDRAWAL {
                refused(422, "below_minimum_withdrawal")
            } else if amount > withdrawable {
                refused(422, "exceeds_withdrawable")
            } else {
                model.wallets[member].frozen += amount;
                let state = if amount < AUTO_APPROVE_BELOW {
                    WithdrawalState::Approved { member, amount }
                } else {
                    WithdrawalState::Reviewing { member, amount }
                };
                model.withdrawals.insert(number.clone(), state);
                CREATED
            };
            let body = json!({"order_number": number, "member_id": member_id, "amount": amount,
                              "bank_card_id": world.cards[member]});
            (format!("withdraw {amount} from member {member}"), expected, app.post("/v1/withdrawals", body).await)
        }
        10 => {
            let Some(order) = pick(random, &model.withdrawals, |w| !matches!(w, WithdrawalState::Ended)).cloned()
            else {
                return (String::from("nothing to decide"), OK, (200, String::new()));
            };
            let approve = random.below(2) == 0;
            let (path, body, expected) = match (model.withdrawals[&order].clone(), approve) {
                (WithdrawalState::Reviewing { member, amount }, true) => {
                    model.withdrawals.insert(order.clone(), WithdrawalState::Approved { member, amount });
                    ("review", json!({"decision": "approve"}), OK)
                }
                (WithdrawalState::Reviewing { member, amount }, false) => {
                    model.wallets[member].frozen -= amount;
                    model.withdrawals.insert(order.clone(), WithdrawalState::Ended);
                    ("review", json!({"decision": "reject"}), OK)
                }
                (WithdrawalState::Approved { member, amount }, succeeded) => {
                    model.wallets[member].frozen -= amount;
                    if succeeded {
                        model.wallets[member].balance -= amount;
                    }
                    model.withdrawals.insert(order.clone(), WithdrawalState::Ended);
                    ("payout", json!({"result": if succeeded { "succeeded" } else { "failed" }}), OK)
                }
                (WithdrawalState::Ended, _) => unreachable!(),
            };
            let answer = app.post(&format!("/v1/withdrawals/{order}/{path}"), body.clone()).await;
            (format!("{path} {order}: {body}"), expected, answer)
        }
        11 => {
            let amount = random.amount(6000);
            let (_, basic) = &world.members[member];
            let expected = if model.wallets[member].available() >= amount {
                model.wallets[member].frozen += amount;
                model.freezes.insert(number.clone(), FreezeState::Frozen { member, amount });
                CREATED
            } else {
                refused(422, "insufficient_funds")
            };
            let body = json!({"freeze_number": number, "account_id": basic, "amount": amount, "reason": "model"});
            (format!("freeze {amount} of member {member}"), expected, app.post("/v1/freezes", body).await)
        }
        12 => {
            let Some(freeze) = pick(random, &model.freezes, |f| matches!(f, FreezeState::Frozen { .. })).cloned()
            else {
                return (String::from("nothing to unfreeze"), OK, (200, String::new()));
            };
            let FreezeState::Frozen { member, amount } = model.freezes[&freeze].clone() else { unreachable!() };
            let seize = random.below(2) == 0;
            model.wallets[member].frozen -= amount;
            if seize {
                model.wallets[member].balance -= amount;
            }
            model.freezes.insert(freeze.clone(), FreezeState::Ended);
            let action = if seize { "seize" } else { "unfreeze" };
            (format!("{action} {freeze}"), OK, app.post(&format!("/v1/freezes/{freeze}/{action}"), json!({})).await)
        }
        _ => {
            let amount = random.amount(5000);
            let credit = random.below(2) == 0;
            let (_, basic) = &world.members[member];
            let expected = if credit {
                model.wallets[member].balance += amount;
                CREATED
            } else if model.wallets[member].available() >= amount {
                model.wallets[member].balance -= amount;
                CREATED
            } else {
                refused(422, "insufficient_funds")
            };
            let body = json!({"adjustment_number": number, "account_id": basic, "amount": amount,
                              "direction": if credit { "credit" } else { "debit" }, "reason": "model"});
            (
                format!("adjust {amount} of member {member} (credit {credit})"),
                expected,
                app.post("/v1/adjustments", body).await,
            )
        }
    };
    (description, expected, (answer.status.as_u16(), answer.code().to_owned()))
}

/// An API client bound to the member that owns `account`, made for one request.
async fn bound_to_owner_of(app: &TestApp, account: &str) -> (String, ed25519_dalek::SigningKey) {
    let view = app.get(&format!("/v1/accounts/{account}")).await;
    let member = view.assert_status(StatusCode::OK)["member_id"].as_str().unwrap().to_owned();
    let key = ed25519_dalek::SigningKey::from_bytes(&clock::random_bytes());
    let id = clock::new_id::<sanhu_core::id::ClientTag>().to_string();
    let client = sanhu_store::ApiClient {
        bound_to: Some(sanhu_core::id::MemberId::parse(&member).unwrap()),
        ..sanhu_store::ApiClient::new(id.clone(), "model".to_owned(), key.verifying_key().to_bytes(), clock::now())
    };
    sanhu_store::AccessStore::create_client(&app.db.store, &client).await.unwrap();
    (id, key)
}

/// The money-safety operations: a member paying its own account (refused `same_wallet`, nothing
/// moves: bonus or subsidy money never becomes withdrawable that way), and refunds made by the
/// payment's receiver through a client bound to it, which reaches the payment in the platform's
/// numbering with `client_id` (as a platform refund: within what was paid), or attempted by the
/// payer's bound client (`refund_not_allowed`) or by another merchant's (no such payment).
async fn money_safety_step(
    world: &World,
    model: &mut Model,
    random: &mut Random,
    n: usize,
) -> (String, Expected, (u16, String)) {
    let app = &world.app;
    let number = format!("N-{n}");
    let paid = pick(random, &model.payments, |p| matches!(p, PaymentState::Paid { .. })).cloned();
    let (description, expected, answer) = match (random.below(3), paid) {
        (1, Some(order)) => {
            let PaymentState::Paid { member, merchant, paid, refunded } = model.payments[&order].clone() else {
                unreachable!()
            };
            let amount = random.amount(paid);
            let expected = if amount <= paid - refunded {
                model.wallets[member].balance += amount;
                model.merchants[merchant] -= amount;
                let state = PaymentState::Paid { member, merchant, paid, refunded: refunded + amount };
                model.payments.insert(order.clone(), state);
                CREATED
            } else {
                refused(422, "refund_exceeds_payment")
            };
            let receiver = bound_to_owner_of(app, &world.merchants[merchant]).await;
            let path = format!("/v1/payments/{order}/refunds?client_id={}", app.client_id);
            let answer =
                app.send_as(&receiver, "POST", &path, json!({"refund_number": number, "amount": amount})).await;
            (
                format!("merchant {merchant} refunds {amount} of {order} (paid {paid}, refunded {refunded})"),
                expected,
                answer,
            )
        }
        (2, Some(order)) => {
            let PaymentState::Paid { member, merchant, .. } = model.payments[&order].clone() else { unreachable!() };
            let (who, client, expected) = if random.below(2) == 0 {
                (
                    "its payer",
                    bound_to_owner_of(app, &world.members[member].1).await,
                    refused(403, "refund_not_allowed"),
                )
            } else {
                let other = (merchant + 1) % MERCHANTS;
                (
                    "another merchant",
                    bound_to_owner_of(app, &world.merchants[other]).await,
                    refused(404, "order_not_found"),
                )
            };
            let path = format!("/v1/payments/{order}/refunds?client_id={}", app.client_id);
            let answer = app.send_as(&client, "POST", &path, json!({"refund_number": number, "amount": 1})).await;
            (format!("{who} tries to refund {order}"), expected, answer)
        }
        _ => {
            let member = random.below(MEMBERS);
            let (member_id, basic) = &world.members[member];
            let amount = random.amount(8000);
            let body = json!({"order_number": number, "member_id": member_id, "amount": amount,
                              "receiver_account_id": basic});
            (
                format!("member {member} pays {amount} to itself"),
                refused(422, "same_wallet"),
                app.post("/v1/payments", body).await,
            )
        }
    };
    (description, expected, (answer.status.as_u16(), answer.code().to_owned()))
}

on_both_backends!(random_wallet_operations_match_the_reference_model, |db| {
    let seed: u64 = std::env::var("SANHU_MODEL_SEED")
        .ok()
        .map(|s| s.parse().expect("SANHU_MODEL_SEED is a number"))
        .unwrap_or_else(|| u64::from_le_bytes(clock::random_bytes::<8>()).max(1));
    let operations: usize =
        std::env::var("SANHU_MODEL_OPERATIONS").ok().map(|s| s.parse().expect("a number")).unwrap_or(150);
    eprintln!("wallet model: seed {seed}, {operations} operations (SANHU_MODEL_SEED={seed} repeats it)");
    let parties = PartyConfig {
        pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        ..PartyConfig::default()
    };
    let app = TestApp::new(db, parties, wallet_config()).await;
    let mut members = Vec::new();
    let mut cards = Vec::new();
    for i in 0..MEMBERS {
        let (member, basic) = app.active_member(&format!("1350000{i:04}")).await;
        app.real_name(&member, "张三", i as u32 + 1).await;
        cards.push(app.bind_card(&member, "张三", i as u32 + 1).await);
        members.push((member, basic));
    }
    let mut merchants = Vec::new();
    for i in 0..MERCHANTS {
        merchants.push(app.active_member(&format!("1350001{i:04}")).await.1);
    }
    let world = World { app, members, cards, merchants };
    let mut model =
        Model { wallets: vec![Wallet::default(); MEMBERS], merchants: vec![0; MERCHANTS], ..Model::default() };
    let mut random = Random(seed);
    let mut outcomes: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for n in 0..operations {
        let (description, expected, (status, code)) = step(&world, &mut model, &mut random, n).await;
        assert_eq!((status, code.as_str()), (expected.0, expected.1), "operation {n}, {description} (seed {seed})");
        *outcomes.entry((status, code)).or_default() += 1;
        world.check(&model, &format!("operation {n}, {description} (seed {seed})")).await;
    }
    world.app.verify_clean().await;
    let summary: Vec<String> = outcomes.iter().map(|((s, c), n)| format!("{s} {c} x{n}")).collect();
    eprintln!("wallet model: {operations} operations agreed with the model: {}", summary.join(", "));
});

// ---------------------------------------------------------------------------------------------------
// Concurrency on one wallet

/// Rounds of requests sent all at once on one wallet: payments from it to the merchants, then
/// refunds of its payments. The server decides them in some order, one after another; the model
/// checks that the answers are those of one serial order, with the answers that agree with it: every
/// refused request is refused for the plain reason (`insufficient_funds`, `refund_exceeds_payment`),
/// the money moved is exactly that of the requests answered as succeeded, and a refused request was
/// refused in the order where every success comes first (its amount is more than what was left
/// after them). Every request sent again afterwards is answered as it was the first time.
async fn concurrency_phase(world: &World, model: &mut Model, random: &mut Random, round: usize) {
    let app = &world.app;
    let (member_id, _) = &world.members[0];
    let number = format!("CC-{round}");
    let amount = random.amount(20_000);
    let body = json!({"order_number": number, "member_id": member_id, "amount": amount, "channel": "test"});
    app.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
    app.post(&format!("/v1/recharges/{number}/confirm"), json!({})).await.assert_status(StatusCode::OK);
    model.wallets[0].balance += amount;

    // Payments at once, more than the wallet holds.
    let count = 10 + random.below(30);
    let payments: Vec<(String, usize, i64)> =
        (0..count).map(|i| (format!("CP-{round}-{i}"), random.below(MERCHANTS), random.amount(3000))).collect();
    let bodies: Vec<Value> = payments
        .iter()
        .map(|(number, merchant, amount)| {
            json!({"order_number": number, "member_id": member_id, "amount": amount,
                   "receiver_account_id": world.merchants[*merchant]})
        })
        .collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|b| app.post("/v1/payments", b.clone()))).await;
    let available = model.wallets[0].available();
    let mut paid_total = 0;
    let mut refused_amounts = Vec::new();
    for ((number, merchant, amount), answer) in payments.iter().zip(&answers) {
        match (answer.status.as_u16(), answer.code()) {
            (201, _) => {
                paid_total += amount;
                model.wallets[0].balance -= amount;
                model.merchants[*merchant] += amount;
                model.payments.insert(
                    number.clone(),
                    PaymentState::Paid { member: 0, merchant: *merchant, paid: *amount, refunded: 0 },
                );
            }
            (422, "insufficient_funds") => refused_amounts.push(*amount),
            other => panic!("round {round}: payment {number} of {amount} answered {other:?}: {}", answer.body),
        }
    }
    assert!(paid_total <= available, "round {round}: paid {paid_total} from {available}");
    let left = available - paid_total;
    for amount in &refused_amounts {
        assert!(*amount > left, "round {round}: a payment of {amount} was refused with {left} left after the others");
    }
    world.check(model, &format!("concurrent payments of round {round}")).await;
    for (body, first) in bodies.iter().zip(&answers) {
        let again = app.post("/v1/payments", body.clone()).await;
        assert_eq!((again.status, again.code()), (first.status, first.code()), "round {round}: {body} again");
    }

    // Refunds at once of the wallet's payments: several of each, together more than was paid.
    let paid: Vec<(String, i64)> = model
        .payments
        .iter()
        .filter_map(|(number, state)| match state {
            PaymentState::Paid { member: 0, paid, refunded, .. } if paid > refunded => {
                Some((number.clone(), paid - refunded))
            }
            _ => None,
        })
        .collect();
    if paid.is_empty() {
        return;
    }
    let refunds: Vec<(String, String, i64)> = (0..count)
        .map(|i| {
            let (order, left) = &paid[random.below(paid.len())];
            (order.clone(), format!("CR-{round}-{i}"), random.amount(*left / 2 + 1))
        })
        .collect();
    let refund = |order: &str, number: &str, amount: i64| {
        let path = format!("/v1/payments/{order}/refunds");
        let body = json!({"refund_number": number, "amount": amount});
        async move { app.post(&path, body).await }
    };
    let answers = futures_util::future::join_all(refunds.iter().map(|(o, n, a)| refund(o, n, *a))).await;
    let mut refused: Vec<(String, i64)> = Vec::new();
    for ((order, number, amount), answer) in refunds.iter().zip(&answers) {
        match (answer.status.as_u16(), answer.code()) {
            (201, _) => {
                let Some(PaymentState::Paid { merchant, refunded, .. }) = model.payments.get_mut(order) else {
                    unreachable!()
                };
                *refunded += amount;
                model.merchants[*merchant] -= amount;
                model.wallets[0].balance += amount;
            }
            (422, "refund_exceeds_payment") => refused.push((order.clone(), *amount)),
            other => {
                panic!("round {round}: refund {number} of {amount} of {order} answered {other:?}: {}", answer.body)
            }
        }
    }
    for (order, amount) in &refused {
        let Some(PaymentState::Paid { paid, refunded, .. }) = model.payments.get(order) else { unreachable!() };
        assert!(
            *amount > paid - refunded,
            "round {round}: a refund of {amount} of {order} was refused with {} left after the others",
            paid - refunded
        );
    }
    for (order, _) in &paid {
        let view = app.get(&format!("/v1/payments/{order}")).await.assert_status(StatusCode::OK).clone();
        let Some(PaymentState::Paid { refunded, .. }) = model.payments.get(order) else { unreachable!() };
        assert_eq!(view["refunded"].as_i64(), Some(*refunded), "round {round}: {order}");
    }
    world.check(model, &format!("concurrent refunds of round {round}")).await;
    for ((order, number, amount), first) in refunds.iter().zip(&answers) {
        let again = refund(order, number, *amount).await;
        assert_eq!((again.status, again.code()), (first.status, first.code()), "round {round}: {number} again");
    }
}

on_both_backends!(concurrent_requests_on_one_wallet_match_the_reference_model, |db| {
    let seed: u64 = std::env::var("SANHU_MODEL_SEED")
        .ok()
        .map(|s| s.parse().expect("SANHU_MODEL_SEED is a number"))
        .unwrap_or_else(|| u64::from_le_bytes(clock::random_bytes::<8>()).max(1));
    let rounds: usize = std::env::var("SANHU_MODEL_ROUNDS").ok().map(|s| s.parse().expect("a number")).unwrap_or(4);
    eprintln!("wallet model, concurrency: seed {seed}, {rounds} rounds (SANHU_MODEL_SEED={seed} repeats it)");
    let parties = PartyConfig {
        pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        ..PartyConfig::default()
    };
    let app = TestApp::new(db, parties, wallet_config()).await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        members.push(app.active_member(&format!("1350002{i:04}")).await);
    }
    let mut merchants = Vec::new();
    for i in 0..MERCHANTS {
        merchants.push(app.active_member(&format!("1350003{i:04}")).await.1);
    }
    let world = World { app, members, cards: Vec::new(), merchants };
    let mut model =
        Model { wallets: vec![Wallet::default(); MEMBERS], merchants: vec![0; MERCHANTS], ..Model::default() };
    let mut random = Random(seed);
    for round in 0..rounds {
        concurrency_phase(&world, &mut model, &mut random, round).await;
    }
    world.app.verify_clean().await;
});
