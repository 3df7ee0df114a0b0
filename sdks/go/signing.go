// Package sanhu is a thin client for the sanhu API: it signs every request with the API client's
// Ed25519 key, gives POSTs an Idempotency-Key, turns error answers into *APIError values carrying
// the stable codes, retries 429 and 503 as the server's Retry-After says, and verifies webhook
// signatures. Standard library only.
package sanhu

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The request signature (docs/SECURITY.md): Ed25519 over
//
//	SANHU-ED25519-V1\n{METHOD}\n{path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// sent as four headers: X-Sanhu-Client, X-Sanhu-Timestamp (unix seconds), X-Sanhu-Nonce (16 to 64
// of [A-Za-z0-9_-], never reused) and X-Sanhu-Signature (standard base64 of the 64-byte signature).
const (
	Scheme          = "SANHU-ED25519-V1"
	ClientHeader    = "X-Sanhu-Client"
	TimestampHeader = "X-Sanhu-Timestamp"
	NonceHeader     = "X-Sanhu-Nonce"
	SignatureHeader = "X-Sanhu-Signature"
)

// BodySHA256Hex is the lower-case hex SHA-256 of the body (of the empty string for no body).
func BodySHA256Hex(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// SignedString is the exact text that is signed. pathAndQuery is what the request line carries,
// byte for byte.
func SignedString(method, pathAndQuery string, body []byte, timestamp int64, nonce string) string {
	return fmt.Sprintf("%s\n%s\n%s\n%d\n%s\n%s", Scheme, method, pathAndQuery, timestamp, nonce, BodySHA256Hex(body))
}

// EncodeComponent percent-encodes a path segment or a query name or value: every byte of its UTF-8
// but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex; a space is %20, never +). The signature
// covers the query exactly as sent, so the SDK builds it with this one rule and signs what it sends.
func EncodeComponent(value string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// NewNonce is 32 hex characters of operating-system randomness.
func NewNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sanhu: the operating system gave no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func decodeKey(text, what string) ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("sanhu: an Ed25519 %s is standard base64 of 32 bytes", what)
	}
	return raw, nil
}

// ParsePrivateKey reads the credential file's private_key: standard base64 of the 32-byte seed.
func ParsePrivateKey(text string) (ed25519.PrivateKey, error) {
	seed, err := decodeKey(text, "private key (seed)")
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads standard base64 of a 32-byte Ed25519 public key.
func ParsePublicKey(text string) (ed25519.PublicKey, error) {
	raw, err := decodeKey(text, "public key")
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// PublicKeyBase64 is standard base64 of the private key's raw public key.
func PublicKeyBase64(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// Signer signs requests as one API client.
type Signer struct {
	ClientID string
	key      ed25519.PrivateKey
}

// NewSigner takes the client id and the credential's private_key (base64 of the seed).
func NewSigner(clientID, privateKey string) (*Signer, error) {
	key, err := ParsePrivateKey(privateKey)
	if err != nil {
		return nil, err
	}
	return &Signer{ClientID: clientID, key: key}, nil
}

// Sign gives the four signature headers of one request with the given timestamp and nonce.
func (s *Signer) Sign(method, pathAndQuery string, body []byte, timestamp int64, nonce string) map[string]string {
	signature := ed25519.Sign(s.key, []byte(SignedString(method, pathAndQuery, body, timestamp, nonce)))
	return map[string]string{
		ClientHeader:    s.ClientID,
		TimestampHeader: strconv.FormatInt(timestamp, 10),
		NonceHeader:     nonce,
		SignatureHeader: base64.StdEncoding.EncodeToString(signature),
	}
}

// SignNow signs with the current time and a fresh nonce.
func (s *Signer) SignNow(method, pathAndQuery string, body []byte) map[string]string {
	return s.Sign(method, pathAndQuery, body, time.Now().Unix(), NewNonce())
}
