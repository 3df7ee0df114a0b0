//! Logs on standard error: `SANHU_LOG_FORMAT` chooses `text` (the default: one readable line per
//! event) or `json` (one JSON object per line, for a collector); `SANHU_LOG` chooses what is logged, as
//! a default level and per-module levels (`info,sanhu_http=debug,sanhu_store=warn`). The
//! configuration file's `[log]` table (`format`, `filter`) says the same; the environment wins over
//! it. A value not understood is an error at start, never ignored (docs/OPERATIONS.md).

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

pub const FORMAT_VARIABLE: &str = "SANHU_LOG_FORMAT";
pub const FILTER_VARIABLE: &str = "SANHU_LOG";

/// How each event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(value: &str) -> anyhow::Result<LogFormat> {
        LogFormat::parse_setting(value, FORMAT_VARIABLE)
    }

    /// `value` of the setting `name` (`SANHU_LOG_FORMAT`, or `[log] format` in the file).
    fn parse_setting(value: &str, name: &str) -> anyhow::Result<LogFormat> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => anyhow::bail!("{name}={other:?} is not a log format: use `text` or `json`"),
        }
    }
}

/// The configuration file's `[log]` table: the same settings as `SANHU_LOG_FORMAT` and `SANHU_LOG`,
/// which win over it when set.
#[derive(serde::Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A default level and per-module levels, as `SANHU_LOG` takes them.
    pub filter: Option<String>,
}

const FILE_FORMAT: &str = "[log] format";
const FILE_FILTER: &str = "[log] filter";

const LEVELS: &str = "off, error, warn, info, debug or trace";

fn level(text: &str) -> Option<LevelFilter> {
    match text.to_ascii_lowercase().as_str() {
        "off" => Some(LevelFilter::OFF),
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        "info" => Some(LevelFilter::INFO),
        "debug" => Some(LevelFilter::DEBUG),
        "trace" => Some(LevelFilter::TRACE),
        _ => None,
    }
}

/// `SANHU_LOG`: comma-separated directives, each a level (the default for every module) or
/// `module=level`, where a module is a path such as `sanhu_http` or `sanhu_service::jobs`. Absent or
/// empty: `info`.
pub fn parse_filter(value: &str) -> anyhow::Result<Targets> {
    parse_filter_setting(value, FILTER_VARIABLE)
}

/// `value` of the filter setting `name` (`SANHU_LOG`, or `[log] filter` in the file).
fn parse_filter_setting(value: &str, name: &str) -> anyhow::Result<Targets> {
    let mut default = LevelFilter::INFO;
    let mut targets = Targets::new();
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.split_once('=') {
            None => {
                default = level(directive).ok_or_else(|| {
                    let hint = if LogFormat::parse(directive).is_ok() {
                        format!(" (the format is {FORMAT_VARIABLE}={directive})")
                    } else {
                        String::new()
                    };
                    anyhow::anyhow!("{name}: {directive:?} is neither a level ({LEVELS}) nor module=level{hint}")
                })?;
            }
            Some((module, level_text)) => {
                let module_ok = !module.is_empty()
                    && module.split("::").all(|part| {
                        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    });
                anyhow::ensure!(
                    module_ok,
                    "{name}: {module:?} is not a module path (such as sanhu_http or sanhu_service::jobs)"
                );
                let level = level(level_text)
                    .ok_or_else(|| anyhow::anyhow!("{name}: {directive:?}: the level must be one of {LEVELS}"))?;
                targets = targets.with_target(module.replace('-', "_"), level);
            }
        }
    }
    Ok(targets.with_default(default))
}

/// The format and filter from the environment's values where set (and not empty), else the file's,
/// else text at `info`.
pub fn settings(
    env_format: Option<&str>,
    env_filter: Option<&str>,
    file: Option<&LogFile>,
) -> anyhow::Result<(LogFormat, Targets)> {
    let set = |value: Option<&str>| value.filter(|v| !v.trim().is_empty()).map(str::to_owned);
    let format = match (set(env_format), file.and_then(|f| f.format.clone())) {
        (Some(value), _) => LogFormat::parse(&value)?,
        (None, Some(value)) => LogFormat::parse_setting(&value, FILE_FORMAT)?,
        (None, None) => LogFormat::Text,
    };
    let filter = match (set(env_filter), file.and_then(|f| f.filter.clone())) {
        (Some(value), _) => parse_filter(&value)?,
        (None, Some(value)) => parse_filter_setting(&value, FILE_FILTER)?,
        (None, None) => parse_filter("")?,
    };
    Ok((format, filter))
}

