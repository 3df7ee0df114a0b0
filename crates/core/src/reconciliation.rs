//! Channel reconciliation (渠道对账): a payment channel's daily statement file read through the
//! channel's column layout, and its lines matched against sanhu's own orders of that channel and day.
//! Everything here is parsing and matching rules; the service finds sanhu's orders and keeps the
//! imports.
//!
//! **Reading a file.** A statement is delimited text (CSV, or `|`-separated as banks write it): some
//! header rows, one line per transaction, some footer rows (WeChat Pay's totals). A layout says which
//! column holds what, by header name or by number; each field is trimmed and loses the leading
//! backtick WeChat Pay puts before numbers so that spreadsheets keep them as text. A line that cannot
//! be read stops the import with its line and column ([`CsvProblem`]): a file is taken whole or not at
//! all.
//!
//! **Matching.** A line is a recharge, a refund or a payout (a withdrawal paid out to a bank card),
//! by its kind column's value, else its sign, else the layout's default. It is matched with the sanhu
//! order of that kind and order number (a refund also by its refund number where the file has one):
//!
//! | channel line | sanhu order | result |
//! |---|---|---|
//! | succeeded | completed, same amount | `matched` |
//! | succeeded | completed, other amount | `amount_mismatch` |
//! | succeeded | absent, or not completed | `missing_in_sanhu` (长款) |
//! | not succeeded | completed | `status_mismatch` |
//! | not succeeded | absent, or not completed | `matched` (neither moved money) |
//! | — | completed that day, in no line | `missing_in_channel` (短款) |

use std::collections::{HashMap, HashSet};
use std::fmt;

rejection_codes! {
    /// Why a reconciliation rule refused.
    pub enum ReconciliationError {
        ImportNotFound => "reconciliation_import_not_found", 404, "no reconciliation import has this id",
        DifferenceNotFound => "reconciliation_difference_not_found", 404,
            "the import has no difference with this number",
        ChannelNotConfigured => "reconciliation_channel_not_configured", 422,
            "the channel is neither a wallet channel nor a payout channel of `[[reconciliation.channels]]`",
        DateInvalid => "reconciliation_date_invalid", 422,
            "`date` is a day of the platform's calendar, `YYYY-MM-DD`, not after today",
        FileTooLarge => "reconciliation_file_too_large", 422,
            "a statement file holds at most 786,432 bytes and 10,000 lines: import a large statement in parts",
        FileInvalid => "reconciliation_file_invalid", 422,
            "a line of the statement file cannot be read with the channel's layout: the message names the line and \
             the column",
        TooManyOrders => "reconciliation_too_many_orders", 422,
            "sanhu has more orders of this channel and day than one import compares (50,000)",
        ReasonInvalid => "reconciliation_reason_invalid", 422, "a resolution gives a reason of 1 to 200 characters",
        DifferenceResolved => "reconciliation_difference_resolved", 409, "the difference is resolved already",
        NotCreditable => "reconciliation_not_creditable", 409,
            "only a recharge the channel paid, with its amount, that sanhu has pending or in review and that no other \
             client's recharge shares the number of, is credited: explain the others",
        CreditStaffOnly => "reconciliation_credit_staff_only", 403,
            "crediting a recharge from a reconciliation is asked by a staff member and approved by another",
    }
}

/// The largest statement file, in bytes (within the API's body limit, with its JSON around it).
pub const FILE_BYTES_MAX: usize = 768 * 1024;
/// The most lines a statement file has, header and footer included.
pub const FILE_LINES_MAX: usize = 10_000;
/// The most sanhu orders of one channel and day an import compares.
pub const DAY_ORDERS_MAX: usize = 50_000;
/// The longest resolution reason, in characters.
pub const REASON_CHARS_MAX: usize = 200;
/// The longest field kept from a line, in characters (order numbers are at most 64).
pub const FIELD_CHARS_MAX: usize = 128;

/// A column of a layout: its number (1 is the first) or the header names it may have (the first
/// found in the last header row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Number(usize),
    Header(Vec<String>),
}

impl Column {
    pub fn header(names: &[&str]) -> Column {
        Column::Header(names.iter().map(|n| (*n).to_owned()).collect())
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Number(n) => write!(f, "column {n}"),
            Column::Header(names) => write!(f, "a column named {}", names.join(" or ")),
        }
    }
}

/// How a statement's amounts are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountUnit {
    /// `12.34` (and `¥12.34`, `1,234.5`).
    Yuan,
    /// `1234`.
    Fen,
}

