//! The party's operations as their annotations document them, compared with the hand-written document
//! they replace (`crates/http/src/openapi.json`): per operation its id, success status and parameters,
//! and its request and success response schemas with every `$ref` resolved, down to each property's
//! types, nullability, requiredness, allowed values and closedness; and each operation's tag, summary
//! and description (less the scope's paragraph, which the generator adds). The schemas' descriptions,
//! examples, formats and patterns are left out of the comparison. Where the two differ because the
//! hand-written document was wrong about what the server reads or answers, the code is the truth: each
//! such difference is listed in [`CORRECTIONS`] with its reason.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use utoipa::OpenApi;

use super::{
    accounts, authentications, bank_cards, customers, enterprises, identities, members, one_time_codes, operators,
    pay_passwords,
};

/// Every party operation, with the two request schemas that are only referenced (their bodies may be
/// empty, so the operations say `$ref` rather than name a type, which would make the body required).
#[derive(OpenApi)]
#[openapi(
    paths(
        members::register_member,
        members::get_member,
        members::activate_member,
        members::lock_member,
        members::unlock_member,
        members::cancel_member,
        accounts::member_accounts,
        accounts::open_account,
        authentications::authenticate,
        authentications::member_authentications,
        members::member_history,
        authentications::decide_authentication,
        customers::search_customers,
        customers::get_customer,
        customers::set_customer_status,
        customers::merge_customers,
        customers::customer_history,
        accounts::get_account,
        accounts::set_account_status,
        accounts::close_account,
        enterprises::register_enterprise,
        enterprises::member_company,
        operators::member_operators,
        operators::add_operator,
        operators::find_operators,
        operators::get_operator,
        operators::change_role,
        operators::grant,
        operators::revoke,
        operators::set_limits,
        operators::disable,
        operators::enable,
        operators::remove,
        operators::authorise,
        pay_passwords::set_operator_pay_password,
        pay_passwords::change_operator_pay_password,
        pay_passwords::verify_operator_pay_password,
        identities::member_identities,
        identities::add_identity,
        identities::remove_identity,
        identities::start_phone_change,
        identities::verify_phone_change,
        identities::complete_phone_change,
        one_time_codes::issue_code,
        one_time_codes::verify_code,
        bank_cards::member_bank_cards,
        bank_cards::bind_bank_card,
        bank_cards::unbind_bank_card,
        bank_cards::withdrawal_check,
        pay_passwords::set_member_pay_password,
        pay_passwords::change_member_pay_password,
        pay_passwords::verify_member_pay_password,
    ),
    components(schemas(members::ActivateBody, identities::CompleteBody))
)]
pub struct PartyApi;

/// The differences that are the hand-written document's errors, each with why the code is right.
const CORRECTIONS: &[(&str, &str)] = &[(
    "completePhoneChange request: required true today, false generated",
    "the handler reads an empty body as `{}` (`parse_body_or_empty`), as activateMember's does",
)];

/// One more correction, to every optional field of a request body (`Option` in its Rust type): serde
/// reads `null` there as the field's absence, and the document now says so. Fields whose absence is
/// refused (a bank card's number and holder) stay not nullable.
fn null_reads_as_absent(difference: &str) -> bool {
    difference.contains(" request.") && difference.ends_with(": nullable false today, true generated")
}

/// A schema reduced to what the comparison looks at.
#[derive(Debug, Default, PartialEq)]
struct Shape {
    /// JSON types other than null; empty: any value.
    types: BTreeSet<String>,
    nullable: bool,
    /// `enum` or `const`, as JSON text.
    values: Option<BTreeSet<String>>,
    properties: BTreeMap<String, Shape>,
    required: BTreeSet<String>,
    /// `additionalProperties: false`.
    closed: bool,
    items: Option<Box<Shape>>,
    /// A `oneOf` of alternatives that each only require some properties ("exactly one of").
    exactly_one_of: BTreeSet<Vec<String>>,
}

