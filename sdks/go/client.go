package sanhu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultCredentialsFile is where `sanhu serve` and `sanhu client create --save` write the credential.
const DefaultCredentialsFile = "sanhu-credentials.json"

// Codes whose answer says nothing was applied: a retry is safe even without an Idempotency-Key.
var nothingApplied = map[string]bool{"rate_limited": true, "ledger_unavailable": true, "not_ready": true}

var pathParameter = regexp.MustCompile(`\{([a-z_]+)\}`)

// Object is a JSON object as decoded by the client; numbers are json.Number, so amounts of minor
// units keep every digit. Response.Decode reads an answer into a struct of your own instead.
type Object = map[string]any

// Credential is the credential file: {"url", "client_id", "private_key"}.
type Credential struct {
	URL      string `json:"url"`
	ClientID string `json:"client_id"`
	// PrivateKey is standard base64 of the 32-byte Ed25519 seed.
	PrivateKey string `json:"private_key"`
}

// LoadCredential reads a credential file.
func LoadCredential(path string) (Credential, error) {
	var credential Credential
	text, err := os.ReadFile(path)
	if err != nil {
		return credential, err
	}
	if err := json.Unmarshal(text, &credential); err != nil {
		return credential, fmt.Errorf("sanhu: %s is not a sanhu credential: %w", path, err)
	}
	return credential, nil
}

// Client is a signed client of one sanhu server. Safe for concurrent use.
type Client struct {
	URL    string
	Signer *Signer
	// HTTPClient sends the requests; its Timeout bounds each attempt (default 30 s).
	HTTPClient *http.Client
	// MaxRetries is how many times a 429, or a 503 that is safe to repeat, is sent again (default 2).
	MaxRetries int
	// MaxRetryWait is the longest Retry-After honoured (default 30 s); a longer one is returned, never cut short.
	MaxRetryWait time.Duration
}

// NewClient makes a client of the server at url signing as clientID with privateKey (base64 of the seed).
func NewClient(baseURL, clientID, privateKey string) (*Client, error) {
	signer, err := NewSigner(clientID, privateKey)
	if err != nil {
		return nil, err
	}
	return &Client{
		URL:          strings.TrimRight(baseURL, "/"),
		Signer:       signer,
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects},
		MaxRetries:   2,
		MaxRetryWait: 30 * time.Second,
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewClientFromCredentials makes a client from a credential file.
func NewClientFromCredentials(path string) (*Client, error) {
	credential, err := LoadCredential(path)
	if err != nil {
		return nil, err
	}
	return NewClient(credential.URL, credential.ClientID, credential.PrivateKey)
}

// RequestOptions are a request's query and Idempotency-Key.
type RequestOptions struct {
	Query          url.Values
	IdempotencyKey string
}

// Response is a success answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Data is the body decoded (nil for an empty body).
	Data Object
	// Replayed tells whether the answer is the stored answer of an earlier request with the same Idempotency-Key.
	Replayed  bool
	RequestID string
	// Attempts is how many times the request was sent (1 when it was not retried).
	Attempts       int
	IdempotencyKey string
}

// Decode reads the body into v.
func (r *Response) Decode(v any) error {
	return json.Unmarshal(r.Body, v)
}

// NewIdempotencyKey is a fresh random key.
func NewIdempotencyKey() string {
	return "idem-" + NewNonce()
}

// BuildQuery is "name=value&..." with the names in order and each part percent-encoded (EncodeComponent).
func BuildQuery(query url.Values) string {
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		for _, value := range query[name] {
			parts = append(parts, EncodeComponent(name)+"="+EncodeComponent(value))
		}
	}
	return strings.Join(parts, "&")
}

func retryAfterSeconds(value string) (float64, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.ParseUint(value, 10, 32); err == nil {
		return float64(seconds), true
	}
	if when, err := http.ParseTime(value); err == nil {
		return math.Max(0, time.Until(when).Seconds()), true
	}
	return 0, false
}

