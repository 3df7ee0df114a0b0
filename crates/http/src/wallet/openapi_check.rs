//! The wallet's annotated operations against the hand-written document they replace: for every
//! operation tagged `wallet` in `openapi.json`, the generated one has the same operation id, tag,
//! summary and description (less the parts every operation shares: the scope paragraph and the
//! approval paragraph), the same path and query parameters, the same success status, and the same
//! request and success-response schemas once `$ref`s are resolved: properties, required, types,
//! enums, nullability, formats and the limits on values. Descriptions and examples inside schemas
//! may differ. Where the hand document was wrong about what the server answers or reads, the Rust
//! type is the truth and the difference is listed in [`KNOWN_CORRECTIONS`] with its reason.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use utoipa::OpenApi;

use super::{
    adjustments, deposits, freezes, member_transfers, payments, platform, recharges, subsidies, wallets, withdrawals,
};

#[derive(OpenApi)]
#[openapi(paths(
    platform::platform_accounts,
    wallets::get_wallet,
    wallets::get_deduction_order,
    wallets::set_deduction_order,
    wallets::withdrawal_preview,
    wallets::wallet_flow,
    recharges::create_recharge,
    recharges::get_recharge,
    recharges::confirm_recharge,
    recharges::approve_recharge,
    recharges::reject_recharge,
    recharges::fail_recharge,
    recharges::close_recharge,
    recharges::refund_recharge,
    payments::pay,
    payments::get_payment,
    payments::capture,
    payments::release,
    payments::refund,
    payments::release_escrow,
    payments::return_escrow,
    withdrawals::withdraw,
    withdrawals::get_withdrawal,
    withdrawals::review_withdrawal,
    withdrawals::payout_result,
    freezes::freeze,
    freezes::get_freeze,
    freezes::unfreeze,
    freezes::seize,
    adjustments::adjust,
    adjustments::get_adjustment,
    adjustments::approve_adjustment,
    deposits::hold,
    deposits::get_deposit,
    deposits::release,
    deposits::capture,
    member_transfers::transfer,
    member_transfers::get_transfer,
    subsidies::fund,
    subsidies::get_funding,
    subsidies::distribute,
    subsidies::get_distribution,
    subsidies::get_fund,
))]
struct WalletApi;

/// Differences from the hand-written document that the Rust types correct: (operation id, where in
/// the normalised comparison, why).
const KNOWN_CORRECTIONS: &[(&str, &str, &str)] = &[
    ("setDeductionOrder", "request/properties/account_ids/maxItems", DEDUCTION_ORDER_UNBOUNDED),
    ("setDeductionOrder", "response/properties/account_ids/maxItems", DEDUCTION_ORDER_UNBOUNDED),
    ("getDeductionOrder", "response/properties/account_ids/maxItems", DEDUCTION_ORDER_UNBOUNDED),
];

const DEDUCTION_ORDER_UNBOUNDED: &str =
    "nothing limits the list to 100: it names each of the wallet's own accounts at most once";

/// The parameters every operation shares, which the route table adds (signature headers,
/// Idempotency-Key).
const SHARED_PARAMETERS: &[&str] = &["SanhuClient", "SanhuTimestamp", "SanhuNonce", "IdempotencyKey"];

/// The paragraphs of a description that the route table adds.
const APPROVAL_PARAGRAPH: &str =
    "\n\nMade by a staff member, it waits for a second staff member's approval (202, an approval).";

fn hand_document() -> Value {
    serde_json::from_str(include_str!("../openapi_legacy.json")).expect("openapi_legacy.json is JSON")
}

fn generated_document() -> Value {
    serde_json::to_value(WalletApi::openapi()).expect("the generated document is JSON")
}

/// Follows `$ref`s all the way down.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} does not resolve")))
        }
        None => value,
    }
}