impl Shape {
    fn of(doc: &Value, schema: &Value) -> Shape {
        let mut shape = Shape::default();
        let Some(object) = schema.as_object() else {
            return shape;
        };
        if let Some(Value::String(reference)) = object.get("$ref") {
            shape.merge(Shape::of(doc, resolve(doc, reference)));
        }
        for item in object.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            shape.merge(Shape::of(doc, item));
        }
        for key in ["oneOf", "anyOf"] {
            let Some(items) = object.get(key).and_then(Value::as_array) else { continue };
            let requires_only =
                |item: &Value| item.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("required"));
            if items.iter().all(requires_only) {
                shape.exactly_one_of = items.iter().map(|item| strings(&item["required"])).collect();
                continue;
            }
            let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                items.iter().partition(|item| item.get("type").and_then(Value::as_str) == Some("null"));
            assert_eq!(others.len(), 1, "a {key} other than a nullable schema: {schema}");
            shape.merge(Shape::of(doc, others[0]));
            shape.nullable |= !nulls.is_empty();
        }
        match object.get("type") {
            Some(Value::String(t)) if t == "null" => shape.nullable = true,
            Some(Value::String(t)) => {
                shape.types.insert(t.clone());
            }
            Some(Value::Array(types)) => {
                for t in types.iter().filter_map(Value::as_str) {
                    if t == "null" {
                        shape.nullable = true;
                    } else {
                        shape.types.insert(t.to_owned());
                    }
                }
            }
            _ => {}
        }
        if let Some(Value::Array(values)) = object.get("enum") {
            shape.values = Some(values.iter().map(Value::to_string).collect());
        }
        if let Some(value) = object.get("const") {
            shape.values = Some([value.to_string()].into());
        }
        for (name, property) in object.get("properties").and_then(Value::as_object).into_iter().flatten() {
            shape.properties.insert(name.clone(), Shape::of(doc, property));
        }
        shape.required.extend(object.get("required").map(strings).unwrap_or_default());
        shape.closed |= object.get("additionalProperties") == Some(&Value::Bool(false));
        if let Some(items) = object.get("items") {
            shape.items = Some(Box::new(Shape::of(doc, items)));
        }
        shape
    }

    fn merge(&mut self, other: Shape) {
        self.types.extend(other.types);
        self.nullable |= other.nullable;
        if self.values.is_none() {
            self.values = other.values;
        }
        self.properties.extend(other.properties);
        self.required.extend(other.required);
        self.closed |= other.closed;
        if self.items.is_none() {
            self.items = other.items;
        }
        self.exactly_one_of.extend(other.exactly_one_of);
    }

    /// Each difference from `today`, one line each, named by `at`.
    fn differences(&self, today: &Shape, at: &str, out: &mut Vec<String>) {
        if self.types != today.types {
            out.push(format!("{at}: types {:?} today, {:?} generated", today.types, self.types));
        }
        if self.nullable != today.nullable {
            out.push(format!("{at}: nullable {} today, {} generated", today.nullable, self.nullable));
        }
        if self.values != today.values {
            out.push(format!("{at}: values {:?} today, {:?} generated", today.values, self.values));
        }
        if self.closed != today.closed {
            out.push(format!("{at}: closed {} today, {} generated", today.closed, self.closed));
        }
        if self.exactly_one_of != today.exactly_one_of {
            out.push(format!(
                "{at}: exactly one of {:?} today, {:?} generated",
                today.exactly_one_of, self.exactly_one_of
            ));
        }
        for name in self.required.symmetric_difference(&today.required) {
            let (was, is) = (today.required.contains(name), self.required.contains(name));
            out.push(format!("{at}.{name}: required {was} today, {is} generated"));
        }
        for (name, property) in &self.properties {
            match today.properties.get(name) {
                Some(was) => property.differences(was, &format!("{at}.{name}"), out),
                None => out.push(format!("{at}.{name}: not in today's document")),
            }
        }
        for name in today.properties.keys().filter(|name| !self.properties.contains_key(*name)) {
            out.push(format!("{at}.{name}: only in today's document"));
        }
        match (&self.items, &today.items) {
            (Some(items), Some(was)) => items.differences(was, &format!("{at}[]"), out),
            (None, None) => {}
            _ => out.push(format!("{at}: items differ in presence")),
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    names.sort();
    names
}

/// The object a local `$ref` (`#/components/...`) points at in `doc`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("a $ref out of the document: {reference}"));
    doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} is not in the document"))
}

/// `$ref`s resolved, once, for an object that may be one (a parameter, a response).
fn resolved<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(doc, reference),
        None => value,
    }
}

/// The path and query parameters of an operation: name, place and whether required.
fn parameters(doc: &Value, operation: &Value) -> BTreeSet<(String, String, bool)> {
    let listed = operation.get("parameters").and_then(Value::as_array).into_iter().flatten();
    listed
        .map(|parameter| resolved(doc, parameter))
        .filter(|parameter| matches!(parameter["in"].as_str(), Some("path" | "query")))
        .map(|p| {
            (p["name"].as_str().unwrap_or_default().to_owned(), p["in"].to_string(), p["required"] == Value::Bool(true))
        })
        .collect()
}

/// The request body's schema and whether it is required.
fn request(doc: &Value, operation: &Value) -> Option<(Shape, bool)> {
    let body = resolved(doc, operation.get("requestBody")?);
    let schema = &body["content"]["application/json"]["schema"];
    Some((Shape::of(doc, schema), body["required"] == Value::Bool(true)))
}

