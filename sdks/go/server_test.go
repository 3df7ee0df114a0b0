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

// objectOf, modelOf and responseOf take an answer and fail the test on an error:
// modelOf[Payment](t)(client.Pay(...)).
func objectOf(t *testing.T) func(Object, error) Object {
	return func(value Object, err error) Object {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

func modelOf[T any](t *testing.T) func(*T, error) *T {
	return func(value *T, err error) *T {
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
	registered := modelOf[RegisteredMember](t)(client.RegisterMember(ctx, RegisterMemberRequest{Phone: Ptr(newPhone())}))
	expect(t, "registered status", registered.Member.Status, "inactive")
	activated := modelOf[ActivatedMember](t)(client.ActivateMember(ctx, registered.Member.ID))
	expect(t, "activated status", activated.Member.Status, "normal")
	if len(activated.Accounts) != 1 || activated.Accounts[0].AccountType != "basic" {
		t.Fatalf("activation opened %+v, want one basic account", activated.Accounts)
	}
	return registered.Member.ID, activated.Accounts[0].ID
}

func TestRegisterRechargePayRefundAndReadTheFlow(t *testing.T) {
	client := testClient(t, "SANHU_TEST_CREDENTIALS")
	ctx := context.Background()
	run := runID()
	alice, aliceBasic := activeMember(t, ctx, client)
	_, shopBasic := activeMember(t, ctx, client)

	// An order number with characters a path must percent-encode: the path is signed as sent.
	number := run + "/R+1:%"
	recharge := modelOf[Recharge](t)(client.CreateRecharge(ctx, CreateRechargeRequest{OrderNumber: number, MemberID: alice, Amount: 10000, Channel: "wechat"}))
	expect(t, "recharge", []any{recharge.Status, recharge.AccountID, recharge.Credited}, []any{RechargeStatus("pending"), aliceBasic, int64(0)})
	confirmed := modelOf[Recharge](t)(client.ConfirmRecharge(ctx, number))
	expect(t, "confirmed", []any{confirmed.Status, confirmed.Credited}, []any{RechargeStatus("succeeded"), int64(10000)})
	// Confirming again is idempotent: the member is credited once.
	expect(t, "confirmed again", modelOf[Recharge](t)(client.ConfirmRecharge(ctx, number)).Credited, int64(10000))
	read := modelOf[Recharge](t)(client.GetRecharge(ctx, number))
	expect(t, "read", []any{read.OrderNumber, read.Status}, []any{number, RechargeStatus("succeeded")})
	expect(t, "member status", modelOf[Member](t)(client.GetMember(ctx, alice)).Status, "normal")

	paid := modelOf[Payment](t)(client.Pay(ctx, PayRequest{OrderNumber: run + "-P1", MemberID: Ptr(alice), Amount: 2500, ReceiverAccountID: Ptr(shopBasic)}))
	expect(t, "paid", []any{paid.Status, paid.Paid, paid.Remainder}, []any{PaymentStatus("paid"), int64(2500), int64(0)})
	expect(t, "deductions", paid.Deductions, []Part{{AccountID: aliceBasic, Amount: 2500}})

	refund := modelOf[Refund](t)(client.RefundPayment(ctx, run+"-P1", RefundRequest{RefundNumber: run + "-P1-R1", Amount: 1000}))
	expect(t, "refund", []any{refund.Status, refund.Amount, len(refund.Returns)}, []any{RefundStatus("succeeded"), int64(1000), 1})
	expect(t, "refund returns", refund.Returns[0].AccountID, aliceBasic)
	expect(t, "refunded", modelOf[Payment](t)(client.GetPayment(ctx, run+"-P1")).Refunded, int64(1000))

	var flow [][]any
	var counterparties []any
	err := client.EachWalletFlow(ctx, alice, 2, func(line FlowLine) error { // two pages
		reference := ""
		if line.Reference != nil {
			reference = *line.Reference
		}
		flow = append(flow, []any{line.BusinessType, string(line.Direction), line.Amount, reference, line.BalanceAfter})
		name := ""
		if line.Counterparty.Name != nil {
			name = *line.Counterparty.Name
		}
		counterparties = append(counterparties, []any{string(line.Counterparty.Kind), name})
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

	wallet := modelOf[Wallet](t)(client.GetWallet(ctx, alice))
	expect(t, "wallet", []int64{wallet.Balance, wallet.Available, wallet.Frozen}, []int64{8500, 8500, 0})

	// The model writes back the JSON it read.
	response := responseOf(t)(client.Call(ctx, "getWallet", map[string]string{"id": alice}, nil, nil))
	var decoded Wallet
	if err := response.Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	written, err := json.Marshal(decoded)
	if err != nil {
		t.Fatal(err)
	}
	var again, raw any
	_ = json.Unmarshal(written, &again)
	_ = json.Unmarshal(response.Body, &raw)
	expect(t, "wallet written back", again, raw)
	// An optional field left nil is not sent.
	written, _ = json.Marshal(RegisterMemberRequest{Phone: Ptr("13800000001")})
	expect(t, "request", string(written), `{"phone":"13800000001"}`)
}

func TestAnIdempotencyKeyAppliesAPaymentOnce(t *testing.T) {
	client := testClient(t, "SANHU_TEST_CREDENTIALS")
	ctx := context.Background()
	run := runID()
	alice, _ := activeMember(t, ctx, client)
	_, shopBasic := activeMember(t, ctx, client)
	modelOf[Recharge](t)(client.CreateRecharge(ctx, CreateRechargeRequest{OrderNumber: run + "-R", MemberID: alice, Amount: 5000, Channel: "wechat"}))
	modelOf[Recharge](t)(client.ConfirmRecharge(ctx, run+"-R"))

	key := NewIdempotencyKey()
	body := Object{"order_number": run + "-P", "member_id": alice, "amount": 1200, "receiver_account_id": shopBasic}
	first := responseOf(t)(client.Call(ctx, "pay", nil, body, &RequestOptions{IdempotencyKey: key}))
	again := responseOf(t)(client.Call(ctx, "pay", nil, body, &RequestOptions{IdempotencyKey: key}))
	expect(t, "replayed", []bool{first.Replayed, again.Replayed}, []bool{false, true})
	expect(t, "the same answer", again.Data, first.Data)
	expect(t, "balance", modelOf[Wallet](t)(client.GetWallet(ctx, alice)).Balance, int64(3800))

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

	_, err := client.Pay(ctx, PayRequest{OrderNumber: run + "-P", MemberID: &alice, Amount: 1, ReceiverAccountID: &shopBasic})
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