/// A schema with its references resolved and only what the wire shows: no descriptions, examples
/// or titles; an integer's `int32`/`int64` format left out (the hand document names none); type
/// lists, `required` and `enum` sorted; `oneOf` of null and one schema as that schema, nullable.
fn normalise(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(Value::Array(choices)) = object.get("oneOf") {
        let (nulls, others): (Vec<&Value>, Vec<&Value>) =
            choices.iter().partition(|c| c.get("type").and_then(Value::as_str) == Some("null"));
        if nulls.len() == 1 && others.len() == 1 {
            let mut inner = normalise(doc, others[0]);
            add_null(&mut inner);
            return inner;
        }
    }
    let mut out = Map::new();
    for (key, value) in object {
        let value = match key.as_str() {
            "description" | "examples" | "example" | "title" => continue,
            "format" if matches!(value.as_str(), Some("int32" | "int64")) => continue,
            "required" | "enum" => {
                let mut items: Vec<Value> = value.as_array().cloned().unwrap_or_default();
                items.sort_by_key(Value::to_string);
                if items.is_empty() {
                    continue;
                }
                Value::Array(items)
            }
            "type" => type_set(value),
            "properties" => Value::Object(
                value.as_object().unwrap().iter().map(|(name, s)| (name.clone(), normalise(doc, s))).collect(),
            ),
            "items" | "additionalProperties" if value.is_object() => normalise(doc, value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.get("properties").is_some_and(|p| p.as_object().unwrap().is_empty()) {
        out.remove("properties");
    }
    Value::Object(out)
}

fn type_set(value: &Value) -> Value {
    let mut types: Vec<String> = match value {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
        other => panic!("a type is a string or a list: {other}"),
    };
    types.sort();
    types.dedup();
    match types.as_slice() {
        [one] => Value::String(one.clone()),
        _ => Value::Array(types.into_iter().map(Value::String).collect()),
    }
}

fn add_null(schema: &mut Value) {
    let object = schema.as_object_mut().unwrap();
    let types = match object.get("type") {
        Some(t) => {
            let mut all = match type_set(t) {
                Value::String(one) => vec![Value::String(one)],
                Value::Array(many) => many,
                _ => unreachable!(),
            };
            all.push(Value::String("null".into()));
            type_set(&Value::Array(all))
        }
        None => return,
    };
    object.insert("type".into(), types);
}

/// Every leaf where `a` and `b` differ, as `prefix/key/key...`.
fn differences(prefix: &str, a: &Value, b: &Value, found: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = format!("{prefix}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&path, x, y, found),
                    _ => found.push(path),
                }
            }
        }
        _ if a != b => found.push(prefix.to_owned()),
        _ => {}
    }
}

/// What the comparison looks at in one operation, normalised.
fn shape(doc: &Value, operation: &Value) -> BTreeMap<String, Value> {
    let mut shape = BTreeMap::new();
    shape.insert("operationId".into(), operation["operationId"].clone());
    shape.insert("tags".into(), operation["tags"].clone());
    shape.insert("summary".into(), operation["summary"].clone());
    let description = operation["description"].as_str().unwrap_or_default();
    let description = description.split("\n\nScope: ").next().unwrap().replace(APPROVAL_PARAGRAPH, "");
    shape.insert("description".into(), Value::String(description));
    let mut parameters = Map::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let shared = parameter["$ref"]
            .as_str()
            .is_some_and(|r| SHARED_PARAMETERS.iter().any(|name| r.ends_with(&format!("/{name}"))));
        if shared {
            continue;
        }
        let parameter = resolve(doc, parameter);
        let name = format!("{}:{}", parameter["in"].as_str().unwrap(), parameter["name"].as_str().unwrap());
        let mut normalised = Map::new();
        normalised.insert("required".into(), Value::Bool(parameter["required"].as_bool().unwrap_or(false)));
        normalised.insert("schema".into(), normalise(doc, &parameter["schema"]));
        normalised.insert("description".into(), parameter["description"].clone());
        parameters.insert(name, Value::Object(normalised));
    }
    shape.insert("parameters".into(), Value::Object(parameters));
    let body = resolve(doc, &operation["requestBody"]);
    if !body.is_null() {
        let required = body["required"].as_bool().unwrap_or(false);
        shape.insert("request_required".into(), Value::Bool(required));
        let mut schema = &body["content"]["application/json"]["schema"];
        // utoipa writes an optional body (`request_body = Option<T>`) as `oneOf: [null, T]`, but an
        // optional body is absent or T, never `null` (`parse_body_or_empty`): the generator drops
        // the null (see `optional_bodies_are_written_nullable`), and so does the comparison.
        if !required {
            schema = without_null(schema);
        }
        shape.insert("request".into(), normalise(doc, schema));
    }
    let successes: Vec<(&String, &Value)> = operation["responses"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(status, _)| status.starts_with('2') && status.as_str() != "202")
        .collect();
    assert_eq!(successes.len(), 1, "{}: one success response", operation["operationId"]);
    let (status, response) = successes[0];
    shape.insert("status".into(), Value::String(status.clone()));
    let response = resolve(doc, response);
    shape.insert("response".into(), normalise(doc, &response["content"]["application/json"]["schema"]));
    shape
}

/// The schema of `oneOf: [{"type": "null"}, T]` is T; any other is itself.
fn without_null(schema: &Value) -> &Value {
    match schema["oneOf"].as_array().map(Vec::as_slice) {
        Some([null, other]) if null["type"] == "null" => other,
        Some([other, null]) if null["type"] == "null" => other,
        _ => schema,
    }
}