/// The success status (2xx, not 202: an approval held is the generator's to add) and its schema.
fn success(doc: &Value, operation: &Value) -> (String, Shape) {
    let responses = operation["responses"].as_object().expect("responses");
    let ok: Vec<(&String, &Value)> =
        responses.iter().filter(|(status, _)| status.starts_with('2') && status.as_str() != "202").collect();
    assert_eq!(ok.len(), 1, "one success status in {responses:?}");
    let (status, response) = ok[0];
    let response = resolved(doc, response);
    (status.clone(), Shape::of(doc, &response["content"]["application/json"]["schema"]))
}

/// Every difference between the generated party operations and today's, one line each.
fn differences(today: &Value, generated: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let paths = generated["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(was) = today["paths"].get(path).and_then(|item| item.get(method)) else {
                out.push(format!("{method} {path}: not in today's document"));
                continue;
            };
            let id = operation["operationId"].as_str().unwrap_or_default();
            if was["operationId"].as_str() != Some(id) {
                out.push(format!("{method} {path}: operation id {} today, {id} generated", was["operationId"]));
            }
            for key in ["summary", "tags"] {
                if operation[key] != was[key] {
                    out.push(format!("{id} {key}: {} today, {} generated", was[key], operation[key]));
                }
            }
            // The generator adds the scope's paragraph from the route table.
            let description = was["description"].as_str().unwrap_or_default();
            let without_scope = description.rsplit_once("\n\nScope: ").map_or(description, |(text, _)| text);
            if operation["description"].as_str() != Some(without_scope) {
                out.push(format!("{id} description: {without_scope:?} today, {} generated", operation["description"]));
            }
            let (is, was_params) = (parameters(generated, operation), parameters(today, was));
            if is != was_params {
                out.push(format!("{id} parameters: {was_params:?} today, {is:?} generated"));
            }
            match (request(generated, operation), request(today, was)) {
                (Some((shape, required)), Some((was_shape, was_required))) => {
                    if required != was_required {
                        out.push(format!("{id} request: required {was_required} today, {required} generated"));
                    }
                    shape.differences(&was_shape, &format!("{id} request"), &mut out);
                }
                (None, None) => {}
                (is, was) => {
                    out.push(format!("{id} request: a body {} today, {} generated", was.is_some(), is.is_some()))
                }
            }
            let ((status, shape), (was_status, was_shape)) = (success(generated, operation), success(today, was));
            if status != was_status {
                out.push(format!("{id}: status {was_status} today, {status} generated"));
            }
            shape.differences(&was_shape, &format!("{id} {status}"), &mut out);
        }
    }
    out
}

#[test]
fn the_annotations_document_what_the_hand_written_document_did() {
    let today: Value = serde_json::from_str(include_str!("../openapi_legacy.json")).expect("today's document");
    let generated = serde_json::to_value(PartyApi::openapi()).expect("the generated document");
    let operations: usize = generated["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(operations, 52, "every party route is documented once");
    let found = differences(&today, &generated);
    let unexplained: Vec<&String> = found
        .iter()
        .filter(|difference| !null_reads_as_absent(difference))
        .filter(|difference| !CORRECTIONS.iter().any(|(known, _)| known == difference))
        .collect();
    let stale: Vec<&str> =
        CORRECTIONS.iter().map(|(known, _)| *known).filter(|known| !found.iter().any(|d| d == known)).collect();
    assert!(unexplained.is_empty() && stale.is_empty(), "unexplained: {unexplained:#?}\nno longer found: {stale:#?}");
}

/// The components the party's operations use are today's, by the same names: the request and
/// response schemas, and nothing else (nested objects stay inline, as today).
#[test]
fn the_components_keep_their_names() {
    let today: Value = serde_json::from_str(include_str!("../openapi_legacy.json")).expect("today's document");
    let generated = serde_json::to_value(PartyApi::openapi()).expect("the generated document");
    let mut reached = BTreeSet::new();
    for (path, item) in generated["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            let operation = &today["paths"][path][method];
            let (_, success) = operation["responses"]
                .as_object()
                .expect("responses")
                .iter()
                .find(|(status, _)| status.starts_with('2') && status.as_str() != "202")
                .expect("a success");
            references(&today, &operation["requestBody"], &mut reached);
            references(&today, success, &mut reached);
        }
    }
    let named: BTreeSet<String> =
        generated["components"]["schemas"].as_object().expect("schemas").keys().cloned().collect();
    assert_eq!(named, reached);
}

/// The schema components `value` refers to, directly or through others.
fn references(doc: &Value, value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let Some(name) =
                object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if out.insert(name.to_owned()) {
                    references(doc, &doc["components"]["schemas"][name], out);
                }
            }
            object.values().for_each(|v| references(doc, v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(doc, v, out)),
        _ => {}
    }
}