/// What a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    Recharge,
    Refund,
    Payout,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Recharge => "recharge",
            LineKind::Refund => "refund",
            LineKind::Payout => "payout",
        }
    }

    pub fn parse(text: &str) -> Option<LineKind> {
        match text {
            "recharge" => Some(LineKind::Recharge),
            "refund" => Some(LineKind::Refund),
            "payout" => Some(LineKind::Payout),
            _ => None,
        }
    }
}

/// A channel's statement layout (`[[reconciliation.channels]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    /// The channel as sanhu's recharges name it (`wechat`), or a payout channel's name.
    pub channel: String,
    /// This channel pays out sanhu's withdrawals (they name no channel): its file's payout lines are
    /// matched with them.
    pub payouts: bool,
    pub delimiter: char,
    pub header_rows: usize,
    pub footer_rows: usize,
    pub order_number: Column,
    pub refund_number: Option<Column>,
    pub transaction_id: Option<Column>,
    pub amount: Column,
    /// A refund line's amount, where the file keeps it apart (WeChat Pay's 退款金额).
    pub refund_amount: Option<Column>,
    pub amount_unit: AmountUnit,
    pub time: Option<Column>,
    pub status: Option<Column>,
    /// Status values that say the money moved (compared without case); others did not.
    pub success_values: Vec<String>,
    pub kind: Option<Column>,
    pub refund_values: Vec<String>,
    pub payout_values: Vec<String>,
    /// A line whose kind the file does not tell (no kind column, or a value of neither list) and
    /// whose amount is not negative.
    pub default_kind: LineKind,
}

fn texts(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl ChannelLayout {
    /// The common layout: comma-separated, one header row, columns found by the names wallets' and
    /// banks' statements use (Chinese or English), amounts in yuan.
    pub fn default_for(channel: &str) -> ChannelLayout {
        ChannelLayout {
            channel: channel.to_owned(),
            payouts: false,
            delimiter: ',',
            header_rows: 1,
            footer_rows: 0,
            order_number: Column::header(&["商户订单号", "order_number", "out_trade_no", "订单号"]),
            refund_number: Some(Column::header(&["商户退款单号", "refund_number", "out_refund_no"])),
            transaction_id: Some(Column::header(&[
                "微信订单号",
                "支付宝交易号",
                "交易流水号",
                "流水号",
                "transaction_id",
            ])),
            amount: Column::header(&["金额", "交易金额", "订单金额", "amount"]),
            refund_amount: None,
            amount_unit: AmountUnit::Yuan,
            time: Some(Column::header(&["交易时间", "time"])),
            status: Some(Column::header(&["交易状态", "状态", "status"])),
            success_values: Self::success_values_default(),
            kind: Some(Column::header(&["交易类型", "业务类型", "kind", "type"])),
            refund_values: texts(&["REFUND", "退款"]),
            payout_values: texts(&["PAYOUT", "代付", "提现"]),
            default_kind: LineKind::Recharge,
        }
    }

    pub fn success_values_default() -> Vec<String> {
        texts(&["SUCCESS", "REFUND", "PAID", "成功", "交易成功", "支付成功", "退款成功", "已退款", "已支付"])
    }

    /// Checks a configured layout; the error says what is wrong, for the configuration's message.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = (1..=32).contains(&self.channel.len())
            && self.channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err("channel: 1 to 32 of a-z, 0-9 and _".to_owned());
        }
        if self.delimiter == '"' || self.delimiter == '\n' || self.delimiter == '\r' {
            return Err("delimiter: one character other than a quote or a line break".to_owned());
        }
        if self.header_rows > 10 || self.footer_rows > 10 {
            return Err("header_rows and footer_rows: at most 10".to_owned());
        }
        let columns = [
            ("order_number", Some(&self.order_number)),
            ("amount", Some(&self.amount)),
            ("refund_number", self.refund_number.as_ref()),
            ("transaction_id", self.transaction_id.as_ref()),
            ("refund_amount", self.refund_amount.as_ref()),
            ("time", self.time.as_ref()),
            ("status", self.status.as_ref()),
            ("kind", self.kind.as_ref()),
        ];
        for (name, column) in columns {
            match column {
                Some(Column::Number(0)) | Some(Column::Number(1001..)) => {
                    return Err(format!("{name}: a column number is 1 to 1000"));
                }
                Some(Column::Header(names)) if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) => {
                    return Err(format!("{name}: a header name is not empty"));
                }
                Some(Column::Header(_)) if self.header_rows == 0 => {
                    return Err(format!("{name}: a column named by its header needs header_rows of at least 1"));
                }
                _ => {}
            }
        }
        if self.success_values.is_empty() {
            return Err("success_values: at least one value".to_owned());
        }
        Ok(())
    }
}

