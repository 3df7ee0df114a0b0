package sanhu

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The signer and the webhook verifier against the fixed example of docs/signature-example.json.

type example struct {
	PrivateKey      string            `json:"private_key"`
	PublicKeyBase64 string            `json:"public_key_base64"`
	ClientID        string            `json:"client_id"`
	Method          string            `json:"method"`
	PathAndQuery    string            `json:"path_and_query"`
	Timestamp       int64             `json:"timestamp"`
	Nonce           string            `json:"nonce"`
	Body            string            `json:"body"`
	BodySHA256Hex   string            `json:"body_sha256_hex"`
	SignedString    string            `json:"signed_string"`
	SignatureBase64 string            `json:"signature_base64"`
	Headers         map[string]string `json:"headers"`
}

func loadExample(t *testing.T) example {
	t.Helper()
	path := os.Getenv("SANHU_SIGNATURE_EXAMPLE")
	if path == "" {
		path = filepath.Join("..", "..", "docs", "signature-example.json")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e example
	if err := json.Unmarshal(text, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func headerOf(values map[string]string) http.Header {
	header := http.Header{}
	for name, value := range values {
		header.Add(name, value)
	}
	return header
}

func TestTheExampleIsSignedAsDocumented(t *testing.T) {
	e := loadExample(t)
	if got := BodySHA256Hex([]byte(e.Body)); got != e.BodySHA256Hex {
		t.Errorf("body hash %s, want %s", got, e.BodySHA256Hex)
	}
	if got := SignedString(e.Method, e.PathAndQuery, []byte(e.Body), e.Timestamp, e.Nonce); got != e.SignedString {
		t.Errorf("signed string %q, want %q", got, e.SignedString)
	}
	signer, err := NewSigner(e.ClientID, e.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	headers := signer.Sign(e.Method, e.PathAndQuery, []byte(e.Body), e.Timestamp, e.Nonce)
	if headers[SignatureHeader] != e.SignatureBase64 {
		t.Errorf("signature %s, want %s", headers[SignatureHeader], e.SignatureBase64)
	}
	if len(headers) != len(e.Headers) {
		t.Errorf("headers %v, want %v", headers, e.Headers)
	}
	for name, value := range e.Headers {
		if headers[name] != value {
			t.Errorf("header %s: %q, want %q", name, headers[name], value)
		}
	}
	key, _ := ParsePrivateKey(e.PrivateKey)
	if got := PublicKeyBase64(key); got != e.PublicKeyBase64 {
		t.Errorf("public key %s, want %s", got, e.PublicKeyBase64)
	}
}

func TestTheExampleQueryIsBuiltByTheEncodingRule(t *testing.T) {
	e := loadExample(t)
	_, query, _ := strings.Cut(e.PathAndQuery, "?")
	if got := BuildQuery(url.Values{"source": {"测试 A/B"}, "tag": {"a+b"}}); got != query {
		t.Errorf("query %q, want %q", got, query)
	}
	if got := EncodeComponent("测试 A/B"); got != "%E6%B5%8B%E8%AF%95%20A%2FB" {
		t.Errorf("encoded %q", got)
	}
	if got := EncodeComponent("AZaz09-._~"); got != "AZaz09-._~" {
		t.Errorf("encoded %q", got)
	}
}

func TestANonceIsFreshAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	wellFormed := regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	for i := 0; i < 100; i++ {
		nonce := NewNonce()
		if seen[nonce] || !wellFormed.MatchString(nonce) {
			t.Fatalf("nonce %q repeated or malformed", nonce)
		}
		seen[nonce] = true
	}
}

func TestTheExampleVerifiesAsAWebhookAndAlteredOnesDoNot(t *testing.T) {
	e := loadExample(t)
	at := time.Unix(e.Timestamp, 0)
	if err := VerifyWebhook(e.PublicKeyBase64, e.PathAndQuery, headerOf(e.Headers), []byte(e.Body), &WebhookOptions{Now: at.Add(10 * time.Second)}); err != nil {
		t.Fatalf("the example does not verify: %v", err)
	}
	other := PublicKeyBase64(ed25519.NewKeyFromSeed(make([]byte, 32)))
	withHeader := func(name, value string) http.Header {
		header := headerOf(e.Headers)
		header.Set(name, value)
		return header
	}
	withoutSignature := headerOf(e.Headers)
	withoutSignature.Del(SignatureHeader)
	cases := []struct {
		key, path string
		header    http.Header
		body      string
		now       time.Time
		why       string
	}{
		{e.PublicKeyBase64, e.PathAndQuery, headerOf(e.Headers), e.Body + " ", at, "does not verify"},
		{e.PublicKeyBase64, e.PathAndQuery + "&x=1", headerOf(e.Headers), e.Body, at, "does not verify"},
		{other, e.PathAndQuery, headerOf(e.Headers), e.Body, at, "does not verify"},
		{e.PublicKeyBase64, e.PathAndQuery, headerOf(e.Headers), e.Body, at.Add(301 * time.Second), "outside the tolerance"},
		{e.PublicKeyBase64, e.PathAndQuery, withHeader(NonceHeader, "another-nonce-0001"), e.Body, at, "does not verify"},
		{e.PublicKeyBase64, e.PathAndQuery, withoutSignature, e.Body, at, "missing"},
		{e.PublicKeyBase64, e.PathAndQuery, withHeader(SignatureHeader, "AAAA"), e.Body, at, "not 64 bytes"},
	}
	for i, c := range cases {
		err := VerifyWebhook(c.key, c.path, c.header, []byte(c.body), &WebhookOptions{Now: c.now})
		if !errors.Is(err, ErrWebhookSignature) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("case %d: %v, want %q", i, err, c.why)
		}
	}
}

func TestAFreshDeliveryVerifies(t *testing.T) {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	privateKey := base64.StdEncoding.EncodeToString(seed)
	signer, _ := NewSigner("cli_webhooks", privateKey)
	body := []byte(`{"id":"evt_1","type":"payment.paid"}`)
	header := headerOf(signer.SignNow("POST", "/hooks/sanhu?shop=1", body))
	publicKey := PublicKeyBase64(ed25519.NewKeyFromSeed(seed))
	if err := VerifyWebhook(publicKey, "/hooks/sanhu?shop=1", header, body, nil); err != nil {
		t.Fatal(err)
	}
	header.Add(NonceHeader, "another-nonce-0001")
	if err := VerifyWebhook(publicKey, "/hooks/sanhu?shop=1", header, body, nil); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("a repeated header: %v", err)
	}
	header.Del(NonceHeader)
	header.Set(NonceHeader, signer.SignNow("POST", "/", nil)[NonceHeader])
	if err := VerifyWebhook(publicKey, "/hooks/sanhu?shop=1", header, body, &WebhookOptions{Now: time.Now().Add(10 * time.Minute)}); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("a stale delivery: %v", err)
	}
}

