//! The data key: certificate numbers (ID cards, passports, permits, unified social credit codes) are
//! kept in the party store sealed under it, with AES-256-GCM and a random 96-bit nonce per value, so
//! that a copy of the database (a backup, a replica, a dump) holds none of them.
//!
//! A sealed value is text, `s1.<key id>.<base64url of nonce and ciphertext with its tag>`: the key id
//! (8 hex digits derived from the key) says which key opens it, so that a data key can be replaced
//! while values sealed under the old one are still read (the old key is kept as retired until every
//! value is sealed again under the new one). Each value is bound to where it is kept (the record and
//! field, the certificate type) as associated data: a sealed number copied into another record or
//! field does not open there.
//!
//! Looking a certificate up (search, uniqueness) does not open anything: it goes by the certificate's
//! keyed hash under the server secret (`PartySecret::certificate_index`), which a random nonce could
//! not give.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{anyhow, Context};
use base64::Engine as _;

use super::secret::mac;
use crate::clock;

/// The length of a data key: AES-256.
pub const DATA_KEY_BYTES: usize = 32;

/// The version tag that starts every sealed value.
const SEALED_PREFIX: &str = "s1";
/// Associated data's first line: what sealed the value, so that no other use of the key could
/// produce a ciphertext that opens here.
const SEALED_DOMAIN: &str = "sanhu-sealed-v1";
const NONCE_BYTES: usize = 12;

/// Which data key sealed a value: the first 4 bytes of HMAC-SHA256 of a fixed label under the key,
/// written as 8 hex digits. It says nothing of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DataKeyId([u8; 4]);

impl DataKeyId {
    fn of(key: &[u8; DATA_KEY_BYTES]) -> DataKeyId {
        let digest = mac(key, b"sanhu-data-key-id-v1");
        DataKeyId([digest[0], digest[1], digest[2], digest[3]])
    }

    fn parse(text: &str) -> Option<DataKeyId> {
        if text.len() != 8 {
            return None;
        }
        let mut bytes = [0u8; 4];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(DataKeyId(bytes))
    }
}

impl std::fmt::Display for DataKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

#[derive(Clone)]
struct DataKey {
    id: DataKeyId,
    cipher: Aes256Gcm,
}

impl DataKey {
    fn new(bytes: &[u8]) -> anyhow::Result<DataKey> {
        let key: [u8; DATA_KEY_BYTES] = bytes.try_into().map_err(|_| {
            anyhow!("a data key must have exactly {DATA_KEY_BYTES} bytes (64 hex digits), this one has {}", bytes.len())
        })?;
        Ok(DataKey { id: DataKeyId::of(&key), cipher: Aes256Gcm::new(&key.into()) })
    }
}

/// The configured data keys: the current one, which seals every value written, and retired ones,
/// which only open values sealed under them before the current key was configured. Every instance
/// sharing a database must be given the same keys. Its `Debug` shows key ids only.
#[derive(Clone)]
pub struct DataKeys {
    current: DataKey,
    retired: Vec<DataKey>,
    /// Made up at start rather than configured: fine for one process and for tests, wrong for a
    /// database that outlives the process (nothing sealed could be read after a restart).
    ephemeral: bool,
}

impl DataKeys {
    /// The current key and the retired keys still accepted for reading, each of [`DATA_KEY_BYTES`].
    pub fn new(current: &[u8], retired: &[Vec<u8>]) -> anyhow::Result<DataKeys> {
        let current = DataKey::new(current).context("the current data key")?;
        let mut keys = DataKeys { current, retired: Vec::new(), ephemeral: false };
        for (position, bytes) in retired.iter().enumerate() {
            let key = DataKey::new(bytes).with_context(|| format!("retired data key {}", position + 1))?;
            anyhow::ensure!(
                keys.key(key.id).is_none(),
                "data key {} is given twice (or two keys share an id; make a new one)",
                key.id
            );
            keys.retired.push(key);
        }
        Ok(keys)
    }

    /// A random key for this process only.
    pub fn ephemeral() -> DataKeys {
        let current = DataKey::new(&clock::random_bytes::<DATA_KEY_BYTES>()).expect("32 bytes are a data key");
        DataKeys { current, retired: Vec::new(), ephemeral: true }
    }

    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> DataKeyId {
        self.current.id
    }

    fn key(&self, id: DataKeyId) -> Option<&DataKey> {
        std::iter::once(&self.current).chain(&self.retired).find(|k| k.id == id)
    }