/// Where a file cannot be read: its line (1 is the first) and column (1 is the first; 0: the whole
/// line), with what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvProblem {
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

impl fmt::Display for CsvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "line {}: {}", self.line, self.problem)
        } else {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.problem)
        }
    }
}

/// One transaction line of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    /// Its line in the file (1 is the first).
    pub line: usize,
    pub kind: LineKind,
    pub order_number: String,
    pub refund_number: Option<String>,
    pub transaction_id: Option<String>,
    /// In minor units, positive.
    pub amount: i64,
    /// The status as written (none without a status column).
    pub status: Option<String>,
    /// Whether the money moved, by the status.
    pub succeeded: bool,
}

/// Splits one line into fields: `delimiter`-separated, a field in double quotes may hold the delimiter
/// and `""` for a quote.
fn fields(text: &str, delimiter: char, line: usize) -> Result<Vec<String>, CsvProblem> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == delimiter {
            out.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            if !matches!(c, ' ' | '\t') {
                at_start = false;
            }
            field.push(c);
        }
    }
    if quoted {
        return Err(CsvProblem { line, column: out.len() + 1, problem: "a quoted field is not closed".to_owned() });
    }
    out.push(field);
    Ok(out.into_iter().map(|f| f.trim().trim_start_matches('`').trim().to_owned()).collect())
}

/// A layout's columns resolved to positions (0-based) for one file.
struct Positions {
    order_number: usize,
    refund_number: Option<usize>,
    transaction_id: Option<usize>,
    amount: usize,
    refund_amount: Option<usize>,
    time: Option<usize>,
    status: Option<usize>,
    kind: Option<usize>,
}

fn position(column: &Column, header: Option<&[String]>, header_line: usize) -> Result<usize, CsvProblem> {
    match column {
        Column::Number(n) => n.checked_sub(1).ok_or_else(|| CsvProblem {
            line: header_line,
            column: 0,
            problem: "column numbers start at 1".to_owned(),
        }),
        Column::Header(names) => header
            .and_then(|h| names.iter().find_map(|name| h.iter().position(|f| f == name)))
            .ok_or_else(|| CsvProblem { line: header_line, column: 0, problem: format!("the header has no {column}") }),
    }
}

/// An optional column: a header name not found leaves it out when the layout is the default one
/// (which names what common files may have), and is a problem when configured as one name.
fn optional(
    column: Option<&Column>,
    header: Option<&[String]>,
    header_line: usize,
) -> Result<Option<usize>, CsvProblem> {
    match column {
        None => Ok(None),
        Some(c @ Column::Header(names)) if names.len() > 1 => Ok(position(c, header, header_line).ok()),
        Some(column) => position(column, header, header_line).map(Some),
    }
}

/// Reads an amount in `unit` into minor units; negative amounts keep their sign.
pub fn parse_amount(text: &str, unit: AmountUnit) -> Option<i64> {
    let cleaned: String = text.chars().filter(|c| !matches!(c, '¥' | '￥' | ',' | ' ')).collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let (whole, fraction) = match (unit, digits.split_once('.')) {
        (AmountUnit::Fen, Some(_)) => return None,
        (AmountUnit::Fen, None) => (digits, ""),
        (AmountUnit::Yuan, Some((w, f))) => (w, f),
        (AmountUnit::Yuan, None) => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 2 || whole.len() > 15 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let minor = match unit {
        AmountUnit::Fen => whole,
        AmountUnit::Yuan => {
            let cents: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().ok()? };
            whole.checked_mul(100)?.checked_add(cents)?
        }
    };
    Some(if negative { -minor } else { minor })
}