func TestTheTablesAreTheDocuments(t *testing.T) {
	for code, status := range map[string]int{"insufficient_funds": 422, "rate_limited": 429, "ledger_unavailable": 503} {
		if ErrorCodes[code] != status {
			t.Errorf("%s: %d, want %d", code, ErrorCodes[code], status)
		}
	}
	if got := Operations["pay"]; got != (Operation{"POST", "/v1/payments", true}) {
		t.Errorf("pay: %+v", got)
	}
	if got := Operations["getWalletFlow"]; got != (Operation{"GET", "/v1/members/{id}/wallet/flow", false}) {
		t.Errorf("getWalletFlow: %+v", got)
	}
	// A secret-bearing endpoint takes no Idempotency-Key, and the client refuses to send one.
	client, _ := NewClient("http://127.0.0.1:9", "cli_x", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	_, err := client.Call(context.Background(), "setMemberPayPassword", map[string]string{"id": "mem_x"},
		Object{"pay_password": "135790"}, &RequestOptions{IdempotencyKey: "k"})
	if err == nil || !strings.Contains(err.Error(), "takes no Idempotency-Key") {
		t.Errorf("an idempotency key for a secret-bearing endpoint: %v", err)
	}
}

type hmacExample struct {
	Secret          string            `json:"secret"`
	PathAndQuery    string            `json:"path_and_query"`
	Timestamp       int64             `json:"timestamp"`
	Nonce           string            `json:"nonce"`
	Body            string            `json:"body"`
	SignedString    string            `json:"signed_string"`
	SignatureBase64 string            `json:"signature_base64"`
	Headers         map[string]string `json:"headers"`
}

func TestTheHMACExampleVerifiesAndAlteredOnesDoNot(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhook-hmac-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e hmacExample
	if err := json.Unmarshal(text, &e); err != nil {
		t.Fatal(err)
	}
	if got := HMACSignedString(e.PathAndQuery, []byte(e.Body), e.Timestamp, e.Nonce); got != e.SignedString {
		t.Fatalf("signed string %q, want %q", got, e.SignedString)
	}
	at := time.Unix(e.Timestamp, 0)
	if err := VerifyWebhookHMAC(e.Secret, e.PathAndQuery, headerOf(e.Headers), []byte(e.Body), &WebhookOptions{Now: at.Add(10 * time.Second)}); err != nil {
		t.Fatalf("the example does not verify: %v", err)
	}
	withHeader := func(name, value string) http.Header {
		header := headerOf(e.Headers)
		header.Set(name, value)
		return header
	}
	withoutTimestamp := headerOf(e.Headers)
	withoutTimestamp.Del(TimestampHeader)
	cases := []struct {
		secret, path string
		header       http.Header
		body         string
		now          time.Time
		why          string
	}{
		{e.Secret, e.PathAndQuery, headerOf(e.Headers), e.Body + " ", at, "does not verify"},
		{e.Secret, e.PathAndQuery + "&x=1", headerOf(e.Headers), e.Body, at, "does not verify"},
		{e.Secret + "x", e.PathAndQuery, headerOf(e.Headers), e.Body, at, "does not verify"},
		{e.Secret, e.PathAndQuery, headerOf(e.Headers), e.Body, at.Add(-301 * time.Second), "outside the tolerance"},
		{e.Secret, e.PathAndQuery, withHeader(NonceHeader, "another"), e.Body, at, "does not verify"},
		{e.Secret, e.PathAndQuery, withHeader(SignatureHeader, "AAAA"), e.Body, at, "not 32 bytes"},
		{e.Secret, e.PathAndQuery, withoutTimestamp, e.Body, at, "missing"},
		{"", e.PathAndQuery, headerOf(e.Headers), e.Body, at, "empty"},
	}
	for i, c := range cases {
		err := VerifyWebhookHMAC(c.secret, c.path, c.header, []byte(c.body), &WebhookOptions{Now: c.now})
		if !errors.Is(err, ErrWebhookSignature) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("case %d: %v, want %q", i, err, c.why)
		}
	}
}
