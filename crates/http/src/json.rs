//! Request bodies: parsed from bytes into request structs (`#[serde(deny_unknown_fields)]`), each
//! failure mapped to its own code so that a client can tell a syntax error from a misspelt field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::error::Category;

use crate::error::{code, ApiError};

/// Parses a body that must be a JSON object.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => return Err(ApiError::new(code::INVALID_JSON, "the request body must be a JSON object")),
        None => return Err(ApiError::new(code::INVALID_JSON, "the request body is empty; send a JSON object")),
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let error = error.into_inner();
        match error.classify() {
            Category::Data => data_error(&path, &error),
            Category::Syntax | Category::Eof | Category::Io => syntax_error(&error),
        }
    })?;
    deserializer.end().map_err(|error| syntax_error(&error))?;
    Ok(parsed)
}

fn syntax_error(error: &serde_json::Error) -> ApiError {
    // serde_json's syntax messages say where and what was expected, never the text found.
    ApiError::new(code::INVALID_JSON, format!("the request body is not valid JSON: {error}"))
}

/// Parses a body that may be empty (meaning `{}`): for actions whose fields are all optional.
pub fn parse_body_or_empty<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

/// A data error as a message that names the field (its path in the body) and what it must be, and
/// never quotes the value sent: a pay password sent as a number, or a card number in the wrong field,
/// is not repeated back (nor into logs that keep answers). serde's messages start with a fixed phrase;
/// the value sits between that phrase and ", expected", and only the kind of value is kept.
fn data_error(path: &str, error: &serde_json::Error) -> ApiError {
    let text = error.to_string();
    // serde_json appends where the error is; the path says it better.
    let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(message, _)| message);
    let quoted = |prefix: &str| text.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    if let Some(field) = quoted("unknown field `") {
        // The path already ends at the unknown field.
        let path = if path == "." { field.as_str() } else { path };
        return ApiError::new(code::UNKNOWN_FIELD, format!("unknown field `{path}`"));
    }
    if let Some(field) = quoted("missing field `") {
        return ApiError::new(code::MISSING_FIELD, format!("missing field `{}`", within(path, &field)));
    }
    if let Some(field) = quoted("duplicate field `") {
        return ApiError::new(code::INVALID_FIELD, format!("the field `{}` is given twice", within(path, &field)));
    }
    let expected = text.rsplit_once(", expected ").map(|(_, expected)| expected);
    let message = match (text.strip_prefix("invalid type: "), text.strip_prefix("invalid value: "), expected) {
        (Some(found), _, Some(expected)) => {
            format!("`{path}` has the wrong type: expected {expected}, found {}", kind_of(found))
        }
        (_, Some(found), Some(expected)) => {
            format!("`{path}` has an invalid value: expected {expected}, found {}", kind_of(found))
        }
        _ if text.starts_with("unknown variant ") => match expected {
            Some(expected) => format!("`{path}` is not one of the accepted values: expected {expected}"),
            None => format!("`{path}` is not one of the accepted values"),
        },
        _ if text.starts_with("invalid length ") => match expected {
            Some(expected) => format!("`{path}` has the wrong length: expected {expected}"),
            None => format!("`{path}` has the wrong length"),
        },
        _ => format!("`{path}` does not have the expected type or form"),
    };
    ApiError::new(code::INVALID_FIELD, message)
}

/// The path of `field` in the object at `path` (`.` is the body itself).
fn within(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The kind of a value as serde describes it ("integer `123456`", "string \"abc\""), without the
/// value.
fn kind_of(found: &str) -> &'static str {
    const KINDS: &[(&str, &str)] = &[
        ("boolean", "a boolean"),
        ("integer", "an integer"),
        ("floating point", "a number with a fraction or exponent"),
        ("string", "a string"),
        ("char", "a string"),
        ("null", "null"),
        ("unit", "null"),
        ("sequence", "an array"),
        ("map", "an object"),
    ];
    KINDS.iter().find(|(prefix, _)| found.starts_with(prefix)).map_or("another kind of value", |(_, kind)| kind)
}

