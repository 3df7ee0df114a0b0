//! Time: nanoseconds since the Unix epoch, UTC, formatted as RFC 3339 at the API boundary; and the
//! platform's calendar, whose time zone (Asia/Shanghai unless configured) decides which day and month
//! an instant belongs to. Calendar arithmetic and time zones are jiff's, in this one file: every daily
//! limit, and every bill and report by day or month, asks [`PlatformCalendar`].

use std::fmt;

use jiff::fmt::temporal::{DateTimeParser, DateTimePrinter};

/// Nanoseconds since 1970-01-01T00:00:00Z. The ledger gives every transfer a distinct timestamp per
/// account, so a timestamp also orders an account's entries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Timestamp(pub i64);

const NANOS_PER_SECOND: i64 = 1_000_000_000;
static PARSER: DateTimeParser = DateTimeParser::new();
/// All nine digits of the nanoseconds: fewer would show a transfer's timestamp as an instant before
/// it, so a balance asked for "at" it would leave it out.
static PRINTER: DateTimePrinter = DateTimePrinter::new().precision(Some(9));

impl Timestamp {
    pub fn from_nanos(n: i64) -> Timestamp {
        Timestamp(n)
    }

    pub fn nanos(self) -> i64 {
        self.0
    }

    pub fn add_seconds(self, seconds: u32) -> Option<Timestamp> {
        self.0.checked_add(seconds as i64 * NANOS_PER_SECOND).map(Timestamp)
    }

    /// Parses RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, and nothing looser: the shape
    /// is checked here (the broader ISO 8601 forms jiff also reads are refused), the calendar by jiff.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let normalised = rfc3339_shape(s)?;
        let instant = PARSER.parse_timestamp(&normalised).ok()?;
        i64::try_from(instant.as_nanosecond()).ok().map(Timestamp)
    }

    fn to_jiff(self) -> jiff::Timestamp {
        // Every i64 of nanoseconds (years 1677 to 2262) is within jiff's range.
        jiff::Timestamp::from_nanosecond(i128::from(self.0)).expect("an i64 of nanoseconds is a jiff timestamp")
    }

    fn from_jiff(instant: jiff::Timestamp) -> Option<Timestamp> {
        i64::try_from(instant.as_nanosecond()).ok().map(Timestamp)
    }
}

