//! The server secret behind the keyed hashes of the three-party model: the digests of one-time codes,
//! the tokens of bank-card numbers and the index of certificate numbers. Kept out of the database on purpose: a leaked database then
//! holds neither a code nor a card number that can be recovered by trying every candidate (a 6-digit
//! code has a million; a 16-digit card whose first 6 and last 4 digits are stored in the clear has a
//! hundred thousand after its check digit, which a plain hash would give up in milliseconds).
//!
//! One secret, and a subkey for each use (HMAC-SHA256 of the secret over a label), so that a value
//! made for one use never passes for another.

use hmac::{Hmac, Mac};
use sanhu_core::party::one_time_code::CodeDigest;
use sanhu_core::party::{CardNumber, Certificate};
use sha2::Sha256;

use crate::clock;

type HmacSha256 = Hmac<Sha256>;

/// The fewest bytes a configured secret may have: 256 bits, the strength of the hash.
pub const PARTY_SECRET_BYTES_MIN: usize = 32;

/// The server secret. Every instance that shares a database must be given the same one (from its
/// configuration); changing it makes codes in flight fail and gives cards bound afterwards new tokens.
/// Its `Debug` hides it.
#[derive(Clone)]
pub struct PartySecret {
    bytes: Vec<u8>,
    /// Made up at start rather than configured: fine for one process and for tests, wrong for several
    /// instances (each would refuse the others' codes).
    ephemeral: bool,
}

impl PartySecret {
    /// A configured secret of at least [`PARTY_SECRET_BYTES_MIN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<PartySecret> {
        anyhow::ensure!(
            bytes.len() >= PARTY_SECRET_BYTES_MIN,
            "the party secret must have at least {PARTY_SECRET_BYTES_MIN} bytes, it has {}",
            bytes.len()
        );
        Ok(PartySecret { bytes: bytes.to_vec(), ephemeral: false })
    }

    /// A random secret for this process only.
    pub fn ephemeral() -> PartySecret {
        PartySecret { bytes: clock::random_bytes::<32>().to_vec(), ephemeral: true }
    }

    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// HMAC-SHA256 under the subkey for `label` of `input`.
    fn keyed(&self, label: &str, input: &[u8]) -> [u8; 32] {
        let subkey = mac(&self.bytes, label.as_bytes());
        mac(&subkey, input)
    }

    /// The digest under which a one-time code is stored (core says what `input` holds).
    pub(crate) fn code_digest(&self, input: &[u8]) -> CodeDigest {
        CodeDigest(self.keyed("sanhu-one-time-code-v1", input))
    }

    /// The token that stands for a card number in sanhu: `ctk_` and 64 hex digits of the number's
    /// keyed hash. The same number gives the same token (so a card bound twice is recognised) as long
    /// as the secret is the same, and the token says nothing of the number without the secret.
    pub(crate) fn card_token(&self, number: &CardNumber) -> String {
        let digest = self.keyed("sanhu-card-token-v1", number.digits_for_tokenisation().as_bytes());
        let hex = hex::encode(digest);
        format!("ctk_{hex}")
    }

    /// The digest under which a redemption code (兑换码) is kept: 64 hex digits of its keyed hash, so a
    /// code is looked up by what is typed and the store holds nothing that gives it back.
    pub(crate) fn redemption_code_digest(&self, code: &str) -> String {
        hex::encode(self.keyed("sanhu-redemption-code-v1", code.as_bytes()))
    }

    /// The certificate's index: 64 hex digits of the keyed hash of its type and number, which stands
    /// for the certificate wherever it is looked up by number (the unique key that makes one
    /// certificate one customer, the customer search). The number itself is kept only sealed
    /// (`DataKeys`), and a plain hash would not do: an ID number whose first 3 and last 4 characters
    /// are shown has about 10^8 candidates left, which a plain hash gives up in seconds.
    pub fn certificate_index(&self, certificate: &Certificate) -> String {
        let input = format!("{}\n{}", certificate.certificate_type().as_str(), certificate.number());
        hex::encode(self.keyed(CERTIFICATE_INDEX_LABEL, input.as_bytes()))
    }

    /// What stands for a settlement bank account (its kind and number) in a merchant's record and its
    /// verification: 64 hex digits of a keyed hash, so that a verification is bound to the account it
    /// verified and says nothing of the number.
    pub(crate) fn settlement_account_hash(&self, kind: &str, number: &str) -> String {
        let input = format!("{kind}\n{number}");
        hex::encode(self.keyed("sanhu-settlement-account-v1", input.as_bytes()))
    }

    /// A value that tells whether certificates were indexed under this secret, and nothing of it: the
    /// keyed hash of a fixed text under the index's subkey. Kept with the database, so that a start
    /// with another secret (which would find no certificate, and let a second customer claim one) is
    /// refused.
    pub(crate) fn certificate_index_check(&self) -> String {
        hex::encode(self.keyed(CERTIFICATE_INDEX_LABEL, b"sanhu certificate index check"))
    }
}