    /// Seals `plaintext` under the current key, bound to `context` (where it is kept).
    pub(crate) fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = clock::random_bytes::<NONCE_BYTES>();
        let aad = associated_data(context);
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
            .expect("AES-GCM seals any value shorter than 64 GiB");
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        format!(
            "{SEALED_PREFIX}.{}.{}",
            self.current.id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// Opens a value sealed by [`DataKeys::seal`] with the same `context`. A value sealed under a key
    /// not configured, altered, or moved from another context is an error.
    pub(crate) fn open(&self, sealed: &str, context: &str) -> anyhow::Result<String> {
        let (id, bytes) = parse_sealed(sealed)?;
        let key = self.key(id).ok_or_else(|| {
            anyhow!(
                "a value is sealed under data key {id}, which is not configured (the current key is {}); configure \
                 it as a retired key",
                self.current.id
            )
        })?;
        anyhow::ensure!(bytes.len() > NONCE_BYTES, "a sealed value is too short");
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let aad = associated_data(context);
        let plaintext = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| anyhow!("a value sealed under data key {id} does not open: altered, or not sealed here"))?;
        String::from_utf8(plaintext).map_err(|_| anyhow!("a sealed value is not text"))
    }

    /// Whether `sealed` was sealed under the current key (else it is sealed again on its next write,
    /// or by the re-sealing pass).
    pub(crate) fn is_current(&self, sealed: &str) -> bool {
        parse_sealed(sealed).is_ok_and(|(id, _)| id == self.current.id)
    }
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let retired: Vec<String> = self.retired.iter().map(|k| k.id.to_string()).collect();
        write!(f, "DataKeys(current: {}, retired: {retired:?}, ephemeral: {})", self.current.id, self.ephemeral)
    }
}

fn associated_data(context: &str) -> String {
    format!("{SEALED_DOMAIN}\n{context}")
}

fn parse_sealed(sealed: &str) -> anyhow::Result<(DataKeyId, Vec<u8>)> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(SEALED_PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(anyhow!("a stored value is not sealed (no {SEALED_PREFIX} prefix)"));
    };
    let id = DataKeyId::parse(id).ok_or_else(|| anyhow!("a sealed value names no key id"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| anyhow!("a sealed value is not base64url"))?;
    Ok((id, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBER: &str = "110101199003071233";

    fn keys(byte: u8) -> DataKeys {
        DataKeys::new(&[byte; 32], &[]).unwrap()
    }

    #[test]
    fn aes_256_gcm_matches_a_published_test_vector() {
        // NIST's GCM test vectors (gcmEncryptExtIV256.rsp): key of zeros, nonce of zeros, empty
        // plaintext, no associated data.
        let cipher = Aes256Gcm::new(&[0u8; 32].into());
        let tag = cipher.encrypt(Nonce::from_slice(&[0u8; 12]), b"".as_ref()).unwrap();
        let hex = hex::encode(tag);
        assert_eq!(hex, "530f8afbc74536b9a963b4f1c4cb738b");
    }

    #[test]
    fn a_sealed_number_opens_with_its_key_and_context_and_shows_nothing_of_the_number() {
        let keys = keys(7);
        let sealed = keys.seal(NUMBER, "cus_1\ncertificate");
        assert!(!sealed.contains(NUMBER) && !sealed.contains("1233"), "{sealed}");
        assert!(sealed.starts_with(&format!("s1.{}.", keys.current_id())), "{sealed}");
        assert_eq!(keys.open(&sealed, "cus_1\ncertificate").unwrap(), NUMBER);
        assert!(keys.is_current(&sealed));
    }

    #[test]
    fn each_seal_of_one_number_is_different() {
        let keys = keys(7);
        assert_ne!(keys.seal(NUMBER, "c"), keys.seal(NUMBER, "c"), "a random nonce per value");
    }

    #[test]
    fn a_sealed_number_does_not_open_in_another_context_nor_altered_nor_under_another_key() {
        let keys = keys(7);
        let sealed = keys.seal(NUMBER, "cus_1\ncertificate");
        assert!(keys.open(&sealed, "cus_2\ncertificate").is_err(), "moved to another record");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys.open(std::str::from_utf8(&altered).unwrap(), "cus_1\ncertificate").is_err());
        let error = DataKeys::new(&[8; 32], &[]).unwrap().open(&sealed, "cus_1\ncertificate").unwrap_err();
        assert!(error.to_string().contains("not configured"), "{error}");
        assert!(keys.open(NUMBER, "cus_1\ncertificate").is_err(), "a plain number is not a sealed one");
    }

    #[test]
    fn a_retired_key_still_opens_what_it_sealed_and_the_current_one_seals() {
        let old = keys(7);
        let sealed = old.seal(NUMBER, "c");
        let rotated = DataKeys::new(&[9; 32], &[vec![7; 32]]).unwrap();
        assert_eq!(rotated.open(&sealed, "c").unwrap(), NUMBER);
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal(NUMBER, "c")));
        assert_ne!(rotated.current_id(), old.current_id());
    }

    #[test]
    fn a_key_of_the_wrong_length_or_given_twice_is_refused_and_none_is_printed() {
        assert!(DataKeys::new(&[1; 31], &[]).is_err());
        assert!(DataKeys::new(&[1; 33], &[]).is_err());
        assert!(DataKeys::new(&[1; 32], &[vec![1; 32]]).is_err());
        let debugged = format!("{:?}", keys(1));
        assert!(debugged.starts_with("DataKeys(current: ") && !debugged.contains("[1, 1"), "{debugged}");
    }
}
