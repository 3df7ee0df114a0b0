//! `sanhu staff create | list | disable | enable | reset-password`: staff accounts, managed by whoever
//! runs sanhu (with its configuration and database), not over the API. A password is generated and
//! shown once, or read from standard input (`--password-stdin`); sanhu keeps only its Argon2id hash.
//!
//! Also the `[staff]` section of `sanhu.toml`: password hashing, lockout, session lifetimes, and
//! whether the session cookie is `Secure`.

use std::io::BufRead;
use std::process::ExitCode;

use sanhu_core::staff::{LoginPolicy, SessionPolicy, StaffPassword, StaffRole, StaffStatus, Username};
use sanhu_service::clock;
use sanhu_service::staff::{PasswordHashing, Staff, StaffConfig};
use sanhu_store::DatabaseStore;
use serde::Deserialize;

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum StaffCommand {
    /// Creates a staff account and prints its password (once), unless one is read from stdin.
    Create {
        #[arg(long)]
        username: String,
        /// super_admin, finance, operations, customer_service, auditor or marketing.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists staff accounts.
    List,
    /// Disables an account: it can no longer sign in, and its sessions end.
    Disable { username: String },
    /// Lets a disabled account sign in again.
    Enable { username: String },
    /// Gives an account a new password (printed once, unless read from stdin): its lock is lifted and
    /// its sessions end.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `[staff]` in the file; every key optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct StaffFile {
    /// A session ends after this long without a request.
    session_idle_s: Option<u32>,
    /// A session ends this long after sign-in, whatever happens.
    session_absolute_s: Option<u32>,
    /// Wrong passwords in a row that lock an account ...
    lockout_failures: Option<u32>,
    /// ... for this long.
    lockout_s: Option<u32>,
    /// Mark the session cookie `Secure` (sent over HTTPS only).
    cookie_secure: Option<bool>,
    /// Argon2id's memory (KiB), passes and lanes for new password hashes.
    password_memory_kib: Option<u32>,
    password_iterations: Option<u32>,
    password_parallelism: Option<u32>,
    /// Staff password hashes run at once (default: one per core but one, at least one); others wait
    /// for one up to a second, and a sign-in that finds none is answered `rate_limited`.
    password_hashes_at_once: Option<usize>,
    /// Sign-ins each source address may attempt a minute, and at once.
    sign_ins_per_address_per_min: Option<u32>,
    sign_ins_per_address_burst: Option<u32>,
}

/// How many staff password hashes run at once, and the sign-ins each address may attempt.
#[derive(Clone, Copy, Debug)]
pub struct SignInLimits {
    pub hashes_at_once: usize,
    pub per_address_per_min: u32,
    pub per_address_burst: u32,
}

/// The sign-in limits `[staff]` asks for; a value no rule accepts is an error naming its key.
pub fn sign_in_limits(file: Option<&StaffFile>) -> anyhow::Result<SignInLimits> {
    let http = sanhu_http::HttpConfig::default();
    let limits = SignInLimits {
        hashes_at_once: file
            .and_then(|f| f.password_hashes_at_once)
            .unwrap_or_else(sanhu_service::hashing::HashingPermits::default_at_once),
        per_address_per_min: file
            .and_then(|f| f.sign_ins_per_address_per_min)
            .unwrap_or(http.sign_ins_per_address_per_min),
        per_address_burst: file.and_then(|f| f.sign_ins_per_address_burst).unwrap_or(http.sign_ins_per_address_burst),
    };
    anyhow::ensure!(limits.hashes_at_once >= 1, "[staff] password_hashes_at_once must be at least 1");
    anyhow::ensure!(limits.per_address_per_min >= 1, "[staff] sign_ins_per_address_per_min must be at least 1");
    anyhow::ensure!(limits.per_address_burst >= 1, "[staff] sign_ins_per_address_burst must be at least 1");
    Ok(limits)
}

/// The staff configuration the file asks for, and whether the cookie is `Secure`; a value no rule
/// accepts is an error naming its key.
pub fn staff_config(file: Option<StaffFile>) -> anyhow::Result<(StaffConfig, bool)> {
    let file = file.unwrap_or_default();
    let defaults = StaffConfig::default();
    let session = SessionPolicy::new(
        file.session_idle_s.unwrap_or(defaults.session.idle_s()),
        file.session_absolute_s.unwrap_or(defaults.session.absolute_s()),
    )
    .map_err(|e| anyhow::anyhow!("[staff] session_idle_s, session_absolute_s: {}", e.message()))?;
    let login = LoginPolicy::new(
        file.lockout_failures.unwrap_or(defaults.login.failures_max()),
        file.lockout_s.unwrap_or(defaults.login.lock_s()),
    )
    .map_err(|e| anyhow::anyhow!("[staff] lockout_failures, lockout_s: {}", e.message()))?;
    let hashing = PasswordHashing {
        memory_kib: file.password_memory_kib.unwrap_or(defaults.hashing.memory_kib),
        iterations: file.password_iterations.unwrap_or(defaults.hashing.iterations),
        parallelism: file.password_parallelism.unwrap_or(defaults.hashing.parallelism),
    };
    hashing.check().map_err(|e| {
        anyhow::anyhow!("[staff] password_memory_kib, password_iterations, password_parallelism: {e:#}")
    })?;
    Ok((StaffConfig { hashing, login, session }, file.cookie_secure.unwrap_or(false)))
}

/// Characters of a generated password: letters and digits that cannot be taken for one another.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// 20 of 56 characters: about 116 bits.
const GENERATED_PASSWORD_CHARS: usize = 20;

fn generated_password() -> StaffPassword {
    let mut password = String::with_capacity(GENERATED_PASSWORD_CHARS);
    while password.len() < GENERATED_PASSWORD_CHARS {
        for byte in clock::random_bytes::<32>() {
            // Only bytes below the largest multiple of the alphabet's size, so every character is as likely.
            let bound = 256 - 256 % PASSWORD_ALPHABET.len();
            if usize::from(byte) < bound && password.len() < GENERATED_PASSWORD_CHARS {
                password.push(PASSWORD_ALPHABET[usize::from(byte) % PASSWORD_ALPHABET.len()] as char);
            }
        }
    }
    StaffPassword::parse(&password).expect("20 letters and digits make a password")
}

/// The password to set: the first line of standard input, or a generated one (to be shown).
fn new_password(from_stdin: bool) -> anyhow::Result<(StaffPassword, bool)> {
    if !from_stdin {
        return Ok((generated_password(), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let password = StaffPassword::parse(line).map_err(|e| anyhow::anyhow!("{} ({})", e.message(), e.code()))?;
    Ok((password, false))
}

fn username(text: &str) -> anyhow::Result<Username> {
    Username::parse(text).map_err(|e| anyhow::anyhow!("{text:?}: {}", e.message()))
}

pub async fn run(config: &Config, command: StaffCommand) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    store.migrate().await?;
    let staff = Staff::new(store, config.staff);
    match command {
        StaffCommand::Create { username: name, role, password_stdin } => {
            let username = username(&name)?;
            let role = StaffRole::parse(&role).map_err(|e| anyhow::anyhow!("{role:?}: {}", e.message()))?;
            let (password, generated) = new_password(password_stdin)?;
            let account = staff.create(&username, role, &password).await?;
            println!("username: {}", account.username);
            println!("role:     {}", account.role.as_str());
            if generated {
                print_once(&password);
            }
        }
        StaffCommand::List => {
            println!("{:<32} {:<17} {:<9} {:<28} locked_until", "username", "role", "status", "created_at");
            for account in staff.list().await? {
                let locked = account.guard.locked_until().filter(|until| *until > clock::now());
                println!(
                    "{:<32} {:<17} {:<9} {:<28} {}",
                    account.username.as_str(),
                    account.role.as_str(),
                    account.status.as_str(),
                    account.created_at.to_string(),
                    locked.map(|until| until.to_string()).unwrap_or_else(|| "-".to_owned()),
                );
            }
        }
        StaffCommand::Disable { username: name } => {
            let ended = staff.disable(&username(&name)?).await?;
            println!("disabled {name}; {ended} session(s) ended");
        }
        StaffCommand::Enable { username: name } => {
            let username = username(&name)?;
            staff.enable(&username).await?;
            debug_assert_eq!(staff.account(&username).await?.status, StaffStatus::Active);
            println!("enabled {name}");
        }
        StaffCommand::ResetPassword { username: name, password_stdin } => {
            let username = username(&name)?;
            let (password, generated) = new_password(password_stdin)?;
            let ended = staff.reset_password(&username, &password).await?;
            println!("new password set for {name}; {ended} session(s) ended");
            if generated {
                print_once(&password);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_once(password: &StaffPassword) {
    let text = std::str::from_utf8(password.expose_for_hashing()).expect("a password is text");
    println!("password: {text}");
    println!("The password is shown only now; sanhu keeps only its Argon2id hash.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_different() {
        let (a, b) = (generated_password(), generated_password());
        assert_ne!(a, b);
        let text = std::str::from_utf8(a.expose_for_hashing()).unwrap();
        assert_eq!(text.len(), GENERATED_PASSWORD_CHARS);
        assert!(text.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
    }

    #[test]
    fn the_staff_section_is_checked_key_by_key() {
        let (config, secure) = staff_config(None).unwrap();
        assert_eq!((config, secure), (StaffConfig::default(), false));
        let file: StaffFile = toml::from_str("session_idle_s = 10").unwrap();
        assert!(staff_config(Some(file)).unwrap_err().to_string().contains("session_idle_s"));
        let file: StaffFile = toml::from_str("lockout_failures = 0").unwrap();
        assert!(staff_config(Some(file)).unwrap_err().to_string().contains("lockout_failures"));
        let file: StaffFile = toml::from_str("password_memory_kib = 1").unwrap();
        assert!(staff_config(Some(file)).unwrap_err().to_string().contains("password_memory_kib"));
        let file: StaffFile = toml::from_str("cookie_secure = true\nlockout_s = 600").unwrap();
        let (config, secure) = staff_config(Some(file)).unwrap();
        assert_eq!((config.login.lock_s(), secure), (600, true));
    }
}
