//! docs/WALLET.md, run as written: the guide's `sanhu call` commands against a real `sanhu serve`
//! started with the guide's `sanhu.toml`, in the guide's order, each answer compared with the
//! guide's JSON on the fields it shows. On SQLite and on PostgreSQL (a fresh schema; skipped with a
//! message when PostgreSQL is unreachable, except under `CI=true`).
//!
//! How the guide is read:
//!
//! - The first ```toml block is `sanhu.toml`. Its channel `status_url` points at
//!   `127.0.0.1:9000`; the test runs a channel there that says every order was paid (on a port of its
//!   own, which it writes in the URL's place). A later ```toml block holds keys to change: they are
//!   merged into the file and the server is restarted.
//! - A ```sh block whose commands are `sanhu call` lines is run, command by command, in `sh` terms: `#`
//!   comments, `\` continuations, '…' and "…" quoting, `$NAME` expansion, and `--data @- <<EOF`
//!   here-documents, which become the command's standard input. Any other ```sh block (`sanhu serve`) is
//!   left alone; a block mixing the two is an error in the guide.
//! - A command uses only ids learnt before its block: a reader sets them in the shell first.
//! - The ```json blocks after a ```sh block (before the next ```sh or ```toml block) are the answers of
//!   its commands, in order; commands beyond them must succeed. An answer with an `error` field is a
//!   refusal (`sanhu call` exits non-zero); any other, a success. Only the fields an answer shows are
//!   compared; `"…"` ending a list lets the actual list have more elements, the shown ones in order. A
//!   string that is a whole `$NAME` learns the actual value when `NAME` is new, and is compared with it
//!   after.
//! - A GET whose comment says "later" (`# a few seconds later`) is asked again until its answer matches
//!   (at most `POLL_TIMEOUT`): the compensation and expiry jobs take their time.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{start_paying_channel, Database, PostgresSchema, Server, WorkDir};
use serde_json::{json, Value};

/// The guide, read at compile time so that editing it rebuilds the test.
const GUIDE: &str = include_str!("../../../../docs/WALLET.md");
const GUIDE_PATH: &str = "docs/WALLET.md";

/// A guide the runner runs: its text and path, and what a run of it must show.
pub(crate) struct Guide {
    pub text: &'static str,
    pub path: &'static str,
    /// Its `sanhu.toml` has a channel whose status endpoint is asked about unconfirmed orders.
    pub asks_a_channel: bool,
    /// At least this many calls and compared answers.
    pub calls_min: usize,
}

const WALLET_GUIDE: Guide = Guide { text: GUIDE, path: GUIDE_PATH, asks_a_channel: true, calls_min: 100 };

thread_local! {
    /// The path of the guide this thread runs, for the messages that point into it.
    static RUNNING: std::cell::Cell<&'static str> = const { std::cell::Cell::new(GUIDE_PATH) };
}

/// The path of the guide being run.
fn guide() -> &'static str {
    RUNNING.with(std::cell::Cell::get)
}
/// The channel status endpoint's address in the guide's `sanhu.toml`, which the test replaces.
const GUIDE_CHANNEL_ADDRESS: &str = "127.0.0.1:9000";
/// Longest a GET is asked again until its answer matches: the recharge expiry is a minute and its
/// job runs every 30 s, so an order may take 90 s from creation to read `expired`.
const POLL_TIMEOUT: Duration = Duration::from_secs(150);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// A GET whose comment says this is asked again until its answer matches.
const LATER: &str = "later";
/// The list element that stands for "and more".
const ELLIPSIS: &str = "…";

// ---------------------------------------------------------------------------------------------
// The guide's blocks
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sh,
    Json,
    Toml,
    Other,
}

/// A fenced block: its kind, the line of its opening fence (1-based) and its text.
#[derive(Debug)]
struct Block {
    kind: Kind,
    line: usize,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let guide = guide();
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                let kind = match info.trim() {
                    "sh" => Kind::Sh,
                    "json" => Kind::Json,
                    "toml" => Kind::Toml,
                    _ => Kind::Other,
                };
                open = Some(Block { kind, line: index + 1, text: String::new() });
            }
            (Some(_), Some(_)) => blocks.push(open.take().expect("an open block")),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{guide}: a fenced block is not closed");
    blocks
}