/// Reads a statement file with `layout`; every line of the business day `date` (`YYYY-MM-DD`) where a
/// time column says the day.
pub fn parse_statement(layout: &ChannelLayout, text: &str, date: &str) -> Result<Vec<StatementLine>, CsvProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows: Vec<(usize, &str)> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if rows.len() > FILE_LINES_MAX {
        return Err(CsvProblem {
            line: rows[FILE_LINES_MAX].0,
            column: 0,
            problem: format!("the file has more than {FILE_LINES_MAX} lines"),
        });
    }
    if rows.len() < layout.header_rows + layout.footer_rows {
        return Err(CsvProblem {
            line: 1,
            column: 0,
            problem: "the file has fewer lines than its header and footer".into(),
        });
    }
    let header_line = if layout.header_rows == 0 { 1 } else { rows[layout.header_rows - 1].0 };
    let header = match layout.header_rows {
        0 => None,
        n => Some(fields(rows[n - 1].1, layout.delimiter, header_line)?),
    };
    let header = header.as_deref();
    let at = Positions {
        order_number: position(&layout.order_number, header, header_line)?,
        amount: position(&layout.amount, header, header_line)?,
        refund_number: optional(layout.refund_number.as_ref(), header, header_line)?,
        transaction_id: optional(layout.transaction_id.as_ref(), header, header_line)?,
        refund_amount: optional(layout.refund_amount.as_ref(), header, header_line)?,
        time: optional(layout.time.as_ref(), header, header_line)?,
        status: optional(layout.status.as_ref(), header, header_line)?,
        kind: optional(layout.kind.as_ref(), header, header_line)?,
    };
    let matches_any = |values: &[String], text: &str| values.iter().any(|v| v.eq_ignore_ascii_case(text));
    let body = &rows[layout.header_rows..rows.len() - layout.footer_rows];
    let mut lines = Vec::with_capacity(body.len());
    for &(line, row) in body {
        let fields = fields(row, layout.delimiter, line)?;
        let problem = |column: usize, problem: String| CsvProblem { line, column: column + 1, problem };
        let get = |column: usize, what: &str| -> Result<String, CsvProblem> {
            let value = fields
                .get(column)
                .ok_or_else(|| problem(column, format!("the line has no {what} (only {} columns)", fields.len())))?;
            if value.chars().count() > FIELD_CHARS_MAX {
                return Err(problem(column, format!("the {what} is longer than {FIELD_CHARS_MAX} characters")));
            }
            Ok(value.clone())
        };
        let optional_text = |column: Option<usize>, what: &str| -> Result<Option<String>, CsvProblem> {
            Ok(match column {
                None => None,
                Some(c) => Some(get(c, what)?).filter(|t| !t.is_empty()),
            })
        };
        let order_number = get(at.order_number, "order number")?;
        let order_ok = (1..=64).contains(&order_number.len()) && order_number.bytes().all(|b| b.is_ascii_graphic());
        if !order_ok {
            return Err(problem(at.order_number, format!("{order_number:?} is not an order number")));
        }
        if let Some(time) = optional_text(at.time, "time")? {
            let day: String = time.chars().take(10).map(|c| if c == '/' { '-' } else { c }).collect();
            if day != date {
                return Err(problem(at.time.unwrap_or(0), format!("{time:?} is not on the business date {date}")));
            }
        }
        let status = optional_text(at.status, "status")?;
        let succeeded = status.as_deref().is_none_or(|s| matches_any(&layout.success_values, s));
        let kind_text = optional_text(at.kind, "kind")?;
        let named = kind_text.as_deref().and_then(|k| {
            if matches_any(&layout.refund_values, k) {
                Some(LineKind::Refund)
            } else if matches_any(&layout.payout_values, k) {
                Some(LineKind::Payout)
            } else {
                None
            }
        });
        let amount_column = match (named, at.refund_amount) {
            (Some(LineKind::Refund), Some(c)) => c,
            _ => at.amount,
        };
        let amount_text = get(amount_column, "amount")?;
        let amount = parse_amount(&amount_text, layout.amount_unit).ok_or_else(|| {
            let unit = match layout.amount_unit {
                AmountUnit::Yuan => "yuan with at most 2 decimals",
                AmountUnit::Fen => "fen, a whole number",
            };
            problem(amount_column, format!("{amount_text:?} is not an amount in {unit}"))
        })?;
        if amount == 0 {
            return Err(problem(amount_column, "the amount is zero".to_owned()));
        }
        let kind = named.unwrap_or(if amount < 0 { LineKind::Refund } else { layout.default_kind });
        lines.push(StatementLine {
            line,
            kind,
            order_number,
            refund_number: optional_text(at.refund_number, "refund number")?,
            transaction_id: optional_text(at.transaction_id, "transaction id")?,
            amount: amount.abs(),
            status,
            succeeded,
        });
    }
    Ok(lines)
}

/// A sanhu order as matching sees it: a recharge, one refund of a recharge, or a withdrawal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SanhuOrder {
    pub kind: LineKind,
    /// The record it is kept in (a refund's is its recharge's).
    pub record_id: String,
    pub order_number: String,
    pub refund_number: Option<String>,
    /// What the channel moves for it, in minor units.
    pub amount: i64,
    /// Its status in sanhu's words.
    pub status: String,
    /// Whether sanhu's money moved for it.
    pub completed: bool,
}

