//! `sanhu client create | list | revoke | add-key | revoke-key`: API clients, their scopes, the member
//! a client may be bound to, and their Ed25519 keys. The server keeps only public keys; a private key
//! is shown once, when it is made.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::scope::{Scope, Scopes, UnknownScope};
use sanhu_service::clock;
use sanhu_service::party::Parties;
use sanhu_store::{AccessStore, ApiClient, DatabaseStore, KeyAdded, Store, CLIENT_ACTIVE_KEYS_MAX};

use crate::config::Config;
use crate::credentials::Credential;

#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Creates a client and prints its private key (once).
    Create {
        /// A name to recognise the client by, e.g. the calling system.
        #[arg(long)]
        name: String,
        /// Also save the credential (docs/SECURITY.md gives its format) to FILE, or without FILE to
        /// the credentials file `sanhu call` reads; refuses to overwrite.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        save: Option<Option<PathBuf>>,
        /// A scope the client holds; repeat for more (ledger:read, ledger:write, parties:read,
        /// parties:write, wallet:read, wallet:write, admin:read, admin:write, audit:read). Without
        /// any: every scope, or for a bound client every scope a bound client may hold (parties:*,
        /// wallet:*).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Binds the client to one enterprise member (a merchant, mem_…): it reaches only that
        /// member's objects, and every other id answers as if it did not exist.
        #[arg(long, value_name = "MEMBER_ID")]
        bound_to: Option<String>,
    },
    /// Lists clients with their scopes, binding and keys.
    List,
    /// Revokes a client: its signatures are refused from now on.
    Revoke { client_id: String },
    /// Adds a key to a client (at most two are active at once) and prints its private key (once).
    /// Requests verify against either active key, so callers move to the new key, then the old one
    /// is revoked.
    AddKey {
        client_id: String,
        /// Also save the new key's credential to FILE, or without FILE to the credentials file
        /// `sanhu call` reads; refuses to overwrite.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        save: Option<Option<PathBuf>>,
    },
    /// Revokes one of a client's keys by its number (`sanhu client list` shows them); signatures
    /// made with it are refused from now on.
    RevokeKey { client_id: String, number: u32 },
}

/// A new client holding `scopes` (bound to `bound_to` if given) with one key, and its private key
/// (seed). The caller shows the key once and forgets it. The name is free text: a card or certificate
/// number in it is masked, as in every free-text field sanhu keeps.
pub async fn create(
    store: &Store,
    name: &str,
    scopes: Scopes,
    bound_to: Option<MemberId>,
) -> anyhow::Result<(ApiClient, [u8; 32])> {
    let seed: [u8; 32] = clock::random_bytes();
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let id = clock::new_id::<sanhu_core::id::ClientTag>().to_string();
    let client = ApiClient {
        scopes,
        bound_to,
        ..ApiClient::new(
            id,
            sanhu_core::party::mask::mask_sensitive_numbers(name),
            signing_key.verifying_key().to_bytes(),
            clock::now(),
        )
    };
    store.create_client(&client).await?;
    Ok((client, seed))
}

pub fn credential_for(config: &Config, client_id: &str, seed: &[u8; 32]) -> Credential {
    Credential {
        url: format!("http://{}", config.listen),
        client_id: client_id.to_owned(),
        private_key: base64::engine::general_purpose::STANDARD.encode(seed),
    }
}

/// The scopes `--scope` names, or the default: every scope, or every bindable one for a bound
/// client. A bound client may not hold the platform's scopes.
fn scopes_of(names: &[String], bound: bool) -> anyhow::Result<Scopes> {
    if names.is_empty() {
        return Ok(if bound { Scopes::bindable() } else { Scopes::all() });
    }
    let mut scopes = Scopes::none();
    for name in names {
        let scope = Scope::parse(name).ok_or_else(|| anyhow::anyhow!("--scope: {}", UnknownScope(name.clone())))?;
        scopes = scopes.with(scope);
    }
    if bound {
        let platform: Vec<&str> = scopes.iter().filter(|s| !s.bindable()).map(Scope::as_str).collect();
        anyhow::ensure!(
            platform.is_empty(),
            "a bound client acts for one member and cannot hold {}: those scopes span the whole platform",
            platform.join(", ")
        );
    }
    Ok(scopes)
}

/// The member `--bound-to` names, once it is found to be an enterprise member.
async fn enterprise_member(config: &Config, store: &Store, text: &str) -> anyhow::Result<MemberId> {
    let id = MemberId::parse(text).ok_or_else(|| anyhow::anyhow!("--bound-to {text} is not a member id (mem_…)"))?;
    let parties = Parties::new(store.clone(), config.parties.clone());
    let member = match parties.get_member(id).await {
        Ok(member) => member,
        Err(error) if error.code() == "member_not_found" => anyhow::bail!("--bound-to: no member {id}"),
        Err(error) => return Err(anyhow::anyhow!("--bound-to: the member {id} could not be read: {error}")),
    };
    anyhow::ensure!(
        member.member.kind().as_str() == "enterprise",
        "--bound-to: {id} is a {} member; a client is bound to an enterprise member (a merchant)",
        member.member.kind().as_str()
    );
    // A sub-merchant is operated through its parent's client only.
    if let Err(error) = parties.check_client_binding(id).await {
        anyhow::bail!("--bound-to: {id}: {error}");
    }
    Ok(id)
}