// ---------------------------------------------------------------------------------------------
// A small `sh` reader for the guide's commands
// ---------------------------------------------------------------------------------------------

/// A piece of a shell word: literal text, or a variable to expand.
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Var(String),
}

type Word = Vec<Piece>;

/// One command: its words, and the here-document it reads, if any.
#[derive(Debug)]
struct ShellCommand {
    line: usize,
    words: Vec<Word>,
    stdin: Option<Word>,
    /// The comment at the end of its line, if any.
    comment: Option<String>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads `$NAME` or `${NAME}` after the `$`; None when what follows is no variable name.
fn read_var(chars: &[char], at: &mut usize) -> Option<String> {
    if chars.get(*at) == Some(&'{') {
        let end = chars[*at..].iter().position(|&c| c == '}')? + *at;
        let name: String = chars[*at + 1..end].iter().collect();
        *at = end + 1;
        return Some(name);
    }
    if !chars.get(*at).is_some_and(|&c| is_name_start(c)) {
        return None;
    }
    let start = *at;
    while chars.get(*at).is_some_and(|&c| is_name_char(c)) {
        *at += 1;
    }
    Some(chars[start..*at].iter().collect())
}

fn push_text(word: &mut Word, c: char) {
    match word.last_mut() {
        Some(Piece::Text(text)) => text.push(c),
        _ => word.push(Piece::Text(c.to_string())),
    }
}

/// Expands `$NAME` in a here-document's or double-quoted text; `\$`, `\\`, `\"` (in quotes) escape.
fn expand(text: &str, in_quotes: bool) -> Word {
    let chars: Vec<char> = text.chars().collect();
    let mut word = Word::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        at += 1;
        match c {
            '\\' if matches!(chars.get(at), Some('$' | '\\')) || (in_quotes && chars.get(at) == Some(&'"')) => {
                push_text(&mut word, chars[at]);
                at += 1;
            }
            '$' => match read_var(&chars, &mut at) {
                Some(name) => word.push(Piece::Var(name)),
                None => push_text(&mut word, '$'),
            },
            _ => push_text(&mut word, c),
        }
    }
    word
}