/// For a field where absent and `null` mean different things: absent is `None`, `null` is
/// `Some(None)`. Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<u32>,
        #[serde(default, deserialize_with = "double_option")]
        limit: Option<Option<i64>>,
    }

    fn code_of(body: &str) -> &'static str {
        parse_body::<Body>(body.as_bytes()).unwrap_err().code()
    }

    #[test]
    fn each_kind_of_bad_body_has_its_code() {
        assert_eq!(code_of("{\"name\":"), "invalid_json");
        assert_eq!(code_of("[1]"), "invalid_json");
        assert_eq!(code_of(""), "invalid_json");
        assert_eq!(code_of("{\"name\":\"a\",\"colour\":1}"), "unknown_field");
        assert_eq!(code_of("{}"), "missing_field");
        assert_eq!(code_of("{\"name\":5}"), "invalid_field");
        assert_eq!(code_of("{\"name\":\"a\",\"count\":-1}"), "invalid_field");
        let error = parse_body::<Body>(b"{\"name\":\"a\",\"colour\":1}").unwrap_err();
        assert_eq!(error.message(), "unknown field `colour`");
        assert_eq!(code_of("{\"name\":\"a\"} x"), "invalid_json", "trailing characters");
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Payment {
        pay_password: String,
        amount: u32,
        lines: Vec<Line>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        account: String,
        kind: Kind,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Kind {
        Debit,
        Credit,
    }

    fn message_of(body: &str) -> (&'static str, String) {
        let error = parse_body::<Payment>(body.as_bytes()).unwrap_err();
        (error.code(), error.message().to_owned())
    }

    #[test]
    #[allow(clippy::useless_format)] // every case written the same way, whether it has a `{line}` or not
    fn a_type_error_names_the_field_and_the_type_never_the_value() {
        let line = r#"{"account":"a","kind":"debit"}"#;
        let cases = [
            (
                format!(r#"{{"pay_password":731904,"amount":1,"lines":[]}}"#),
                "731904",
                "`pay_password` has the wrong type: expected a string, found an integer",
            ),
            (
                format!(r#"{{"pay_password":"1","amount":"4111111111111111","lines":[]}}"#),
                "4111111111111111",
                "`amount` has the wrong type: expected u32, found a string",
            ),
            (
                format!(r#"{{"pay_password":"1","amount":-731904,"lines":[]}}"#),
                "731904",
                "`amount` has an invalid value: expected u32, found an integer",
            ),
            (
                format!(r#"{{"pay_password":"1","amount":73.1904,"lines":[]}}"#),
                "1904",
                "`amount` has the wrong type: expected u32, found a number with a fraction or exponent",
            ),
            (
                format!(r#"{{"pay_password":"1","amount":1,"lines":[{line},{{"account":731904,"kind":"debit"}}]}}"#),
                "731904",
                "`lines[1].account` has the wrong type: expected a string, found an integer",
            ),
            (
                format!(r#"{{"pay_password":"1","amount":1,"lines":[{{"account":"a","kind":"s3cr3t-731904"}}]}}"#),
                "s3cr3t",
                "`lines[0].kind` is not one of the accepted values: expected `debit` or `credit`",
            ),
            (
                format!(r#"{{"pay_password":true,"amount":1,"lines":[]}}"#),
                "true",
                "`pay_password` has the wrong type: expected a string, found a boolean",
            ),
        ];
        for (body, secret, expected) in cases {
            let (code, message) = message_of(&body);
            assert_eq!((code, message.as_str()), ("invalid_field", expected), "{body}");
            assert!(!message.contains(secret), "{message} repeats {secret}");
        }
        let (code, message) = message_of(r#"{"pay_password":"1","amount":1,"lines":[{"account":"a"}]}"#);
        assert_eq!((code, message.as_str()), ("missing_field", "missing field `lines[0].kind`"));
        let (code, message) =
            message_of(r#"{"pay_password":"1","amount":1,"lines":[{"account":"a","kind":"debit","x":1}]}"#);
        assert_eq!((code, message.as_str()), ("unknown_field", "unknown field `lines[0].x`"));
    }

    #[test]
    fn absent_and_null_differ_for_double_options() {
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\"}").unwrap().limit, None);
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\",\"limit\":null}").unwrap().limit, Some(None));
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\",\"limit\":3}").unwrap().limit, Some(Some(3)));
    }
}
