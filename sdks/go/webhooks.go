package sanhu

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Webhook signature verification, for the scheme planned in issue 18 ("Signed webhooks"): sanhu
// does not send webhooks yet. A delivery is a POST to the receiver's URL signed with sanhu's webhook
// key by the same canonical form as a request:
//
//	SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature headers. Verify the raw body bytes
// before parsing them, refuse a timestamp outside the tolerance, and de-duplicate by the event's id.

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
	timestampText, err := oneHeader(header, TimestampHeader)
	if err != nil {
		return err
	}
	nonce, err := oneHeader(header, NonceHeader)
	if err != nil {
		return err
	}
	signatureText, err := oneHeader(header, SignatureHeader)
	if err != nil {
		return err
	}
	if !unixSeconds.MatchString(timestampText) {
		return webhookError("the timestamp is not unix seconds")
	}
	timestamp, _ := strconv.ParseInt(timestampText, 10, 64)
	now := float64(options.Now.UnixNano()) / 1e9
	if math.Abs(now-float64(timestamp)) > options.Tolerance.Seconds() {
		return webhookError("the timestamp is outside the tolerance")
	}
	signature, err := base64.StdEncoding.Strict().DecodeString(signatureText)
	if err != nil {
		return webhookError("the signature is not base64")
	}
	if len(signature) != ed25519.SignatureSize {
		return webhookError("the signature is not 64 bytes")
	}
	text := SignedString(strings.ToUpper(options.Method), pathAndQuery, body, timestamp, nonce)
	if !ed25519.Verify(key, []byte(text), signature) {
		return webhookError("the signature does not verify")
	}
	return nil
}
