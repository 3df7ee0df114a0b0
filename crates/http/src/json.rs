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
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        Category::Data => data_error(&error),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(code::INVALID_JSON, format!("the request body is not valid JSON: {error}"))
        }
    })
}

/// Parses a body that may be empty (meaning `{}`): for actions whose fields are all optional.
pub fn parse_body_or_empty<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

/// serde's messages for data errors start with a fixed phrase and quote the field in backticks.
fn data_error(error: &serde_json::Error) -> ApiError {
    let text = error.to_string();
    let quoted = |prefix: &str| text.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    if let Some(field) = quoted("unknown field `") {
        ApiError::new(code::UNKNOWN_FIELD, format!("unknown field `{field}`"))
    } else if let Some(field) = quoted("missing field `") {
        ApiError::new(code::MISSING_FIELD, format!("missing field `{field}`"))
    } else {
        ApiError::new(code::INVALID_FIELD, text)
    }
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
    }

    #[test]
    fn absent_and_null_differ_for_double_options() {
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\"}").unwrap().limit, None);
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\",\"limit\":null}").unwrap().limit, Some(None));
        assert_eq!(parse_body::<Body>(b"{\"name\":\"a\",\"limit\":3}").unwrap().limit, Some(Some(3)));
    }
}