/// Sets up logging from the environment and the configuration file's `[log]`, or says what is wrong
/// with them.
pub fn init(file: Option<&LogFile>) -> anyhow::Result<()> {
    let (format, filter) =
        settings(std::env::var(FORMAT_VARIABLE).ok().as_deref(), std::env::var(FILTER_VARIABLE).ok().as_deref(), file)?;
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => {
            // Colours only on a terminal: a log redirected to a file or a collector gets plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            registry
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi))
                .try_init()?;
        }
        LogFormat::Json => {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        .fmt_fields(JsonFields)
                        .event_format(JsonEvents),
                )
                .try_init()?;
        }
    }
    Ok(())
}

/// Fields as JSON values: numbers and booleans as such, everything else as text.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

/// A span's fields, kept as the text of a JSON object, which [`JsonEvents`] merges into each event's.
struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut map = Map::new();
        fields.record(&mut JsonVisitor(&mut map));
        write!(writer, "{}", Value::Object(map))
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut map = match serde_json::from_str(&current.fields) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        fields.record(&mut JsonVisitor(&mut map));
        current.fields = Value::Object(map).to_string();
        Ok(())
    }
}

/// One JSON object per event: `timestamp`, `level`, `target`, `message`, the event's fields and those
/// of the spans it is in (the request's id among them), outermost span first, the event's own last.
struct JsonEvents;

impl<S, N> FormatEvent<S, N> for JsonEvents
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), sanhu_service::clock::now().to_string().into());
        line.insert("level".into(), level_name(*metadata.level()).into());
        line.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields) {
                        line.extend(fields);
                    }
                }
            }
        }
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        line.extend(fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_text_and_json_and_nothing_else() {
        assert_eq!(LogFormat::parse("").unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse("JSON").unwrap(), LogFormat::Json);
        let error = LogFormat::parse("yaml").unwrap_err().to_string();
        assert!(error.contains("SANHU_LOG_FORMAT") && error.contains("yaml"), "{error}");
    }

    #[test]
    fn filters_take_a_default_and_module_levels_and_refuse_the_rest() {
        let targets = parse_filter("warn,sanhu_http=debug,sanhu_service::jobs=off").unwrap();
        assert!(targets.would_enable("sanhu_http::request_id", &Level::DEBUG));
        assert!(!targets.would_enable("sanhu_http::request_id", &Level::TRACE));
        assert!(!targets.would_enable("sanhu_service::jobs", &Level::ERROR));
        assert!(targets.would_enable("sanhu_store", &Level::WARN));
        assert!(!targets.would_enable("sanhu_store", &Level::INFO));
        assert!(parse_filter("").unwrap().would_enable("sanhu", &Level::INFO));
        for bad in ["json", "verbose", "sanhu_http=loud", "=debug", "sanhu http=debug", "a::::b=info"] {
            let error = parse_filter(bad).unwrap_err().to_string();
            assert!(error.starts_with("SANHU_LOG"), "{bad}: {error}");
        }
        assert!(parse_filter("json").unwrap_err().to_string().contains("SANHU_LOG_FORMAT=json"));
    }

    #[test]
    fn the_environment_wins_over_the_files_log_table_and_a_bad_file_value_names_its_key() {
        let file = LogFile { format: Some("json".into()), filter: Some("warn,sanhu_http=debug".into()) };
        let (format, filter) = settings(None, None, Some(&file)).unwrap();
        assert_eq!(format, LogFormat::Json);
        assert!(filter.would_enable("sanhu_http", &Level::DEBUG));
        assert!(!filter.would_enable("sanhu_store", &Level::INFO));

        let (format, filter) = settings(Some("text"), Some("info"), Some(&file)).unwrap();
        assert_eq!(format, LogFormat::Text);
        assert!(!filter.would_enable("sanhu_http", &Level::DEBUG));
        // An empty variable is as good as unset.
        assert_eq!(settings(Some(""), None, Some(&file)).unwrap().0, LogFormat::Json);
        assert_eq!(settings(None, None, None).unwrap().0, LogFormat::Text);

        let bad = LogFile { format: Some("yaml".into()), filter: None };
        let error = settings(None, None, Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("[log] format") && error.contains("yaml"), "{error}");
        let bad = LogFile { format: None, filter: Some("loud".into()) };
        let error = settings(None, None, Some(&bad)).unwrap_err().to_string();
        assert!(error.starts_with("[log] filter"), "{error}");
        // The environment's good value does not excuse the file's bad one being read: it is not.
        assert!(settings(Some("json"), Some("info"), Some(&bad)).is_ok());
    }
}