// Do sends one signed request (again on 429/503 as allowed) and returns the answer, or an *APIError
// for a non-2xx answer. path is sent and signed as given: build its parameters with
// EncodeComponent and pass the query in opts. A nil body sends no body.
func (c *Client) Do(ctx context.Context, method, path string, body any, opts *RequestOptions) (*Response, error) {
	if opts == nil {
		opts = &RequestOptions{}
	}
	method = strings.ToUpper(method)
	pathAndQuery := path
	if query := BuildQuery(opts.Query); query != "" {
		pathAndQuery += "?" + query
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("sanhu: the body is not JSON: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		response, err := c.send(ctx, method, pathAndQuery, payload, opts.IdempotencyKey)
		if err == nil {
			response.Attempts = attempt
			response.IdempotencyKey = opts.IdempotencyKey
			return response, nil
		}
		var apiError *APIError
		if !errors.As(err, &apiError) {
			return nil, err
		}
		wait, retry := c.retryWait(apiError, method, opts.IdempotencyKey, attempt)
		if !retry {
			return nil, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func (c *Client) retryWait(e *APIError, method, idempotencyKey string, attempt int) (time.Duration, bool) {
	if attempt > c.MaxRetries {
		return 0, false
	}
	switch e.Status {
	case 429:
	case 503:
		safe := method == "GET" || method == "HEAD" || idempotencyKey != "" || nothingApplied[e.Code]
		if !safe {
			return 0, false
		}
	default:
		return 0, false
	}
	seconds := math.Min(0.25*math.Pow(2, float64(attempt-1)), 4)
	if e.HasRetryAfter {
		seconds = e.RetryAfter
	}
	wait := time.Duration(seconds * float64(time.Second))
	return wait, wait <= c.MaxRetryWait
}

func (c *Client) send(ctx context.Context, method, pathAndQuery string, payload []byte, idempotencyKey string) (*Response, error) {
	request, err := http.NewRequestWithContext(ctx, method, c.URL+"/", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	// The request line carries exactly what was signed: Opaque is sent as it is, unescaped by nobody.
	path, query, _ := strings.Cut(pathAndQuery, "?")
	request.URL.Opaque = path
	request.URL.RawQuery = query
	for name, value := range c.Signer.SignNow(method, pathAndQuery, payload) {
		request.Header.Set(name, value)
	}
	request.Header.Set("Accept", "application/json")
	if len(payload) > 0 {
		request.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		request.Header.Set("Idempotency-Key", idempotencyKey)
	}
	answer, err := c.HTTPClient.Do(request)
	if err != nil {
		return nil, fmt.Errorf("sanhu: failed to reach %s: %w", c.URL, err)
	}
	defer answer.Body.Close()
	raw, err := io.ReadAll(answer.Body)
	if err != nil {
		return nil, fmt.Errorf("sanhu: failed to read the answer: %w", err)
	}
	var data Object
	if len(raw) > 0 {
		decoder := json.NewDecoder(bytes.NewReader(raw))
		decoder.UseNumber()
		_ = decoder.Decode(&data) // a body that is no JSON object leaves Data nil; Body keeps it
	}
	requestID := answer.Header.Get("X-Request-Id")
	if answer.StatusCode >= 200 && answer.StatusCode < 300 {
		return &Response{
			Status:    answer.StatusCode,
			Header:    answer.Header,
			Body:      raw,
			Data:      data,
			Replayed:  answer.Header.Get("Idempotent-Replayed") == "true",
			RequestID: requestID,
		}, nil
	}
	apiError := &APIError{Status: answer.StatusCode, Code: fmt.Sprintf("http_%d", answer.StatusCode), Message: string(raw), RequestID: requestID}
	if detail, ok := data["error"].(Object); ok {
		if code, ok := detail["code"].(string); ok {
			apiError.Code = code
		}
		if message, ok := detail["message"].(string); ok {
			apiError.Message = message
		}
		if id, ok := detail["request_id"].(string); ok {
			apiError.RequestID = id
		}
	}
	apiError.RetryAfter, apiError.HasRetryAfter = retryAfterSeconds(answer.Header.Get("Retry-After"))
	return nil, apiError
}

// Call sends any operation of the OpenAPI document by its operationId (Operations). A POST that
// takes an Idempotency-Key gets a fresh one unless opts gives one, so that retries apply it once.
func (c *Client) Call(ctx context.Context, operationID string, pathParams map[string]string, body any, opts *RequestOptions) (*Response, error) {
	operation, ok := Operations[operationID]
	if !ok {
		return nil, fmt.Errorf("sanhu: no operation %q in the OpenAPI document", operationID)
	}
	var missing []string
	used := 0
	path := pathParameter.ReplaceAllStringFunc(operation.Path, func(match string) string {
		name := match[1 : len(match)-1]
		value, ok := pathParams[name]
		if !ok {
			missing = append(missing, name)
			return match
		}
		used++
		return EncodeComponent(value)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("sanhu: %s needs the path parameter %s", operationID, strings.Join(missing, ", "))
	}
	if used != len(pathParams) {
		return nil, fmt.Errorf("sanhu: %s was given path parameters it does not have", operationID)
	}
	options := RequestOptions{}
	if opts != nil {
		options = *opts
	}
	if options.IdempotencyKey != "" && !operation.Idempotent {
		return nil, fmt.Errorf("sanhu: %s takes no Idempotency-Key (its request or response carries a secret)", operationID)
	}
	if options.IdempotencyKey == "" && operation.Idempotent && operation.Method == "POST" {
		options.IdempotencyKey = NewIdempotencyKey()
	}
	return c.Do(ctx, operation.Method, path, body, &options)
}

// typed sends a request and decodes its answer into a model.
func typed[T any](ctx context.Context, c *Client, operationID string, pathParams map[string]string, body any, opts *RequestOptions) (*T, error) {
	response, err := c.Call(ctx, operationID, pathParams, body, opts)
	if err != nil {
		return nil, err
	}
	var model T
	if err := response.Decode(&model); err != nil {
		return nil, fmt.Errorf("sanhu: %s answered what its model does not read: %w", operationID, err)
	}
	return &model, nil
}

func keyed(idempotencyKey []string) *RequestOptions {
	if len(idempotencyKey) > 0 {
		return &RequestOptions{IdempotencyKey: idempotencyKey[0]}
	}
	return nil
}

// Ptr is a pointer to v, for the optional fields of a request model: Ptr("13800000001").
func Ptr[T any](v T) *T {
	return &v
}

// The main flows, by name, with the typed models of models.go. An optional idempotency key
// replaces the fresh one.

// RegisterMember is POST /v1/members: e.g. RegisterMemberRequest{Phone: Ptr("13800000001")}.
func (c *Client) RegisterMember(ctx context.Context, body RegisterMemberRequest, idempotencyKey ...string) (*RegisteredMember, error) {
	return typed[RegisteredMember](ctx, c, "registerMember", nil, body, keyed(idempotencyKey))
}

// ActivateMember is POST /v1/members/{id}/activate: the member becomes normal and its basic account opens.
func (c *Client) ActivateMember(ctx context.Context, memberID string, idempotencyKey ...string) (*ActivatedMember, error) {
	return typed[ActivatedMember](ctx, c, "activateMember", map[string]string{"id": memberID}, ActivateMemberRequest{}, keyed(idempotencyKey))
}

// GetMember is GET /v1/members/{id}.
func (c *Client) GetMember(ctx context.Context, memberID string) (*Member, error) {
	return typed[Member](ctx, c, "getMember", map[string]string{"id": memberID}, nil, nil)
}

// CreateRecharge is POST /v1/recharges: order number, member, amount (minor units), channel.
func (c *Client) CreateRecharge(ctx context.Context, body CreateRechargeRequest, idempotencyKey ...string) (*Recharge, error) {
	return typed[Recharge](ctx, c, "createRecharge", nil, body, keyed(idempotencyKey))
}

// ConfirmRecharge is POST /v1/recharges/{number}/confirm: the channel says it was paid; credits the member once.
func (c *Client) ConfirmRecharge(ctx context.Context, orderNumber string, idempotencyKey ...string) (*Recharge, error) {
	return typed[Recharge](ctx, c, "confirmRecharge", map[string]string{"number": orderNumber}, nil, keyed(idempotencyKey))
}

// GetRecharge is GET /v1/recharges/{number}.
func (c *Client) GetRecharge(ctx context.Context, orderNumber string) (*Recharge, error) {
	return typed[Recharge](ctx, c, "getRecharge", map[string]string{"number": orderNumber}, nil, nil)
}

// Pay is POST /v1/payments: order number, amount, member, receiver account (or platform account), ...
func (c *Client) Pay(ctx context.Context, body PayRequest, idempotencyKey ...string) (*Payment, error) {
	return typed[Payment](ctx, c, "pay", nil, body, keyed(idempotencyKey))
}

// GetPayment is GET /v1/payments/{number}.
func (c *Client) GetPayment(ctx context.Context, orderNumber string) (*Payment, error) {
	return typed[Payment](ctx, c, "getPayment", map[string]string{"number": orderNumber}, nil, nil)
}

// RefundPayment is POST /v1/payments/{number}/refunds: refund number and amount.
func (c *Client) RefundPayment(ctx context.Context, orderNumber string, body RefundRequest, idempotencyKey ...string) (*Refund, error) {
	return typed[Refund](ctx, c, "refundPayment", map[string]string{"number": orderNumber}, body, keyed(idempotencyKey))
}

// GetWallet is GET /v1/members/{id}/wallet.
func (c *Client) GetWallet(ctx context.Context, memberID string) (*Wallet, error) {
	return typed[Wallet](ctx, c, "getWallet", map[string]string{"id": memberID}, nil, nil)
}

// WalletFlow is one page of the wallet's flow, newest first. limit 0 and after "" leave them to
// the server.
func (c *Client) WalletFlow(ctx context.Context, memberID string, limit int, after string) (*FlowPage, error) {
	query := url.Values{}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		query.Set("after", after)
	}
	return typed[FlowPage](ctx, c, "getWalletFlow", map[string]string{"id": memberID}, nil, &RequestOptions{Query: query})
}

// EachWalletFlow calls fn with every line of the wallet's flow, newest first, page after page,
// until fn returns an error (which it returns).
func (c *Client) EachWalletFlow(ctx context.Context, memberID string, pageSize int, fn func(FlowLine) error) error {
	after := ""
	for {
		page, err := c.WalletFlow(ctx, memberID, pageSize, after)
		if err != nil {
			return err
		}
		for _, line := range page.Data {
			if err := fn(line); err != nil {
				return err
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" || len(page.Data) == 0 {
			return nil
		}
		after = *page.NextCursor
	}
}