/// Every operation tagged `wallet`, by (METHOD, path).
fn wallet_operations(doc: &Value) -> BTreeMap<(String, String), &Value> {
    let mut found = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t == "wallet")) {
                found.insert((method.to_uppercase(), path.clone()), operation);
            }
        }
    }
    found
}

#[test]
fn the_annotated_wallet_operations_are_the_hand_documents() {
    let hand = hand_document();
    let generated = generated_document();
    let hand_operations = wallet_operations(&hand);
    let generated_operations = wallet_operations(&generated);
    assert_eq!(
        hand_operations.keys().collect::<Vec<_>>(),
        generated_operations.keys().collect::<Vec<_>>(),
        "the same wallet operations"
    );
    assert_eq!(hand_operations.len(), 43);
    let mut unexplained = Vec::new();
    let mut corrections_seen = BTreeSet::new();
    for (key, hand_operation) in &hand_operations {
        let generated_operation = generated_operations[key];
        let expected = shape(&hand, hand_operation);
        let actual = shape(&generated, generated_operation);
        let id = expected["operationId"].as_str().unwrap();
        let mut found = Vec::new();
        for part in expected.keys().chain(actual.keys()).collect::<BTreeSet<_>>() {
            match (expected.get(part), actual.get(part)) {
                (Some(a), Some(b)) => differences(part, a, b, &mut found),
                _ => found.push(part.clone()),
            }
        }
        for difference in found {
            match KNOWN_CORRECTIONS.iter().find(|(op, at, _)| *op == id && *at == difference) {
                Some(correction) => {
                    corrections_seen.insert(*correction);
                }
                None => unexplained.push(format!(
                    "{} {} ({id}) at {difference}:\n  hand:      {}\n  generated: {}",
                    key.0,
                    key.1,
                    pointer(&expected, &difference),
                    pointer(&actual, &difference),
                )),
            }
        }
    }
    assert!(unexplained.is_empty(), "differences from openapi.json:\n{}", unexplained.join("\n"));
    let stale: Vec<_> = KNOWN_CORRECTIONS.iter().filter(|c| !corrections_seen.contains(c)).collect();
    assert!(stale.is_empty(), "corrections no longer needed: {stale:?}");
}

/// The value at `part/key/...` of a shape, for a readable failure.
fn pointer(shape: &BTreeMap<String, Value>, at: &str) -> String {
    let (part, rest) = at.split_once('/').unwrap_or((at, ""));
    let Some(value) = shape.get(part) else {
        return "(absent)".into();
    };
    let pointer: String = rest.split('/').filter(|s| !s.is_empty()).map(|s| format!("/{s}")).collect();
    value.pointer(&pointer).map_or("(absent)".into(), Value::to_string)
}

#[test]
fn the_component_names_are_the_hand_documents() {
    let hand = hand_document();
    let generated = generated_document();
    let hand_names: BTreeSet<&String> = hand["components"]["schemas"].as_object().unwrap().keys().collect();
    let generated_names: Vec<&String> = generated["components"]["schemas"].as_object().unwrap().keys().collect();
    // The status enums are components of their own now; every other name is one the hand document has.
    let new: Vec<&str> =
        generated_names.iter().filter(|name| !hand_names.contains(**name)).map(|name| name.as_str()).collect();
    assert_eq!(
        new,
        [
            "AdjustmentDirection",
            "AdjustmentStatus",
            "CounterpartyKind",
            "DepositStatus",
            "FeePaidBy",
            "FlowDirection",
            "FlowMovement",
            "FreezeStatus",
            "MemberTransferStatus",
            "PaymentStatus",
            "RechargeRefundStatus",
            "RechargeStatus",
            "RefundStatus",
            "SubsidyStatus",
            "WithdrawalStatus",
        ]
    );
}

#[test]
fn the_documented_limits_are_the_codes() {
    let generated = generated_document();
    let credits = &generated["components"]["schemas"]["SubsidyDistributionRequest"]["properties"]["credits"];
    assert_eq!(credits["maxItems"], sanhu_service::wallet::SUBSIDY_CREDITS_MAX);
    let flow = &generated["paths"]["/v1/members/{id}/wallet/flow"]["get"]["parameters"];
    let limit = flow.as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], sanhu_service::wallet::FLOW_PAGE_LINES_MAX);
}

/// What the generator has to correct in the optional bodies: if utoipa stops writing them nullable,
/// this fails and the correction can go.
#[test]
fn optional_bodies_are_written_nullable() {
    let generated = generated_document();
    let body = &generated["paths"]["/v1/payments/{number}/release"]["post"]["requestBody"];
    assert_eq!(body.get("required"), None);
    let schema = &body["content"]["application/json"]["schema"];
    assert_eq!(without_null(schema)["$ref"], "#/components/schemas/EmptyRequest");
    assert_ne!(without_null(schema), schema);
}