impl SanhuOrder {
    fn key(&self) -> (LineKind, &str, Option<&str>) {
        (self.kind, &self.order_number, self.refund_number.as_deref())
    }
}

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DifferenceKind {
    MissingInSanhu,
    MissingInChannel,
    AmountMismatch,
    StatusMismatch,
}

impl DifferenceKind {
    pub const ALL: [DifferenceKind; 4] = [
        DifferenceKind::MissingInSanhu,
        DifferenceKind::MissingInChannel,
        DifferenceKind::AmountMismatch,
        DifferenceKind::StatusMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingInSanhu => "missing_in_sanhu",
            DifferenceKind::MissingInChannel => "missing_in_channel",
            DifferenceKind::AmountMismatch => "amount_mismatch",
            DifferenceKind::StatusMismatch => "status_mismatch",
        }
    }

    pub fn parse(text: &str) -> Option<DifferenceKind> {
        DifferenceKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A difference between the file and sanhu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub line: Option<StatementLine>,
    pub order: Option<SanhuOrder>,
}

/// What matching found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matching {
    pub matched: usize,
    pub differences: Vec<Difference>,
}

/// Matches `lines` with sanhu's orders: `found` holds every order of a line's kind and number (of any
/// day), `day` the orders of the channel and business day. A sanhu order answers one line at most: a
/// line repeated in the file finds it taken and is missing in sanhu.
pub fn reconcile(lines: &[StatementLine], found: &[SanhuOrder], day: &[SanhuOrder]) -> Matching {
    let mut by_number: HashMap<(LineKind, &str), Vec<&SanhuOrder>> = HashMap::new();
    for order in found.iter().chain(day) {
        let list = by_number.entry((order.kind, order.order_number.as_str())).or_default();
        if !list.iter().any(|o| o.record_id == order.record_id && o.refund_number == order.refund_number) {
            list.push(order);
        }
    }
    let mut taken: HashSet<(LineKind, &str, Option<&str>, &str)> = HashSet::new();
    let mut out = Matching::default();
    for line in lines {
        let candidates = by_number.get(&(line.kind, line.order_number.as_str())).map(Vec::as_slice).unwrap_or(&[]);
        let free = |o: &&&SanhuOrder| {
            !taken.contains(&(o.kind, o.order_number.as_str(), o.refund_number.as_deref(), o.record_id.as_str()))
                && (line.kind != LineKind::Refund
                    || line.refund_number.is_none()
                    || o.refund_number == line.refund_number)
        };
        // The best partner: completed with the same amount, then completed, then any.
        let order = candidates
            .iter()
            .filter(free)
            .max_by_key(|o| (o.completed && o.amount == line.amount, o.completed))
            .copied();
        if let Some(o) = order {
            taken.insert((o.kind, o.order_number.as_str(), o.refund_number.as_deref(), o.record_id.as_str()));
        }
        let kind = match (line.succeeded, order) {
            (true, Some(o)) if o.completed && o.amount == line.amount => None,
            (true, Some(o)) if o.completed => Some(DifferenceKind::AmountMismatch),
            (true, _) => Some(DifferenceKind::MissingInSanhu),
            (false, Some(o)) if o.completed => Some(DifferenceKind::StatusMismatch),
            (false, _) => None,
        };
        match kind {
            None => out.matched += 1,
            Some(kind) => out.differences.push(Difference { kind, line: Some(line.clone()), order: order.cloned() }),
        }
    }
    for order in day.iter().filter(|o| o.completed) {
        let (kind, number, refund) = order.key();
        if !taken.contains(&(kind, number, refund, order.record_id.as_str())) {
            out.differences.push(Difference {
                kind: DifferenceKind::MissingInChannel,
                line: None,
                order: Some(order.clone()),
            });
        }
    }
    out
}