/// The commands of a ```sh block. Panics, naming the guide's line, on what this reader does not
/// take (pipes, redirections other than a here-document, command substitution, `;`, `&`).
fn shell_commands(block: &Block) -> Vec<ShellCommand> {
    let guide = guide();
    let lines: Vec<&str> = block.text.lines().collect();
    let mut commands = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let first_line = block.line + 1 + index;
        // A logical line: physical lines joined at a trailing backslash.
        let mut logical = String::new();
        loop {
            let line = lines[index];
            index += 1;
            match line.strip_suffix('\\') {
                Some(joined) if index < lines.len() => logical.push_str(joined),
                _ => {
                    logical.push_str(line);
                    break;
                }
            }
        }
        let here = |what: &str| format!("{guide}:{first_line}: {what}");
        let chars: Vec<char> = logical.chars().collect();
        let mut words: Vec<Word> = Vec::new();
        let mut word: Option<Word> = None;
        let mut delimiter: Option<(String, bool)> = None;
        let mut comment = None;
        let mut at = 0;
        while at < chars.len() {
            let c = chars[at];
            at += 1;
            match c {
                ' ' | '\t' => {
                    if let Some(done) = word.take() {
                        words.push(done);
                    }
                }
                '#' if word.is_none() => {
                    comment = Some(chars[at..].iter().collect::<String>().trim().to_owned());
                    break;
                }
                '\'' => {
                    let end = chars[at..].iter().position(|&c| c == '\'').map(|p| p + at);
                    let end = end.unwrap_or_else(|| panic!("{}", here("an unclosed '")));
                    let current = word.get_or_insert_with(Word::new);
                    for &c in &chars[at..end] {
                        push_text(current, c);
                    }
                    at = end + 1;
                }
                '"' => {
                    let mut end = at;
                    while end < chars.len() && chars[end] != '"' {
                        end += if chars[end] == '\\' { 2 } else { 1 };
                    }
                    assert!(end < chars.len(), "{}", here("an unclosed \""));
                    let text: String = chars[at..end].iter().collect();
                    word.get_or_insert_with(Word::new).extend(expand(&text, true));
                    at = end + 1;
                }
                '$' => {
                    assert!(chars.get(at) != Some(&'('), "{}", here("command substitution is not taken"));
                    let current = word.get_or_insert_with(Word::new);
                    match read_var(&chars, &mut at) {
                        Some(name) => current.push(Piece::Var(name)),
                        None => push_text(current, '$'),
                    }
                }
                '<' if chars.get(at) == Some(&'<') && word.is_none() => {
                    let rest: String = chars[at + 1..].iter().collect();
                    let rest = rest.trim();
                    let (name, quoted) = match rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                        Some(name) => (name.to_owned(), true),
                        None => (rest.to_owned(), false),
                    };
                    assert!(
                        !name.is_empty() && name.chars().all(is_name_char),
                        "{}",
                        here("a here-document names its delimiter, alone at the end of the line")
                    );
                    delimiter = Some((name, quoted));
                    at = chars.len();
                }
                '|' | ';' | '&' | '<' | '>' | '`' | '(' | ')' => {
                    panic!("{}", here(&format!("{c:?} is not taken: one plain command per line")))
                }
                '\\' => {
                    let next = chars.get(at).copied().unwrap_or_else(|| panic!("{}", here("a lone \\")));
                    push_text(word.get_or_insert_with(Word::new), next);
                    at += 1;
                }
                _ => push_text(word.get_or_insert_with(Word::new), c),
            }
        }
        if let Some(done) = word.take() {
            words.push(done);
        }
        let stdin = delimiter.map(|(name, quoted)| {
            let mut body = String::new();
            loop {
                let line = lines
                    .get(index)
                    .unwrap_or_else(|| panic!("{}", here(&format!("no {name} ends the here-document"))));
                index += 1;
                if line.trim_end() == name {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            if quoted {
                vec![Piece::Text(body)]
            } else {
                expand(&body, false)
            }
        });
        if !words.is_empty() {
            commands.push(ShellCommand { line: first_line, words, stdin, comment });
        }
    }
    commands
}

fn literal(word: &Word) -> Option<&str> {
    match word.as_slice() {
        [Piece::Text(text)] => Some(text),
        _ => None,
    }
}

/// The password every staff member a guide creates is given, and `sanhu call --staff` signs in with.
pub(crate) const GUIDE_STAFF_PASSWORD: &str = "a staff password for the guide";

fn is_sanhu_staff_create(command: &ShellCommand) -> bool {
    command.words.len() >= 3
        && literal(&command.words[0]) == Some("sanhu")
        && literal(&command.words[1]) == Some("staff")
        && literal(&command.words[2]) == Some("create")
}

/// Runs `sanhu staff create ... --password-stdin` as the guide shows it, on the guide's database; the
/// password it reads is the guide's.
fn create_staff(dir: &Path, command: &ShellCommand, database: &Database) {
    let guide = guide();
    let args: Vec<String> =
        command.words[1..].iter().map(|w| literal(w).expect("a staff create line names no ids").to_owned()).collect();
    assert!(
        args.iter().any(|a| a == "--password-stdin"),
        "{guide}:{}: staff are created with --password-stdin",
        command.line
    );
    let password = command.stdin.as_ref().and_then(literal).map(str::trim);
    assert_eq!(password, Some(GUIDE_STAFF_PASSWORD), "{guide}:{}: the guide's staff password on stdin", command.line);
    let file = dir.join("staff-password.txt");
    std::fs::write(&file, format!("{GUIDE_STAFF_PASSWORD}\n")).expect("write the staff password");
    let mut process = common::sanhu(dir, &args);
    process.stdin(Stdio::from(std::fs::File::open(&file).expect("open the staff password")));
    if let [flag, url] = database.args().as_slice() {
        assert_eq!(flag, "--database-url");
        process.env("SANHU_DATABASE_URL", url);
    }
    let (status, stdout, stderr) = common::run_bounded(process, common::COMMAND_TIMEOUT);
    assert!(status.success(), "{guide}:{}: sanhu {}:\n{stdout}\n{stderr}", command.line, args.join(" "));
}