/// `s` with RFC 3339's case-insensitive and optional letters made canonical (`T`, `Z`), if it has the
/// shape of an RFC 3339 time.
fn rfc3339_shape(s: &str) -> Option<String> {
    // Every valid form is ASCII; refusing anything else first keeps the checks below on bytes.
    if !s.is_ascii() || s.len() < 20 {
        return None;
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shaped {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let fraction = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&fraction) {
            return None;
        }
        i += 1 + fraction;
    }
    let offset = &b[i..];
    let offset_ok = matches!(offset, [b'Z' | b'z'])
        || (offset.len() == 6
            && matches!(offset[0], b'+' | b'-')
            && offset[1..3].iter().all(u8::is_ascii_digit)
            && offset[3] == b':'
            && offset[4..6].iter().all(u8::is_ascii_digit)
            && &offset[1..3] <= b"23".as_slice()
            && &offset[4..6] <= b"59".as_slice());
    if !offset_ok {
        return None;
    }
    let mut normalised = s.to_owned().into_bytes();
    normalised[10] = b'T';
    if let Some(last @ b'z') = normalised.last_mut() {
        *last = b'Z';
    }
    String::from_utf8(normalised).ok()
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with all nine digits of the nanoseconds: `2026-11-22T04:18:27.123456789Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PRINTER.timestamp_to_string(&self.to_jiff()))
    }
}

// ---------------------------------------------------------------------------------------------------
// The platform's calendar

/// The time zone the platform's days and months are counted in unless configured: China's.
pub const PLATFORM_TIME_ZONE_DEFAULT: &str = "Asia/Shanghai";

/// A time zone name the bundled time zone database does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTimeZone(pub String);

impl fmt::Display for UnknownTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a time zone of the IANA database (for example Asia/Shanghai)", self.0)
    }
}

impl std::error::Error for UnknownTimeZone {}

/// The platform's calendar: which day and month an instant falls in, where a day or a month starts.
/// Daily limits (an operator's, a member's transfers) and periods (bills, reports) ask it, never a
/// fixed offset.
#[derive(Clone, Debug)]
pub struct PlatformCalendar {
    name: String,
    zone: jiff::tz::TimeZone,
}

/// A day of the platform's calendar, as days since 1970-01-01 (the form stored in records that count
/// per day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformDay(pub i64);

/// A month of the platform's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformMonth {
    pub year: i16,
    /// 1 to 12.
    pub month: i8,
}

const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

impl PlatformCalendar {
    /// The calendar of the IANA time zone `name` (`Asia/Shanghai`, `Asia/Hong_Kong`, `UTC`...).
    pub fn new(name: &str) -> Result<PlatformCalendar, UnknownTimeZone> {
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| UnknownTimeZone(name.to_owned()))?;
        Ok(PlatformCalendar { name: name.to_owned(), zone })
    }

    /// China's calendar (Asia/Shanghai).
    pub fn china() -> PlatformCalendar {
        PlatformCalendar::new(PLATFORM_TIME_ZONE_DEFAULT).expect("the bundled database knows Asia/Shanghai")
    }

    pub fn time_zone(&self) -> &str {
        &self.name
    }

    fn date(&self, at: Timestamp) -> jiff::civil::Date {
        at.to_jiff().to_zoned(self.zone.clone()).date()
    }

    /// `at` as people there read it: the platform's local date and time, `2026-12-07 11:56:17`.
    pub fn local_text(&self, at: Timestamp) -> String {
        at.to_jiff().to_zoned(self.zone.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The day `at` falls in.
    pub fn day(&self, at: Timestamp) -> PlatformDay {
        let days = (self.date(at) - EPOCH).get_days();
        PlatformDay(i64::from(days))
    }

    /// The month `at` falls in.
    pub fn month(&self, at: Timestamp) -> PlatformMonth {
        let date = self.date(at);
        PlatformMonth { year: date.year(), month: date.month() }
    }

    /// The first instant of the calendar date `year-month-day`, or `None` if there is no such date.
    pub fn date_start(&self, year: i16, month: i8, day: i8) -> Option<Timestamp> {
        self.start_of(jiff::civil::Date::new(year, month, day).ok()?)
    }

    /// The first instant of `day`, or `None` outside the range of timestamps.
    pub fn day_start(&self, day: PlatformDay) -> Option<Timestamp> {
        let days = i32::try_from(day.0).ok()?;
        let date = EPOCH.checked_add(jiff::Span::new().try_days(days).ok()?).ok()?;
        self.start_of(date)
    }

    /// Whether `at` is the first instant of a day (its midnight, or the first instant of a day that
    /// has none).
    pub fn is_day_start(&self, at: Timestamp) -> bool {
        self.day_start(self.day(at)) == Some(at)
    }

    /// The month's first instant and the next month's first instant.
    pub fn month_bounds(&self, month: PlatformMonth) -> Option<(Timestamp, Timestamp)> {
        let first = jiff::civil::Date::new(month.year, month.month, 1).ok()?;
        let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
        Some((self.start_of(first)?, self.start_of(next)?))
    }

    fn start_of(&self, date: jiff::civil::Date) -> Option<Timestamp> {
        let zoned = date.to_zoned(self.zone.clone()).ok()?;
        Timestamp::from_jiff(zoned.timestamp())
    }
}

impl Default for PlatformCalendar {
    fn default() -> Self {
        PlatformCalendar::china()
    }
}

impl PlatformMonth {
    /// Reads `YYYY-MM` (a month of the years 1970 to 9999), the form [`PlatformMonth`]'s `Display`
    /// writes, and nothing looser.
    pub fn parse(text: &str) -> Option<PlatformMonth> {
        let b = text.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return None;
        }
        let year: i16 = text[..4].parse().ok()?;
        let month: i8 = text[5..].parse().ok()?;
        ((1970..=9999).contains(&year) && (1..=12).contains(&month)).then_some(PlatformMonth { year, month })
    }

    /// The month before this one.
    pub fn previous(self) -> PlatformMonth {
        if self.month == 1 {
            PlatformMonth { year: self.year - 1, month: 12 }
        } else {
            PlatformMonth { year: self.year, month: self.month - 1 }
        }
    }
}

impl fmt::Display for PlatformMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-11-22T04:18:27.123456Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T04:18:27.123456000Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000000Z");
        for nanos in [0, 1, 999, 1_763_784_000_123_456_789, -1, i64::MIN, i64::MAX] {
            let text = Timestamp(nanos).to_string();
            assert_eq!(Timestamp::parse_rfc3339(&text), Some(Timestamp(nanos)), "{text}");
        }
    }

    #[test]
    fn local_text_is_the_platform_time_zones_wall_clock() {
        let t = Timestamp::parse_rfc3339("2026-12-06T16:30:05.9Z").unwrap();
        assert_eq!(PlatformCalendar::china().local_text(t), "2026-12-07 00:30:05");
        assert_eq!(PlatformCalendar::new("UTC").unwrap().local_text(t), "2026-12-06 16:30:05");
    }

    #[test]
    fn offsets_are_applied() {
        let a = Timestamp::parse_rfc3339("2026-01-01T08:00:00+08:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01t00:00:00z"), Some(b));
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01 00:00:00Z"), Some(b));
    }

    #[test]
    fn invalid_dates_are_refused() {
        for s in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01",
            "2026-01-01T25:00:00Z",
            "x",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+08",
            "20260101T000000Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567891Z",
            "2026-01-01T00:00:00Z[Asia/Shanghai]",
            "2026-01-01T00:00:00+24:00",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_none(), "{s}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_some());
        // A multi-byte character where the offset's colon belongs once made the parser panic.
        assert!(Timestamp::parse_rfc3339("2026-01-01T00:00:00+00é0").is_none());
        assert!(Timestamp::parse_rfc3339("2026-01-01T00:00:00.1é").is_none());
    }

    #[test]
    fn the_platform_day_turns_at_midnight_in_its_time_zone() {
        let china = PlatformCalendar::china();
        let before = Timestamp::parse_rfc3339("2025-03-01T23:59:59.999999999+08:00").unwrap();
        let after = Timestamp::parse_rfc3339("2025-03-02T00:00:00+08:00").unwrap();
        assert_eq!(china.day(after).0, china.day(before).0 + 1);
        assert_eq!(china.day_start(china.day(before)), Timestamp::parse_rfc3339("2025-03-01T00:00:00+08:00"));
        // Days since 1970-01-01 in the zone: what records counting per day have always stored.
        assert_eq!(china.day(Timestamp(0)), PlatformDay(0));
        assert_eq!(china.day(Timestamp::parse_rfc3339("1970-01-01T16:00:00Z").unwrap()), PlatformDay(1));
        let utc = PlatformCalendar::new("UTC").unwrap();
        assert_eq!(utc.day(before), china.day(before));
        assert_eq!(utc.day(after), china.day(before));
    }

    #[test]
    fn a_month_runs_from_its_first_midnight_to_the_next_months() {
        let china = PlatformCalendar::china();
        let at = Timestamp::parse_rfc3339("2026-01-31T16:30:00Z").unwrap(); // 1 February 00:30 in China
        let month = china.month(at);
        assert_eq!(month, PlatformMonth { year: 2026, month: 2 });
        assert_eq!(month.to_string(), "2026-02");
        let (start, end) = china.month_bounds(month).unwrap();
        assert_eq!(start, Timestamp::parse_rfc3339("2026-02-01T00:00:00+08:00").unwrap());
        assert_eq!(end, Timestamp::parse_rfc3339("2026-03-01T00:00:00+08:00").unwrap());
        let december = china.month_bounds(PlatformMonth { year: 2026, month: 12 }).unwrap();
        assert_eq!(december.1, Timestamp::parse_rfc3339("2027-01-01T00:00:00+08:00").unwrap());
    }

    #[test]
    fn a_month_reads_as_it_is_written_and_knows_the_one_before() {
        let november = PlatformMonth::parse("2026-11").unwrap();
        assert_eq!(november, PlatformMonth { year: 2026, month: 11 });
        assert_eq!(november.to_string(), "2026-11");
        assert_eq!(PlatformMonth::parse("2026-01").unwrap().previous(), PlatformMonth { year: 2025, month: 12 });
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "1969-12", "2026-11-01", "２026-11", ""] {
            assert!(PlatformMonth::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_date_starts_at_its_midnight_and_only_real_dates_do() {
        let china = PlatformCalendar::china();
        assert_eq!(china.date_start(2024, 2, 29), Timestamp::parse_rfc3339("2024-02-29T00:00:00+08:00"));
        assert_eq!(china.date_start(2025, 2, 29), None);
        assert_eq!(china.date_start(2025, 13, 1), None);
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        assert_eq!(PlatformCalendar::new("Mars/Olympus").unwrap_err(), UnknownTimeZone("Mars/Olympus".into()));
        assert_eq!(PlatformCalendar::new("Asia/Hong_Kong").unwrap().time_zone(), "Asia/Hong_Kong");
    }
}