fn client_id_of(text: &str) -> anyhow::Result<()> {
    anyhow::ensure!(ClientId::parse(text).is_some(), "{text} is not a client id (cli_…)");
    Ok(())
}

/// Where `--save` writes: its FILE, or the configured credentials file.
fn save_path(config: &Config, save: Option<Option<PathBuf>>) -> Option<PathBuf> {
    save.map(|file| file.unwrap_or_else(|| config.credentials_file.clone()))
}

/// Refused before anything is written, so that a failed command leaves nothing behind.
fn check_save(save: Option<&PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = save {
        anyhow::ensure!(
            !path.exists(),
            "{} exists; --save will not overwrite a credential (move it away, name another file, or run without --save)",
            path.display()
        );
    }
    Ok(())
}

fn print_key(config: &Config, client_id: &str, seed: &[u8; 32], save: Option<&PathBuf>) -> anyhow::Result<()> {
    let credential = credential_for(config, client_id, seed);
    println!("private_key: {}", credential.private_key);
    println!("The private key is shown only now; sanhu keeps only the public key.");
    if let Some(path) = save {
        credential.save_new(path)?;
        println!("Saved for `sanhu call` in {}.", path.display());
    }
    Ok(())
}

pub async fn run(config: &Config, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    store.migrate().await?;
    match command {
        ClientCommand::Create { name, save, scopes, bound_to } => {
            let save = save_path(config, save);
            check_save(save.as_ref())?;
            let scopes = scopes_of(&scopes, bound_to.is_some())?;
            let bound_to = match bound_to {
                Some(text) => Some(enterprise_member(config, &store, &text).await?),
                None => None,
            };
            let (client, seed) = create(&store, &name, scopes, bound_to).await?;
            println!("client_id:   {}", client.id);
            println!("scopes:      {}", client.scopes);
            if let Some(member) = client.bound_to {
                println!("bound_to:    {member}");
            }
            println!("key:         1");
            print_key(config, &client.id, &seed, save.as_ref())?;
        }
        ClientCommand::List => {
            println!("{:<30} {:<12} {:<28} name", "client_id", "status", "created_at");
            for client in store.list_clients().await? {
                let status = if client.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<30} {:<12} {:<28} {}", client.id, status, client.created_at.to_string(), client.name);
                let scopes = if client.scopes.is_empty() { "none".to_owned() } else { client.scopes.to_string() };
                println!("    scopes:   {scopes}");
                if let Some(member) = client.bound_to {
                    println!("    bound_to: {member}");
                }
                for key in &client.keys {
                    match key.revoked_at {
                        None => println!("    key {}:    active, added {}", key.number, key.added_at),
                        Some(at) => println!("    key {}:    revoked {at}, added {}", key.number, key.added_at),
                    }
                }
            }
        }
        ClientCommand::Revoke { client_id } => {
            client_id_of(&client_id)?;
            if !store.revoke_client(&client_id, clock::now()).await? {
                anyhow::bail!("no client {client_id}");
            }
            println!("revoked {client_id}");
        }
        ClientCommand::AddKey { client_id, save } => {
            client_id_of(&client_id)?;
            let save = save_path(config, save);
            check_save(save.as_ref())?;
            let client = store.get_client(&client_id).await?.ok_or_else(|| anyhow::anyhow!("no client {client_id}"))?;
            anyhow::ensure!(client.revoked_at.is_none(), "the client {client_id} is revoked");
            let seed: [u8; 32] = clock::random_bytes();
            let public_key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            match store.add_client_key(&client_id, &public_key, clock::now()).await? {
                KeyAdded::Added { number } => {
                    println!("client_id:   {client_id}");
                    println!("key:         {number}");
                    print_key(config, &client_id, &seed, save.as_ref())?;
                }
                KeyAdded::NoClient => anyhow::bail!("no client {client_id}"),
                KeyAdded::TooManyActive => anyhow::bail!(
                    "the client {client_id} holds {CLIENT_ACTIVE_KEYS_MAX} active keys already; revoke one first \
                     (sanhu client revoke-key {client_id} NUMBER)"
                ),
            }
        }
        ClientCommand::RevokeKey { client_id, number } => {
            client_id_of(&client_id)?;
            if !store.revoke_client_key(&client_id, number, clock::now()).await? {
                anyhow::bail!("the client {client_id} has no key {number}");
            }
            println!("revoked key {number} of {client_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