fn is_sanhu_call(command: &ShellCommand) -> bool {
    command.words.len() >= 2
        && literal(&command.words[0]) == Some("sanhu")
        && literal(&command.words[1]) == Some("call")
}

// ---------------------------------------------------------------------------------------------
// Answers: the shown fields, and the ids they name
// ---------------------------------------------------------------------------------------------

/// The ids learnt from answers so far, by name.
type Vars = BTreeMap<String, String>;

fn substitute(word: &Word, vars: &Vars, line: usize) -> String {
    let guide = guide();
    word.iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.clone(),
            Piece::Var(name) => vars
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("{guide}:{line}: ${name} is not named by any earlier answer")),
        })
        .collect()
}

/// `$NAME` when the whole string is a placeholder.
fn placeholder(text: &str) -> Option<&str> {
    let name = text.strip_prefix('$')?;
    (name.starts_with(|c: char| is_name_start(c)) && name.chars().all(is_name_char)).then_some(name)
}

/// Whether `actual` shows what `expected` shows, learning the placeholders it binds: the bindings
/// after the match, or where they differ.
fn shows(expected: &Value, actual: &Value, vars: &Vars, path: &str) -> Result<Vars, String> {
    match (expected, actual) {
        (Value::Object(fields), Value::Object(actual_fields)) => {
            let mut vars = vars.clone();
            for (name, value) in fields {
                let inner = format!("{path}.{name}");
                let got = actual_fields.get(name).ok_or_else(|| format!("{inner} is missing"))?;
                vars = shows(value, got, &vars, &inner)?;
            }
            Ok(vars)
        }
        (Value::Array(items), Value::Array(actual_items)) => {
            let open = items.last().is_some_and(|v| v.as_str() == Some(ELLIPSIS));
            let items = if open { &items[..items.len() - 1] } else { &items[..] };
            if !open && items.len() != actual_items.len() {
                return Err(format!("{path} has {} elements, not {}", actual_items.len(), items.len()));
            }
            let mut vars = vars.clone();
            let mut next = 0;
            for (i, item) in items.iter().enumerate() {
                let inner = format!("{path}[{i}]");
                if !open {
                    vars = shows(item, &actual_items[i], &vars, &inner)?;
                    continue;
                }
                // "…": the shown elements appear in order, others may come between and after.
                let found = actual_items[next..]
                    .iter()
                    .enumerate()
                    .find_map(|(offset, got)| shows(item, got, &vars, &inner).ok().map(|v| (offset, v)));
                let (offset, matched) = found.ok_or_else(|| format!("{inner}: no later element shows {item}"))?;
                vars = matched;
                next += offset + 1;
            }
            Ok(vars)
        }
        (Value::String(text), _) => match placeholder(text) {
            Some(name) => {
                let got = actual.as_str().ok_or_else(|| format!("{path} is {actual}, not a string for ${name}"))?;
                match vars.get(name) {
                    Some(known) if known == got => Ok(vars.clone()),
                    Some(known) => Err(format!("{path} is {got:?}, not ${name} ({known:?})")),
                    None => {
                        let mut vars = vars.clone();
                        vars.insert(name.to_owned(), got.to_owned());
                        Ok(vars)
                    }
                }
            }
            None if actual.as_str() == Some(text) => Ok(vars.clone()),
            None => Err(format!("{path} is {actual}, not {expected}")),
        },
        _ if expected == actual => Ok(vars.clone()),
        _ => Err(format!("{path} is {actual}, not {expected}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Running the guide
// ---------------------------------------------------------------------------------------------

/// `current` with the keys `changes` sets replaced, each in its own `[section]`, or what `changes`
/// names that `current` does not set. The guide changes keys its `sanhu.toml` sets, line by line:
/// the workspace's toml crate only parses.
fn change_keys(current: &str, changes: &str) -> Result<String, String> {
    let mut lines: Vec<String> = current.lines().map(str::to_owned).collect();
    let mut section = String::new();
    for change in changes.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if change.starts_with('[') {
            section = change.to_owned();
            continue;
        }
        let key = change.split('=').next().unwrap_or_default().trim();
        let start = match section.as_str() {
            "" => 0,
            header => lines.iter().position(|l| l.trim() == header).ok_or(format!("no {header}"))? + 1,
        };
        let found = lines[start..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .position(|l| l.split('=').next().is_some_and(|k| k.trim() == key))
            .ok_or(format!("no {key} in {section}"))?;
        lines[start + found] = change.to_owned();
    }
    Ok(lines.join("\n") + "\n")
}

/// What one `sanhu call` printed.
struct Called {
    succeeded: bool,
    answer: Value,
    output: String,
}

fn sanhu_call(dir: &Path, args: &[String], stdin: Option<&str>, line: usize) -> Called {
    let guide = guide();
    let mut command = common::sanhu(dir, args);
    command.env("SANHU_STAFF_PASSWORD", GUIDE_STAFF_PASSWORD);
    if let Some(body) = stdin {
        let file = dir.join("stdin.json");
        std::fs::write(&file, body).expect("write the here-document");
        command.stdin(Stdio::from(std::fs::File::open(&file).expect("open the here-document")));
    }
    let (status, stdout, stderr) = common::run_bounded(command, common::COMMAND_TIMEOUT);
    let output = format!("exit {status:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    let answer = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{guide}:{line}: `sanhu call` printed no JSON ({e}):\n{output}"));
    Called { succeeded: status.success(), answer, output }
}

/// Counts of what a run did, for its summary.
#[derive(Default, Debug)]
struct Ran {
    calls: usize,
    answers: usize,
    restarts: usize,
}

pub(crate) fn run_the_guide(spec: &Guide, database: Database) {
    RUNNING.with(|running| running.set(spec.path));
    let guide = guide();
    let dir = WorkDir::new("guide");
    let dir = dir.path.as_path();
    let blocks = blocks(spec.text);
    let (channel_port, asked) = start_paying_channel();

    let mut config: Option<String> = None;
    let mut server = Server::new(dir, &database);
    let mut vars = Vars::new();
    // `$TODAY`: the platform's day now (Asia/Shanghai), for a guide's calls about today's orders.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    let now = sanhu_core::Timestamp::from_nanos(now.as_nanos() as i64);
    vars.insert("TODAY".to_owned(), sanhu_core::PlatformCalendar::china().local_text(now)[..10].to_owned());
    let mut ran = Ran::default();
    let mut index = 0;
    while index < blocks.len() {
        let block = &blocks[index];
        index += 1;
        match block.kind {
            Kind::Toml => {
                let _: toml::Table = toml::from_str(&block.text)
                    .unwrap_or_else(|e| panic!("{guide}:{}: the toml does not parse: {e}", block.line));
                let text = match &config {
                    None => {
                        let text = block.text.replace(GUIDE_CHANNEL_ADDRESS, &format!("127.0.0.1:{channel_port}"));
                        assert!(
                            !spec.asks_a_channel || text != block.text,
                            "the guide's channel status_url is at {GUIDE_CHANNEL_ADDRESS}"
                        );
                        text
                    }
                    Some(current) => {
                        server.stop();
                        ran.restarts += 1;
                        change_keys(current, &block.text).unwrap_or_else(|e| {
                            panic!("{guide}:{}: a key to change that sanhu.toml does not set: {e}", block.line)
                        })
                    }
                };
                let _: toml::Table = toml::from_str(&text).expect("the changed sanhu.toml parses");
                std::fs::write(dir.join("sanhu.toml"), &text).expect("write sanhu.toml");
                config = Some(text);
                server.start();
            }
            Kind::Sh => {
                let commands = shell_commands(block);
                let calls = commands.iter().filter(|c| is_sanhu_call(c)).count();
                if calls == 0 {
                    // Staff accounts a guide makes (`sanhu staff create ... --password-stdin <<EOF`),
                    // each with the guide's staff password, which `sanhu call --staff` signs in with.
                    if !commands.is_empty() && commands.iter().all(is_sanhu_staff_create) {
                        for command in &commands {
                            create_staff(dir, command, &database);
                        }
                    }
                    continue;
                }
                assert_eq!(
                    calls,
                    commands.len(),
                    "{guide}:{}: a block of `sanhu call` lines holds only `sanhu call` lines",
                    block.line
                );
                assert!(config.is_some(), "{guide}:{}: a call before the sanhu.toml block", block.line);
                let mut answers = Vec::new();
                while index < blocks.len() && matches!(blocks[index].kind, Kind::Json | Kind::Other) {
                    if blocks[index].kind == Kind::Json {
                        answers.push(&blocks[index]);
                    }
                    index += 1;
                }
                assert!(
                    answers.len() <= commands.len(),
                    "{guide}:{}: {} answers for {} commands",
                    block.line,
                    answers.len(),
                    commands.len()
                );
                // The ids a reader has set before running the block.
                let usable = vars.clone();
                for (i, command) in commands.iter().enumerate() {
                    let expected = answers.get(i).map(|answer| {
                        let value: Value = serde_json::from_str(&answer.text)
                            .unwrap_or_else(|e| panic!("{guide}:{}: the answer is not JSON: {e}", answer.line));
                        (value, answer.line)
                    });
                    vars = run_call(dir, command, expected.as_ref(), vars, &usable, &server);
                    ran.calls += 1;
                    ran.answers += usize::from(expected.is_some());
                }
            }
            Kind::Json => panic!("{guide}:{}: an answer without a command before it", block.line),
            Kind::Other => {}
        }
    }
    assert!(
        !spec.asks_a_channel || asked.load(Ordering::SeqCst) >= 1,
        "the compensation example never asked the channel"
    );
    server.stop();
    let mut verify = vec!["verify".to_owned()];
    verify.extend(database.args());
    let (status, stdout, stderr) = common::run_bounded(common::sanhu(dir, &verify), common::COMMAND_TIMEOUT);
    assert!(status.success(), "sanhu verify after the guide:\n{stdout}\n{stderr}");
    eprintln!(
        "{guide} on {}: {} calls, {} answers compared, {} restart(s), {} ids learnt; {}",
        database.name(),
        ran.calls,
        ran.answers,
        ran.restarts,
        vars.len(),
        stdout.trim()
    );
    assert!(
        ran.calls >= spec.calls_min && ran.answers >= spec.calls_min,
        "the guide ran fewer calls than it shows: {ran:?}"
    );
}

/// Runs one command and compares its answer; the bindings after it.
fn run_call(
    dir: &Path,
    command: &ShellCommand,
    expected: Option<&(Value, usize)>,
    vars: Vars,
    usable: &Vars,
    server: &Server,
) -> Vars {
    let guide = guide();
    let line = command.line;
    for name in command.words.iter().chain(&command.stdin).flatten().filter_map(|p| match p {
        Piece::Var(name) => Some(name),
        Piece::Text(_) => None,
    }) {
        assert!(
            usable.contains_key(name) || !vars.contains_key(name),
            "{guide}:{line}: ${name} comes from an answer of the same block: start a new block, so that a \
             reader can set it before running this command"
        );
    }
    let args: Vec<String> = command.words[1..].iter().map(|w| substitute(w, usable, line)).collect();
    let stdin = command.stdin.as_ref().map(|w| substitute(w, usable, line));
    let shown = format!("sanhu {}", args.join(" "));
    let polled = args.get(1).is_some_and(|m| m.eq_ignore_ascii_case("GET"))
        && command.comment.as_deref().is_some_and(|c| c.contains(LATER));
    let started = Instant::now();
    loop {
        let called = sanhu_call(dir, &args, stdin.as_deref(), line);
        let Some((answer, answer_line)) = expected else {
            assert!(called.succeeded, "{guide}:{line}: `{shown}` failed:\n{}", called.output);
            return vars;
        };
        let refusal = answer.get("error").is_some();
        let outcome = if called.succeeded == refusal {
            Err(format!("it {}", if called.succeeded { "succeeded" } else { "was refused" }))
        } else {
            shows(answer, &called.answer, &vars, "answer")
        };
        match outcome {
            Ok(vars) => return vars,
            Err(_) if polled && started.elapsed() < POLL_TIMEOUT => std::thread::sleep(POLL_INTERVAL),
            Err(difference) => panic!(
                "{guide}:{line}: `{shown}`{}\ndoes not answer what {guide}:{answer_line} shows: {difference}\n\
                 shown: {answer}\n{}\nids so far: {vars:?}\n{}",
                stdin.as_deref().map(|s| format!(" with {}", s.trim())).unwrap_or_default(),
                called.output,
                server.output()
            ),
        }
    }
}

#[test]
fn the_wallet_guide_runs_as_written_on_sqlite() {
    run_the_guide(&WALLET_GUIDE, Database::Sqlite);
}

#[test]
fn the_wallet_guide_runs_as_written_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    run_the_guide(&WALLET_GUIDE, Database::Postgres(schema));
}

// ---------------------------------------------------------------------------------------------
// The reader itself
// ---------------------------------------------------------------------------------------------

#[test]
fn the_shell_reader_takes_quotes_variables_continuations_and_here_documents() {
    let block = Block {
        kind: Kind::Sh,
        line: 10,
        text: "sanhu call GET /v1/members/$ALICE/wallet   # a comment\n\
               sanhu call POST /v1/x --data '{\"a\":\"$NOT\"}' \\\n  --idempotency-key \"k-${KEY}\"\n\
               sanhu call POST /v1/y --data @- <<EOF\n{\"member_id\": \"$ALICE\", \"cost\": \"\\$5\"}\nEOF\n"
            .to_owned(),
    };
    let commands = shell_commands(&block);
    let vars: Vars = [("ALICE".to_owned(), "mem_1".to_owned()), ("KEY".to_owned(), "7".to_owned())].into();
    let words = |c: &ShellCommand| c.words.iter().map(|w| substitute(w, &vars, c.line)).collect::<Vec<_>>();
    assert_eq!(commands.len(), 3);
    assert_eq!(words(&commands[0]), ["sanhu", "call", "GET", "/v1/members/mem_1/wallet"]);
    assert_eq!(
        words(&commands[1]),
        ["sanhu", "call", "POST", "/v1/x", "--data", "{\"a\":\"$NOT\"}", "--idempotency-key", "k-7"]
    );
    assert_eq!(commands[1].line, 12);
    assert_eq!(words(&commands[2]), ["sanhu", "call", "POST", "/v1/y", "--data", "@-"]);
    let body = substitute(commands[2].stdin.as_ref().expect("a here-document"), &vars, 0);
    assert_eq!(body, "{\"member_id\": \"mem_1\", \"cost\": \"$5\"}\n");
}

#[test]
fn an_answer_shows_only_its_fields_and_learns_its_placeholders() {
    let actual = json!({"id": "mem_1", "status": "paid", "parts": [{"a": 1, "b": 2}, {"a": 3}, {"a": 4}]});
    let vars = shows(&json!({"id": "$M", "parts": [{"a": 1}, "…"]}), &actual, &Vars::new(), "answer").unwrap();
    assert_eq!(vars.get("M").map(String::as_str), Some("mem_1"));
    assert!(shows(&json!({"id": "$M"}), &json!({"id": "mem_2"}), &vars, "answer").is_err(), "a known id differs");
    assert!(shows(&json!({"parts": [{"a": 1}]}), &actual, &vars, "answer").is_err(), "a closed list has 3");
    assert!(shows(&json!({"parts": [{"a": 4}, {"a": 3}, "…"]}), &actual, &vars, "answer").is_err(), "order");
    assert!(shows(&json!({"parts": [{"a": 3}, {"a": 4}, "…"]}), &actual, &vars, "answer").is_ok());
    assert!(shows(&json!({"status": "failed"}), &actual, &vars, "answer").is_err());
    assert!(shows(&json!({"missing": null}), &actual, &vars, "answer").is_err());
}

#[test]
fn a_later_toml_block_changes_the_keys_it_names_in_their_sections() {
    let current = "top = 1\n\n[wallet]\ncurrency = \"CNY\"\npay_password_required = false   # later on\n\n[wallet.withdrawal]\nminimum = 100\n";
    let changed = change_keys(current, "[wallet]\npay_password_required = true\n").unwrap();
    assert_eq!(changed, current.replace("pay_password_required = false   # later on", "pay_password_required = true"));
    let result = change_keys(current, "[wallet]\nminimum = 5\n");
    assert!(result.is_err(), "minimum is in [wallet.withdrawal], not [wallet]");
}