const CERTIFICATE_INDEX_LABEL: &str = "sanhu-certificate-index-v1";

impl PartySecret {
    /// The fingerprint an idempotency key is bound to: the keyed hash of the request (`input`, what
    /// the HTTP layer says makes two requests the same). Keyed, because a request may carry a
    /// certificate number, and a plain hash of a body whose other fields are known gives the number up
    /// to anyone who tries its candidates.
    pub fn request_fingerprint(&self, input: &[u8]) -> [u8; 32] {
        self.keyed("sanhu-request-fingerprint-v1", input)
    }
}

impl std::fmt::Debug for PartySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartySecret(.., ephemeral: {})", self.ephemeral)
    }
}

pub(super) fn mac(key: &[u8], input: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(input);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        let out = mac(b"Jefe", b"what do ya want for nothing?");
        let hex = hex::encode(out);
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_card_token_depends_on_the_number_and_the_secret_and_shows_neither() {
        let secret = PartySecret::from_bytes(&[7; 32]).unwrap();
        let number = CardNumber::parse("6222020000000000018").unwrap();
        let token = secret.card_token(&number);
        assert_eq!(token, secret.card_token(&number));
        assert_eq!(token.len(), 68);
        assert!(!token.contains("6222020000000000018"));
        assert_ne!(token, PartySecret::from_bytes(&[8; 32]).unwrap().card_token(&number));
        assert_ne!(token, secret.card_token(&CardNumber::parse("4111111111111111").unwrap()));
    }

    #[test]
    fn a_certificate_index_depends_on_the_type_the_number_and_the_secret_and_shows_none() {
        use sanhu_core::party::CertificateType;
        let secret = PartySecret::from_bytes(&[7; 32]).unwrap();
        let id = Certificate::parse(CertificateType::IdCard, "110101199003071233").unwrap();
        let index = secret.certificate_index(&id);
        assert_eq!(index.len(), 64);
        assert_eq!(index, secret.certificate_index(&id.clone()));
        assert!(!index.contains("1233"));
        assert_ne!(index, PartySecret::from_bytes(&[8; 32]).unwrap().certificate_index(&id));
        let other = Certificate::parse(CertificateType::IdCard, "310115198511114560").unwrap();
        assert_ne!(index, secret.certificate_index(&other));
        let passport = Certificate::parse(CertificateType::Passport, "110101199003071233").unwrap();
        assert_ne!(index, secret.certificate_index(&passport), "the type is part of what is hashed");
        assert_ne!(
            secret.certificate_index_check(),
            PartySecret::from_bytes(&[8; 32]).unwrap().certificate_index_check()
        );
    }

    #[test]
    fn the_subkeys_keep_codes_and_cards_apart() {
        let secret = PartySecret::from_bytes(&[7; 32]).unwrap();
        assert_ne!(secret.keyed("sanhu-one-time-code-v1", b"x"), secret.keyed("sanhu-card-token-v1", b"x"));
    }

    #[test]
    fn a_short_secret_is_refused_and_none_is_printed() {
        assert!(PartySecret::from_bytes(&[1; 31]).is_err());
        assert_eq!(format!("{:?}", PartySecret::from_bytes(&[1; 32]).unwrap()), "PartySecret(.., ephemeral: false)");
    }
}
