package sanhu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Retries of 503 against a stand-in server (a real sanhu answers 503 only when its database or
// ledger fails): which answers are sent again, after the Retry-After, re-signed with a fresh nonce
// and the same Idempotency-Key. The 429 retries are tested against a real server (server_test.go).

type answer struct {
	status     int
	code       string
	retryAfter string
}

type recorded struct {
	path   string
	header http.Header
	body   string
}

type standIn struct {
	mu       sync.Mutex
	answers  []answer
	requests []recorded
	server   *httptest.Server
	client   *Client
}

// newStandIn answers each request with the next answer and records it.
func newStandIn(t *testing.T, answers ...answer) *standIn {
	s := &standIn{answers: answers}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, recorded{r.URL.RequestURI(), r.Header.Clone(), string(body)})
		next := answer{500, "stand_in_exhausted", ""}
		if len(s.answers) > 0 {
			next, s.answers = s.answers[0], s.answers[1:]
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if next.retryAfter != "" {
			w.Header().Set("Retry-After", next.retryAfter)
		}
		w.WriteHeader(next.status)
		if next.status == 200 {
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		_ = json.NewEncoder(w).Encode(Object{"error": Object{"code": next.code, "message": "stand-in", "request_id": "req_x"}})
	}))
	t.Cleanup(s.server.Close)
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	client, err := NewClient(s.server.URL, "cli_test", base64.StdEncoding.EncodeToString(seed))
	if err != nil {
		t.Fatal(err)
	}
	s.client = client
	return s
}

func TestAKeyedPostIsSentAgainAfterRetryAfterWithTheSameKeyAndAFreshNonce(t *testing.T) {
	s := newStandIn(t, answer{503, "audit_unavailable", "1"}, answer{200, "", ""})
	started := time.Now()
	response, err := s.client.Call(context.Background(), "pay", nil, Object{"order_number": "P-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(started); elapsed < time.Second {
		t.Errorf("retried after %v, before Retry-After", elapsed)
	}
	expect(t, "answer", []int{response.Status, response.Attempts}, []int{200, 2})
	first, second := s.requests[0], s.requests[1]
	expect(t, "paths and bodies", []string{first.path, second.path, first.body, second.body},
		[]string{"/v1/payments", "/v1/payments", `{"order_number":"P-1"}`, `{"order_number":"P-1"}`})
	expect(t, "keys", []string{first.header.Get("Idempotency-Key"), second.header.Get("Idempotency-Key")},
		[]string{response.IdempotencyKey, response.IdempotencyKey})
	if first.header.Get(NonceHeader) == second.header.Get(NonceHeader) || first.header.Get(SignatureHeader) == second.header.Get(SignatureHeader) {
		t.Errorf("the retry was not signed afresh")
	}
}

func TestAnUnkeyedPostThatMayHaveTakenEffectIsNotSentAgain(t *testing.T) {
	s := newStandIn(t, answer{503, "audit_unavailable", "0"}, answer{200, "", ""})
	_, err := s.client.Do(context.Background(), "POST", "/v1/members/mem_x/pay-password", Object{"pay_password": "135790"}, nil)
	var unavailable *APIError
	if !errors.As(err, &unavailable) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v", err)
	}
	expect(t, "refusal", []any{unavailable.Code, unavailable.HasRetryAfter, unavailable.RetryAfter, len(s.requests)}, []any{"audit_unavailable", true, 0.0, 1})
}

func TestAnUnkeyedPostThatAppliedNothingIsSentAgain(t *testing.T) {
	s := newStandIn(t, answer{503, "ledger_unavailable", "0"}, answer{200, "", ""})
	response, err := s.client.Do(context.Background(), "POST", "/v1/members/mem_x/pay-password", Object{"pay_password": "135790"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "attempts", response.Attempts, 2)
}

func TestAGetIsSentAtMostMaxRetriesMoreTimes(t *testing.T) {
	s := newStandIn(t, answer{503, "not_ready", "0"}, answer{503, "not_ready", "0"}, answer{503, "not_ready", "0"})
	if _, err := s.client.GetWallet(context.Background(), "mem_x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v", err)
	}
	expect(t, "requests", len(s.requests), 3)
}
