package sanhu

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Webhook signature verification (docs/WEBHOOKS.md). A delivery is a POST to the receiver's URL
// signed by the same canonical form as a request, with sanhu's Ed25519 webhook key:
//
//	SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// or, for a subscription made with "signature": "hmac-sha256", with HMAC-SHA256 keyed by the
// subscription's secret (its text as shown, whsec_ included) over the same lines but the first,
// SANHU-HMAC-SHA256-V1. Both come with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature
// headers. Verify the raw body bytes before parsing them, refuse a timestamp outside the tolerance,
// and de-duplicate by the event's id.

// HMACScheme is the first line of the string an HMAC-signed delivery signs.
const HMACScheme = "SANHU-HMAC-SHA256-V1"

// DefaultWebhookTolerance is how far a delivery's timestamp may be from now.
const DefaultWebhookTolerance = 300 * time.Second

var unixSeconds = regexp.MustCompile(`^[0-9]{1,12}$`)

// WebhookOptions change what VerifyWebhook checks; the zero value is a POST, the default
// tolerance and the current time.
type WebhookOptions struct {
	Method    string
	Tolerance time.Duration
	Now       time.Time
}

func webhookError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrWebhookSignature}, args...)...)
}

func oneHeader(header http.Header, name string) (string, error) {
	values := header.Values(name)
	if len(values) == 0 {
		return "", webhookError("the %s header is missing", name)
	}
	if len(values) > 1 {
		return "", webhookError("the %s header is given more than once", name)
	}
	return values[0], nil
}

// VerifyWebhook returns nil if the delivery is signed by publicKey (standard base64 of 32 bytes) and
// its timestamp is within the tolerance; otherwise an error wrapping ErrWebhookSignature. In an
// http.Handler: VerifyWebhook(key, r.URL.RequestURI(), r.Header, body, nil).
func VerifyWebhook(publicKey, pathAndQuery string, header http.Header, body []byte, opts *WebhookOptions) error {
	key, err := ParsePublicKey(publicKey)
	if err != nil {
		return err
	}
	options := webhookDefaults(opts)
	timestamp, nonce, signature, err := checkedHeaders(header, options, ed25519.SignatureSize)
	if err != nil {
		return err
	}
	text := SignedString(strings.ToUpper(options.Method), pathAndQuery, body, timestamp, nonce)
	if !ed25519.Verify(key, []byte(text), signature) {
		return webhookError("the signature does not verify")
	}
	return nil
}

// HMACSignedString is the exact text an HMAC-signed delivery signs.
func HMACSignedString(pathAndQuery string, body []byte, timestamp int64, nonce string) string {
	return fmt.Sprintf("%s\nPOST\n%s\n%d\n%s\n%s", HMACScheme, pathAndQuery, timestamp, nonce, BodySHA256Hex(body))
}

// VerifyWebhookHMAC returns nil if the delivery is signed with HMAC-SHA256 under secret (the whsec_
// text shown when the subscription was made) and its timestamp is within the tolerance; otherwise
// an error wrapping ErrWebhookSignature. The tags are compared in constant time. In an
// http.Handler: VerifyWebhookHMAC(secret, r.URL.RequestURI(), r.Header, body, nil).
func VerifyWebhookHMAC(secret, pathAndQuery string, header http.Header, body []byte, opts *WebhookOptions) error {
	if secret == "" {
		return webhookError("the secret is empty")
	}
	timestamp, nonce, signature, err := checkedHeaders(header, webhookDefaults(opts), sha256.Size)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(HMACSignedString(pathAndQuery, body, timestamp, nonce)))
	if !hmac.Equal(mac.Sum(nil), signature) {
		return webhookError("the signature does not verify")
	}
	return nil
}

func webhookDefaults(opts *WebhookOptions) WebhookOptions {
	options := WebhookOptions{}
	if opts != nil {
		options = *opts
	}
	if options.Method == "" {
		options.Method = http.MethodPost
	}
	if options.Tolerance == 0 {
		options.Tolerance = DefaultWebhookTolerance
	}
	if options.Now.IsZero() {
		options.Now = time.Now()
	}
	return options
}

// checkedHeaders answers the timestamp, nonce and decoded signature once the headers are well
// formed and fresh.
func checkedHeaders(header http.Header, options WebhookOptions, signatureBytes int) (int64, string, []byte, error) {
	timestampText, err := oneHeader(header, TimestampHeader)
	if err != nil {
		return 0, "", nil, err
	}
	nonce, err := oneHeader(header, NonceHeader)
	if err != nil {
		return 0, "", nil, err
	}
	signatureText, err := oneHeader(header, SignatureHeader)
	if err != nil {
		return 0, "", nil, err
	}
	if !unixSeconds.MatchString(timestampText) {
		return 0, "", nil, webhookError("the timestamp is not unix seconds")
	}
	timestamp, _ := strconv.ParseInt(timestampText, 10, 64)
	now := float64(options.Now.UnixNano()) / 1e9
	if math.Abs(now-float64(timestamp)) > options.Tolerance.Seconds() {
		return 0, "", nil, webhookError("the timestamp is outside the tolerance")
	}
	signature, err := base64.StdEncoding.Strict().DecodeString(signatureText)
	if err != nil {
		return 0, "", nil, webhookError("the signature is not base64")
	}
	if len(signature) != signatureBytes {
		return 0, "", nil, webhookError("the signature is not %d bytes", signatureBytes)
	}
	return timestamp, nonce, signature, nil
}
