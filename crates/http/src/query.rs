//! Query strings: parsed into name/value pairs, refusing names the endpoint does not know and names
//! given twice, so that a misspelt filter is an error rather than silently ignored.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::Uri;
use sanhu_core::Timestamp;
use std::marker::PhantomData;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::{code, ApiError};

/// Page size when the client names none (capped by the configured maximum).
pub const PAGE_SIZE_DEFAULT: u32 = 100;

#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<QueryParams, ApiError> {
        QueryParams::parse(&parts.uri)
    }
}

impl QueryParams {
    /// The name/value pairs of `uri`'s query, percent-decoded, in their order.
    pub fn parse(uri: &Uri) -> Result<QueryParams, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| ApiError::new(code::INVALID_QUERY, "the query string cannot be parsed"))?;
        Ok(QueryParams { pairs })
    }

    /// The pairs, in the order the query gives them.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Refuses parameters outside `known` and parameters given twice.
    pub fn only(self, known: &[&str]) -> Result<QueryParams, ApiError> {
        for (index, (name, _)) in self.pairs.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                let known = known.join(", ");
                return Err(ApiError::new(
                    code::UNKNOWN_PARAMETER,
                    format!("unknown query parameter `{name}`; this endpoint takes: {known}"),
                ));
            }
            if self.pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::new(code::INVALID_QUERY, format!("the query parameter `{name}` is given twice")));
            }
        }
        Ok(self)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::new(code::MISSING_PARAMETER, format!("the query parameter `{name}` is required")))
    }

    /// `limit`: 1 to `page_size_max`, [`PAGE_SIZE_DEFAULT`] when absent.
    pub fn limit(&self, page_size_max: u32) -> Result<u32, ApiError> {
        let Some(text) = self.get("limit") else {
            return Ok(PAGE_SIZE_DEFAULT.min(page_size_max));
        };
        match text.parse::<u32>() {
            Ok(limit) if (1..=page_size_max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::new(code::INVALID_LIMIT, format!("limit must be an integer from 1 to {page_size_max}"))),
        }
    }

    /// An RFC 3339 time, e.g. `2026-01-31T16:00:00Z` or `2026-02-01T00:00:00+08:00`.
    pub fn time(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|text| {
                // An RFC 3339 time is ASCII. The core's parser slices the text by byte offsets, and a
                // multi-byte character at one of them would panic it, so nothing else reaches it.
                text.is_ascii().then(|| Timestamp::parse_rfc3339(text)).flatten().ok_or_else(|| {
                    ApiError::new(
                        code::INVALID_TIME,
                        format!("{name} must be an RFC 3339 time such as 2026-01-31T16:00:00Z"),
                    )
                })
            })
            .transpose()
    }
}

/// The paging parameters of a list, declared once for every list's annotation
/// (`params(Paging<AccountId>)`): `after`, a `next_cursor` of the previous page, whose schema is
/// `C`'s, and `limit` ([`QueryParams::limit`]).
pub struct Paging<C>(PhantomData<C>);

impl<C: PartialSchema> IntoParams for Paging<C> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let limit = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1));
        vec![
            ParameterBuilder::new()
                .name("after")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("The `next_cursor` of the previous page (`invalid_cursor` otherwise)."))
                .schema(Some(C::schema()))
                .build(),
            ParameterBuilder::new()
                .name("limit")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(format!(
                    "Page size, 1 to the server's page_size_max (1000 by default); default {PAGE_SIZE_DEFAULT}. \
                     Otherwise `invalid_limit`."
                )))
                .schema(Some(limit))
                .build(),
        ]
    }
}

/// The cursor of a list by sequence number (the audit log, a record's history): the last one's.
pub struct SequenceCursor;

impl PartialSchema for SequenceCursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{1,18}$")).into()
    }
}

impl ToSchema for SequenceCursor {}

/// The cursor of an account's entries: the last one's timestamp in nanoseconds since the epoch.
pub struct NanosecondsCursor;

impl PartialSchema for NanosecondsCursor {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{1,19}$")).into()
    }
}

impl ToSchema for NanosecondsCursor {}
