package sanhu

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Against a real `sanhu serve` (sdks/test.sh starts two): SANHU_TEST_CREDENTIALS names its
// credential file and SANHU_TEST_LIMITED_CREDENTIALS one of a server started with
// rate_limit_per_s = 1 and rate_limit_burst = 1. Without them these tests are skipped, unless
// SANHU_TEST_REQUIRE_SERVER=1, when they fail. The wallet walk (register, recharge, pay, refund,
// read the flow), idempotency keys, typed errors and retries honouring Retry-After.

func credentials(t *testing.T, variable string) string {
	t.Helper()
	path := os.Getenv(variable)
	if path == "" {
		if os.Getenv("SANHU_TEST_REQUIRE_SERVER") == "1" {
			t.Fatalf("%s is not set and SANHU_TEST_REQUIRE_SERVER=1", variable)
		}
		t.Skipf("%s is not set: no sanhu serve to test against", variable)
	}
	return path
}

func testClient(t *testing.T, variable string) *Client {
	t.Helper()
	client, err := NewClientFromCredentials(credentials(t, variable))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "go-" + hex.EncodeToString(b[:])
}

func newPhone() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("139%08d", n.Int64())
}

// objectOf and responseOf take an answer and fail the test on an error: objectOf(t)(client.Pay(...)).
func objectOf(t *testing.T) func(Object, error) Object {
	return func(value Object, err error) Object {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

func newClient(t *testing.T) func(*Client, error) *Client {
	return func(value *Client, err error) *Client {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

func responseOf(t *testing.T) func(*Response, error) *Response {
	return func(value *Response, err error) *Response {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

// get walks an Object by keys and indexes: get(o, "accounts", 0, "id").
func get(value any, path ...any) any {
	for _, step := range path {
		switch key := step.(type) {
		case string:
			value = value.(Object)[key]
		case int:
			value = value.([]any)[key]
		}
	}
	if number, ok := value.(json.Number); ok {
		n, err := number.Int64()
		if err == nil {
			return n
		}
	}
	return value
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %#v, want %#v", what, got, want)
	}
}

func activeMember(t *testing.T, ctx context.Context, client *Client) (string, string) {
	t.Helper()
	registered := objectOf(t)(client.RegisterMember(ctx, Object{"phone": newPhone()}))
	expect(t, "registered status", get(registered, "member", "status"), "inactive")
	member := get(registered, "member", "id").(string)
	activated := objectOf(t)(client.ActivateMember(ctx, member))
	expect(t, "activated status", get(activated, "member", "status"), "normal")
	expect(t, "account type", get(activated, "accounts", 0, "account_type"), "basic")
	return member, get(activated, "accounts", 0, "id").(string)
}

func TestRegisterRechargePayRefundAndReadTheFlow(t *testing.T) {
	client := testClient(t, "SANHU_TEST_CREDENTIALS")
	ctx := context.Background()
	run := runID()
	alice, aliceBasic := activeMember(t, ctx, client)
	_, shopBasic := activeMember(t, ctx, client)

	// An order number with characters a path must percent-encode: the path is signed as sent.
	number := run + "/R+1:%"
	recharge := objectOf(t)(client.CreateRecharge(ctx, Object{"order_number": number, "member_id": alice, "amount": 10000, "channel": "wechat"}))
	expect(t, "recharge", []any{get(recharge, "status"), get(recharge, "account_id"), get(recharge, "credited")}, []any{"pending", aliceBasic, int64(0)})
	confirmed := objectOf(t)(client.ConfirmRecharge(ctx, number))
	expect(t, "confirmed", []any{get(confirmed, "status"), get(confirmed, "credited")}, []any{"succeeded", int64(10000)})
	// Confirming again is idempotent: the member is credited once.
	expect(t, "confirmed again", get(objectOf(t)(client.ConfirmRecharge(ctx, number)), "credited"), int64(10000))
	read := objectOf(t)(client.GetRecharge(ctx, number))
	expect(t, "read", []any{get(read, "order_number"), get(read, "status")}, []any{number, "succeeded"})
	expect(t, "member status", get(objectOf(t)(client.GetMember(ctx, alice)), "status"), "normal")

	paid := objectOf(t)(client.Pay(ctx, Object{"order_number": run + "-P1", "member_id": alice, "amount": 2500, "receiver_account_id": shopBasic}))
	expect(t, "paid", []any{get(paid, "status"), get(paid, "paid"), get(paid, "remainder")}, []any{"paid", int64(2500), int64(0)})
	expect(t, "deductions", []any{get(paid, "deductions", 0, "account_id"), get(paid, "deductions", 0, "amount"), len(get(paid, "deductions").([]any))}, []any{aliceBasic, int64(2500), 1})

	refund := objectOf(t)(client.RefundPayment(ctx, run+"-P1", Object{"refund_number": run + "-P1-R1", "amount": 1000}))
	expect(t, "refund", []any{get(refund, "status"), get(refund, "amount"), get(refund, "returns", 0, "account_id")}, []any{"succeeded", int64(1000), aliceBasic})
	expect(t, "refunded", get(objectOf(t)(client.GetPayment(ctx, run+"-P1")), "refunded"), int64(1000))

	var flow [][]any
	var counterparties []any
	err := client.EachWalletFlow(ctx, alice, 2, func(line Object) error { // two pages
		flow = append(flow, []any{get(line, "business_type"), get(line, "direction"), get(line, "amount"), get(line, "reference"), get(line, "balance_after")})
		counterparties = append(counterparties, []any{get(line, "counterparty", "kind"), get(line, "counterparty", "name")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "flow", flow, [][]any{
		{"refund", "in", int64(1000), run + "-P1-R1", int64(8500)},
		{"pay", "out", int64(2500), run + "-P1", int64(7500)},
		{"recharge", "in", int64(10000), number, int64(10000)},
	})
	expect(t, "recharge counterparty", counterparties[2], []any{"platform", "channel:wechat"})

	// A struct of one's own instead of an Object.
	response := responseOf(t)(client.Call(ctx, "getWallet", map[string]string{"id": alice}, nil, nil))
	var wallet struct {
		Balance, Available, Frozen int64
	}
	if err := response.Decode(&wallet); err != nil {
		t.Fatal(err)
	}
	expect(t, "wallet", wallet, struct{ Balance, Available, Frozen int64 }{8500, 8500, 0})
}

func TestAnIdempotencyKeyAppliesAPaymentOnce(t *testing.T) {
	client := testClient(t, "SANHU_TEST_CREDENTIALS")
	ctx := context.Background()
	run := runID()
	alice, _ := activeMember(t, ctx, client)
	_, shopBasic := activeMember(t, ctx, client)
	objectOf(t)(client.CreateRecharge(ctx, Object{"order_number": run + "-R", "member_id": alice, "amount": 5000, "channel": "wechat"}))
	objectOf(t)(client.ConfirmRecharge(ctx, run+"-R"))

	key := NewIdempotencyKey()
	body := Object{"order_number": run + "-P", "member_id": alice, "amount": 1200, "receiver_account_id": shopBasic}
	first := responseOf(t)(client.Call(ctx, "pay", nil, body, &RequestOptions{IdempotencyKey: key}))
	again := responseOf(t)(client.Call(ctx, "pay", nil, body, &RequestOptions{IdempotencyKey: key}))
	expect(t, "replayed", []bool{first.Replayed, again.Replayed}, []bool{false, true})
	expect(t, "the same answer", again.Data, first.Data)
	expect(t, "balance", get(objectOf(t)(client.GetWallet(ctx, alice)), "balance"), int64(3800))

	altered := Object{"order_number": run + "-P", "member_id": alice, "amount": 1300, "receiver_account_id": shopBasic}
	_, err := client.Call(ctx, "pay", nil, altered, &RequestOptions{IdempotencyKey: key})
	if !errors.Is(err, ErrUnprocessable) || ErrorCode(err) != "idempotency_key_reused" {
		t.Errorf("the same key for another payment: %v", err)
	}
	// Without a key of its own, each POST gets a fresh one.
	expect(t, "a GET's key", responseOf(t)(client.Call(ctx, "getWallet", map[string]string{"id": alice}, nil, nil)).IdempotencyKey, "")
	created := responseOf(t)(client.Call(ctx, "createRecharge", nil, Object{"order_number": run + "-R2", "member_id": alice, "amount": 100, "channel": "wechat"}, nil))
	if !strings.HasPrefix(created.IdempotencyKey, "idem-") {
		t.Errorf("a POST's key: %q", created.IdempotencyKey)
	}
}

func TestRefusalsAreTypedErrorsWithTheirStableCodes(t *testing.T) {
	client := testClient(t, "SANHU_TEST_CREDENTIALS")
	ctx := context.Background()
	run := runID()
	alice, _ := activeMember(t, ctx, client)
	_, shopBasic := activeMember(t, ctx, client)

	_, err := client.Pay(ctx, Object{"order_number": run + "-P", "member_id": alice, "amount": 1, "receiver_account_id": shopBasic})
	var poor *APIError
	if !errors.As(err, &poor) || !errors.Is(err, ErrUnprocessable) {
		t.Fatalf("paying with nothing: %v", err)
	}
	expect(t, "insufficient funds", []any{poor.Status, poor.Code, poor.Known()}, []any{422, "insufficient_funds", true})
	if !strings.HasPrefix(poor.RequestID, "req_") {
		t.Errorf("request id %q", poor.RequestID)
	}

	_, err = client.GetPayment(ctx, run+"-nobody")
	var missing *APIError
	if !errors.As(err, &missing) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown order: %v", err)
	}
	expect(t, "not found", []any{missing.Code, missing.Known()}, []any{"order_not_found", true})
	_, err = client.GetWallet(ctx, "mem_not-an-id")
	if !errors.Is(err, ErrInvalidRequest) || ErrorCode(err) != "invalid_id" {
		t.Errorf("a malformed id: %v", err)
	}

	// A key the server does not know for this client: the signature does not verify.
	stranger := newClient(t)(NewClient(client.URL, client.Signer.ClientID, base64.StdEncoding.EncodeToString(make([]byte, 32))))
	_, err = stranger.GetWallet(ctx, alice)
	if !errors.Is(err, ErrAuthentication) || ErrorCode(err) != "invalid_signature" {
		t.Errorf("another key: %v", err)
	}
}

func TestARateLimitedRequestIsRetriedAfterRetryAfter(t *testing.T) {
	// The server allows one request a second with a burst of one.
	strict := testClient(t, "SANHU_TEST_LIMITED_CREDENTIALS")
	ctx := context.Background()
	strict.MaxRetries = 0
	var limited *APIError
	for i := 0; i < 5 && limited == nil; i++ {
		_, err := strict.Call(ctx, "listPlatformAccounts", nil, nil, nil)
		if err != nil && !errors.As(err, &limited) {
			t.Fatal(err)
		}
	}
	if limited == nil {
		t.Fatal("five requests at once were not limited")
	}
	expect(t, "limited", []any{limited.Status, limited.Code, limited.Known(), errors.Is(limited, ErrRateLimited)}, []any{429, "rate_limited", true, true})
	if !limited.HasRetryAfter || limited.RetryAfter < 1 || limited.RetryAfter > 2 {
		t.Errorf("Retry-After %v (%v)", limited.RetryAfter, limited.HasRetryAfter)
	}

	patient := testClient(t, "SANHU_TEST_LIMITED_CREDENTIALS")
	patient.MaxRetries = 3
	started := time.Now()
	retried := false
	for i := 0; i < 3; i++ {
		response := responseOf(t)(patient.Call(ctx, "listPlatformAccounts", nil, nil, nil))
		retried = retried || response.Attempts > 1
	}
	if elapsed := time.Since(started); !retried || elapsed < time.Second {
		t.Errorf("retried %v, in %v: at least one retry after Retry-After's second", retried, elapsed)
	}

	// A Retry-After longer than the client may wait is returned, not cut short.
	hasty := testClient(t, "SANHU_TEST_LIMITED_CREDENTIALS")
	hasty.MaxRetries = 3
	hasty.MaxRetryWait = 100 * time.Millisecond
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = hasty.Call(ctx, "listPlatformAccounts", nil, nil, nil)
	}
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("a hasty client: %v", err)
	}
}
