//! A saved API credential: what `sanhu call` signs with. `serve` writes one on first start; `client
//! create --save` writes one too. The file holds a private key: it is created readable by its owner only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const DEFAULT_CREDENTIALS_FILE: &str = "sanhu-credentials.json";

pub fn default_path() -> PathBuf {
    PathBuf::from(DEFAULT_CREDENTIALS_FILE)
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Base URL of the server, e.g. http://127.0.0.1:8080.
    pub url: String,
    pub client_id: String,
    /// Ed25519 private key (seed), standard base64 of 32 bytes.
    pub private_key: String,
}

impl Credential {
    pub fn signing_key(&self) -> anyhow::Result<ed25519_dalek::SigningKey> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.private_key)
            .context("the credential's private_key is not base64")?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("the credential's private_key is not 32 bytes"))?;
        Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    pub fn load(path: &Path) -> anyhow::Result<Credential> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("failed to read the credential {} (create one with `sanhu client create --save`)", path.display())
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a sanhu credential", path.display()))
    }

    /// Writes the credential, refusing to overwrite an existing file.
    pub fn save_new(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).with_context(|| format!("failed to create {}", path.display()))?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.write_all(b"\n")?;
        Ok(())
    }
}
