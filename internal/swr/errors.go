package swr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Class sorts an SWR failure by what the caller should do about it: retry later, or stop and
// ask a person to fix the configuration.
type Class string

// The error classes. The comment on each says which responses fall into it.
const (
	// ClassBadRequest is a 400 response, or a request the client refused to send because a name
	// or the endpoint is invalid. Retrying the same request cannot succeed.
	ClassBadRequest Class = "BadRequest"
	// ClassUnauthorized is a 401 response (token missing, invalid or expired), or credentials the
	// client could not attach to the request.
	ClassUnauthorized Class = "Unauthorized"
	// ClassForbidden is a 403 response that is not throttling, e.g. SVCSTG.SWR.4039002 (no
	// permission).
	ClassForbidden Class = "Forbidden"
	// ClassNotFound is a 404 response: the organization or the repository does not exist.
	ClassNotFound Class = "NotFound"
	// ClassConflict is a 409 response other than SVCSTG.SWR.4090023.
	ClassConflict Class = "Conflict"
	// ClassThrottled is a 429 response, a 403 with SVCSTG.SWR.4031032 or SVCSTG.SWR.4031042, or a
	// 409 with SVCSTG.SWR.4090023 ("system busy"): SWR asks the caller to slow down.
	ClassThrottled Class = "Throttled"
	// ClassServer is a 5xx response or any other status the client does not expect, including a
	// redirect (3xx), which the client never follows.
	ClassServer Class = "ServerError"
	// ClassNetwork is a failure to exchange a request with SWR at all: connection refused or
	// reset, DNS lookup failure, TLS handshake or certificate failure, or a cancelled context.
	ClassNetwork Class = "NetworkError"
	// ClassTimeout is a request that did not complete before the context deadline or a transport
	// timeout.
	ClassTimeout Class = "Timeout"
	// ClassBadBody is a 2xx response whose body is not what the API documents: not a JSON array,
	// truncated, too large, or with entries that cannot be trusted (missing or duplicate ids).
	ClassBadBody Class = "BadResponse"
)

// Error is the error every Client method and every Authenticator of this package returns. Its
// Class says whether to retry; the other fields say what SWR (or IAM) answered. It never carries
// credentials: messages are built from the status, the server's own error code and message, and
// the cause, never from request headers or request bodies.
type Error struct {
	// Class sorts the failure; see the Class constants.
	Class Class
	// Step names the exchange that failed when it is not the SWR call itself, e.g.
	// "IAM token request"; "" means SWR. It leads the message, so that a person reading a status
	// condition knows which service refused and which credentials to check.
	Step string
	// StatusCode is the HTTP status SWR answered, or 0 if no response arrived.
	StatusCode int
	// Code is SWR's error code, e.g. SVCSTG.SWR.4040058, or "" if the body carried none.
	Code string
	// Message is SWR's error message, with control characters removed and shortened to about
	// 200 characters; or, when SWR said nothing usable, the client's own description.
	Message string
	// Host is the host (and port, if any) of the server that failed (SWR, or IAM when Step says
	// so), for messages.
	Host string
	// RetryAfter is the delay SWR asked for in a Retry-After header, or 0. It is not capped:
	// callers should bound it.
	RetryAfter time.Duration
	// Err is the underlying cause, if any, for errors.Is and errors.As.
	Err error
}

// Error describes the failure for a person, e.g.
// "SWR returned 404 Not Found: SVCSTG.SWR.4040058 namespace not found", or with a Step,
// "IAM token request to iam.example.com failed: 401 Unauthorized: The username or password is wrong.".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Step != "":
		e.writeStep(&b)
	case e.Class == ClassBadBody:
		b.WriteString("invalid response from SWR")
		if e.StatusCode != 0 {
			fmt.Fprintf(&b, " (%s)", statusLine(e.StatusCode))
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	case e.StatusCode != 0:
		b.WriteString("SWR returned " + statusLine(e.StatusCode))
		if detail := strings.TrimSpace(e.Code + " " + e.Message); detail != "" {
			b.WriteString(": " + detail)
		}
	case e.Class == ClassNetwork:
		e.writeNoAnswer(&b, "cannot reach SWR")
	case e.Class == ClassTimeout:
		e.writeNoAnswer(&b, "timed out waiting for SWR")
	default:
		// Refused before sending: the message says what is wrong with the request.
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// writeStep describes a failure of a named step: the step and host first, then what went wrong.
func (e *Error) writeStep(b *strings.Builder) {
	b.WriteString(e.Step)
	if e.Host != "" {
		b.WriteString(" to " + e.Host)
	}
	detail := strings.TrimSpace(e.Code + " " + e.Message)
	switch {
	case e.Class == ClassTimeout && e.StatusCode == 0:
		b.WriteString(" timed out")
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		return
	case e.Class == ClassBadBody:
		b.WriteString(" failed: invalid response")
		if e.StatusCode != 0 {
			fmt.Fprintf(b, " (%s)", statusLine(e.StatusCode))
		}
	case e.StatusCode != 0:
		b.WriteString(" failed: " + statusLine(e.StatusCode))
	default:
		b.WriteString(" failed")
	}
	if detail != "" {
		b.WriteString(": " + detail)
	}
}

// writeNoAnswer describes a failure in which SWR sent no response: what happened, where, and the
// cause the client saw.
func (e *Error) writeNoAnswer(b *strings.Builder, what string) {
	b.WriteString(what)
	if e.Host != "" {
		b.WriteString(" at " + e.Host)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later without anyone changing the
// configuration: throttling, server errors, network failures, timeouts, bad bodies (often a
// proxy or a half-deployed gateway) and conflicts. BadRequest, Unauthorized, Forbidden and
// NotFound need a person to act; an unknown class is not retried either.
func (e *Error) Retryable() bool {
	switch e.Class {
	case ClassThrottled, ClassServer, ClassNetwork, ClassTimeout, ClassBadBody, ClassConflict:
		return true
	default:
		return false
	}
}

// ClassOf returns the Class of the first *Error in err's chain, or "" if there is none.
func ClassOf(err error) Class {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Class
	}
	return ""
}

// Throttling error codes: SWR sends them with 403 or 409, not 429, so the status alone would
// misclassify them as a permanent failure.
const (
	codeThrottled403    = "SVCSTG.SWR.4031032"
	codeThrottled403Alt = "SVCSTG.SWR.4031042"
	codeSystemBusy409   = "SVCSTG.SWR.4090023"
)

// classify maps a non-2xx status and SWR error code to a Class.
func classify(status int, code string) Class {
	switch status {
	case http.StatusBadRequest:
		return ClassBadRequest
	case http.StatusUnauthorized:
		return ClassUnauthorized
	case http.StatusForbidden:
		if code == codeThrottled403 || code == codeThrottled403Alt {
			return ClassThrottled
		}
		return ClassForbidden
	case http.StatusNotFound:
		return ClassNotFound
	case http.StatusConflict:
		if code == codeSystemBusy409 {
			return ClassThrottled
		}
		return ClassConflict
	case http.StatusTooManyRequests:
		return ClassThrottled
	default:
		return ClassServer
	}
}

// statusLine renders a status as "404 Not Found", or just the number for a status Go does not
// know.
func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return fmt.Sprintf("%d %s", code, text)
	}
	return fmt.Sprintf("%d", code)
}