/// A resolution's reason, trimmed: 1 to 200 characters.
pub fn check_reason(text: &str) -> Result<String, ReconciliationError> {
    let text = text.trim();
    let ok = !text.is_empty() && text.chars().count() <= REASON_CHARS_MAX;
    ok.then(|| text.to_owned()).ok_or(ReconciliationError::ReasonInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(kind: LineKind, number: &str, amount: i64, completed: bool) -> SanhuOrder {
        SanhuOrder {
            kind,
            record_id: format!("r:{number}"),
            order_number: number.to_owned(),
            refund_number: None,
            amount,
            status: if completed { "succeeded" } else { "pending" }.to_owned(),
            completed,
        }
    }

    #[test]
    fn amounts_in_yuan_and_fen_are_read_to_the_cent() {
        assert_eq!(parse_amount("12.34", AmountUnit::Yuan), Some(1234));
        assert_eq!(parse_amount("¥1,000.5", AmountUnit::Yuan), Some(100_050));
        assert_eq!(parse_amount("-3", AmountUnit::Yuan), Some(-300));
        assert_eq!(parse_amount("12.345", AmountUnit::Yuan), None);
        assert_eq!(parse_amount("1234", AmountUnit::Fen), Some(1234));
        assert_eq!(parse_amount("12.34", AmountUnit::Fen), None);
        assert_eq!(parse_amount("abc", AmountUnit::Yuan), None);
    }

    #[test]
    fn a_wechat_like_file_is_read_with_its_backticks_and_totals() {
        let layout = ChannelLayout {
            footer_rows: 2,
            refund_amount: Some(Column::header(&["退款金额"])),
            kind: Some(Column::header(&["交易状态"])),
            ..ChannelLayout::default_for("wechat")
        };
        let text = "交易时间,微信订单号,商户订单号,交易状态,订单金额,商户退款单号,退款金额\n\
                    `2026-12-07 10:00:00,`4200001,`R-1,`SUCCESS,`100.00,,`0.00\n\
                    `2026-12-07 11:00:00,`4200002,`R-2,`REFUND,`50.00,`RF-1,`20.00\n\
                    总交易单数,应结订单总金额\n`2,`150.00\n";
        let lines = parse_statement(&layout, text, "2026-12-07").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].kind, lines[0].amount, lines[0].succeeded), (LineKind::Recharge, 10_000, true));
        assert_eq!(lines[0].transaction_id.as_deref(), Some("4200001"));
        assert_eq!((lines[1].kind, lines[1].amount), (LineKind::Refund, 2_000));
        assert_eq!(lines[1].refund_number.as_deref(), Some("RF-1"));
    }

    #[test]
    fn a_bad_line_is_named_by_its_line_and_column() {
        let layout = ChannelLayout::default_for("alipay");
        let text = "商户订单号,金额\nA-1,1.00\nA-2,1.0.0\n";
        let problem = parse_statement(&layout, text, "2026-12-07").unwrap_err();
        assert_eq!((problem.line, problem.column), (3, 2));
        let problem = parse_statement(&layout, "订单,金额\nA-1,1.00\n", "2026-12-07").unwrap_err();
        assert_eq!((problem.line, problem.column), (1, 0));
        let problem = parse_statement(&layout, "商户订单号,金额\n\"A-1,1.00\n", "2026-12-07").unwrap_err();
        assert_eq!(problem.line, 2);
    }

    #[test]
    fn each_kind_of_difference_is_found() {
        let line = |n: usize, number: &str, amount: i64, succeeded: bool| StatementLine {
            line: n,
            kind: LineKind::Recharge,
            order_number: number.to_owned(),
            refund_number: None,
            transaction_id: None,
            amount,
            status: None,
            succeeded,
        };
        let lines = [
            line(2, "M", 100, true),
            line(3, "A", 100, true),
            line(4, "S", 100, false),
            line(5, "X", 100, true),
            line(6, "P", 100, true),
            line(7, "M", 100, true),
        ];
        let found = [order(LineKind::Recharge, "P", 100, false)];
        let day = [
            order(LineKind::Recharge, "M", 100, true),
            order(LineKind::Recharge, "A", 90, true),
            order(LineKind::Recharge, "S", 100, true),
            order(LineKind::Recharge, "C", 100, true),
            order(LineKind::Recharge, "F", 100, false),
        ];
        let matching = reconcile(&lines, &found, &day);
        assert_eq!(matching.matched, 1);
        let kinds: Vec<(&str, &str)> = matching
            .differences
            .iter()
            .map(|d| {
                let number = d.line.as_ref().map(|l| l.order_number.as_str());
                (d.kind.as_str(), number.or(d.order.as_ref().map(|o| o.order_number.as_str())).unwrap())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("amount_mismatch", "A"),
                ("status_mismatch", "S"),
                ("missing_in_sanhu", "X"),
                ("missing_in_sanhu", "P"),
                ("missing_in_sanhu", "M"),
                ("missing_in_channel", "C"),
            ]
        );
    }
}
