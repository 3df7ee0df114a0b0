package sanhu

import (
	"errors"
	"fmt"
)

// APIError is an error answer of the API: {"error": {"code", "message", "request_id"}}. Branch on
// Code (a stable code of the OpenAPI document's ErrorCode, in ErrorCodes with its status); the
// message is for people. errors.Is(err, ErrNotFound) and the like test its kind by HTTP status.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	// RetryAfter is how long the server asked to wait before retrying (Retry-After); 0 if it did not say.
	RetryAfter float64
	// HasRetryAfter tells whether the answer carried a Retry-After.
	HasRetryAfter bool
}

func (e *APIError) Error() string {
	text := fmt.Sprintf("sanhu: %d %s: %s", e.Status, e.Code, e.Message)
	if e.RequestID != "" {
		text += " (request " + e.RequestID + ")"
	}
	return text
}

// Known tells whether the code is one of the document's, with the status it is registered with.
func (e *APIError) Known() bool {
	status, ok := ErrorCodes[e.Code]
	return ok && status == e.Status
}

// The kinds of API errors, by HTTP status: errors.Is(err, sanhu.ErrUnprocessable).
var (
	ErrInvalidRequest   = errors.New("sanhu: invalid request (400)")
	ErrAuthentication   = errors.New("sanhu: signature or credential refused (401)")
	ErrPermissionDenied = errors.New("sanhu: permission denied (403)")
	ErrNotFound         = errors.New("sanhu: not found (404)")
	ErrConflict         = errors.New("sanhu: conflict (409)")
	ErrUnprocessable    = errors.New("sanhu: refused by a rule (422)")
	ErrRateLimited      = errors.New("sanhu: rate limited (429)")
	ErrUnavailable      = errors.New("sanhu: unavailable (503)")
	// ErrWebhookSignature wraps every reason a webhook delivery does not verify.
	ErrWebhookSignature = errors.New("sanhu: webhook signature")
)

var kinds = map[int]error{
	400: ErrInvalidRequest,
	401: ErrAuthentication,
	403: ErrPermissionDenied,
	404: ErrNotFound,
	409: ErrConflict,
	422: ErrUnprocessable,
	429: ErrRateLimited,
	503: ErrUnavailable,
}

// Is matches the kind of the error's status.
func (e *APIError) Is(target error) bool {
	return kinds[e.Status] == target
}

// ErrorCode is the stable code of err if it is an *APIError, else "".
func ErrorCode(err error) string {
	var apiError *APIError
	if errors.As(err, &apiError) {
		return apiError.Code
	}
	return ""
}
