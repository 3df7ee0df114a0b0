//! `sanhu client create | list | revoke`: API clients and their Ed25519 keys. The server keeps only
//! public keys; a private key is shown once, when it is made.

use std::process::ExitCode;

use base64::Engine;
use sanhu_core::id::ClientId;
use sanhu_service::clock;
use sanhu_store::{ApiClient, LedgerStore, Store};

use crate::config::Config;
use crate::credentials::Credential;

#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Creates a client and prints its private key (once).
    Create {
        /// A name to recognise the client by, e.g. the calling system.
        #[arg(long)]
        name: String,
        /// Also save the credential for `sanhu call` (to the credentials file; refuses to overwrite).
        #[arg(long)]
        save: bool,
    },
    /// Lists clients.
    List,
    /// Revokes a client: its signatures are refused from now on.
    Revoke { client_id: String },
}

/// A new client and its private key (seed). The caller shows the key once and forgets it.
pub async fn create(store: &Store, name: &str) -> anyhow::Result<(ApiClient, [u8; 32])> {
    let seed: [u8; 32] = clock::random_bytes();
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let client = ApiClient {
        id: clock::new_id::<sanhu_core::id::ClientTag>().to_string(),
        name: name.to_owned(),
        public_key: signing_key.verifying_key().to_bytes(),
        created_at: clock::now(),
        revoked_at: None,
    };
    store.create_client(&client).await?;
    Ok((client, seed))
}

pub fn credential_for(config: &Config, client: &ApiClient, seed: &[u8; 32]) -> Credential {
    Credential {
        url: format!("http://{}", config.listen),
        client_id: client.id.clone(),
        private_key: base64::engine::general_purpose::STANDARD.encode(seed),
    }
}

pub async fn run(config: &Config, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    store.migrate().await?;
    match command {
        ClientCommand::Create { name, save } => {
            // Refused before the client exists, so that a failed command leaves no client behind.
            anyhow::ensure!(
                !save || !config.credentials_file.exists(),
                "{} exists; --save will not overwrite a credential (move it away, or create without --save)",
                config.credentials_file.display()
            );
            let (client, seed) = create(&store, &name).await?;
            let credential = credential_for(config, &client, &seed);
            println!("client_id:   {}", client.id);
            println!("private_key: {}", credential.private_key);
            println!("The private key is shown only now; sanhu keeps only the public key.");
            if save {
                credential.save_new(&config.credentials_file)?;
                println!("Saved for `sanhu call` in {}.", config.credentials_file.display());
            }
        }
        ClientCommand::List => {
            println!("{:<30} {:<12} {:<28} name", "client_id", "status", "created_at");
            for client in store.list_clients().await? {
                let status = if client.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<30} {:<12} {:<28} {}", client.id, status, client.created_at.to_string(), client.name);
            }
        }
        ClientCommand::Revoke { client_id } => {
            anyhow::ensure!(ClientId::parse(&client_id).is_some(), "{client_id} is not a client id (cli_…)");
            if !store.revoke_client(&client_id, clock::now()).await? {
                anyhow::bail!("no client {client_id}");
            }
            println!("revoked {client_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
