package swr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// iamTokenStep is the Step of every error about obtaining an IAM token.
const iamTokenStep = "IAM token request" //nolint:gosec // G101: a step's name in messages, not a credential

// subjectTokenHeader is the response header IAM returns a new token in.
const subjectTokenHeader = "X-Subject-Token"

// tokenURL returns the token endpoint under the IAM base URL. nocatalog=true leaves the service
// catalog out of the response: it can run to hundreds of kilobytes and only expires_at is read.
func tokenURL(endpoint *url.URL) string {
	return apiURL(endpoint, "/v3/auth/tokens", url.Values{"nocatalog": {"true"}})
}

// tokenRequestBody is the body of POST /v3/auth/tokens for password credentials.
type tokenRequestBody struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project struct {
				Name string `json:"name"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

// tokenResponseBody is the part of a 201 body that the cache reads.
type tokenResponseBody struct {
	Token *struct {
		ExpiresAt string `json:"expires_at"`
		IssuedAt  string `json:"issued_at"`
	} `json:"token"`
}

// requestToken sends one IAM token request. Every failure is an *Error with Step set; none
// carries the password, the token or the request body.
func (c *TokenCache) requestToken(ctx context.Context, a *passwordAuth) (issuedToken, *Error) {
	var body tokenRequestBody
	body.Auth.Identity.Methods = []string{"password"}
	body.Auth.Identity.Password.User.Name = a.creds.Username
	body.Auth.Identity.Password.User.Password = a.creds.Password
	body.Auth.Identity.Password.User.Domain.Name = a.creds.DomainName
	body.Auth.Scope.Project.Name = a.creds.ProjectName
	encoded, err := json.Marshal(body)
	if err != nil {
		// Only strings go in, so this cannot happen; the error text would not contain them anyway.
		return issuedToken{}, &Error{Class: ClassBadRequest, Step: iamTokenStep, Host: a.host, Message: "cannot encode the request"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(encoded))
	if err != nil {
		return issuedToken{}, &Error{Class: ClassBadRequest, Step: iamTokenStep, Host: a.host, Message: "cannot build the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", DefaultUserAgent)

	sent := c.now()
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return issuedToken{}, withStep(transportError(ctx, a.host, err))
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, tooLarge, err := readBody(resp.Body, DefaultMaxResponseBytes)
	if err != nil {
		return issuedToken{}, withStep(transportError(ctx, a.host, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return issuedToken{}, iamResponseError(resp, a.host, respBody)
	}
	badBody := func(msg string) (issuedToken, *Error) {
		return issuedToken{}, &Error{Class: ClassBadBody, Step: iamTokenStep, StatusCode: resp.StatusCode, Host: a.host, Message: msg}
	}
	if tooLarge {
		return badBody("response body exceeds " + formatBytes(DefaultMaxResponseBytes))
	}
	token := strings.TrimSpace(resp.Header.Get(subjectTokenHeader))
	if token == "" {
		return badBody("no " + subjectTokenHeader + " header")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return badBody("the " + subjectTokenHeader + " header contains control characters")
	}
	var parsed tokenResponseBody
	if err := json.Unmarshal(respBody, &parsed); err != nil {
		return badBody(describeJSONError(err).Error())
	}
	if parsed.Token == nil {
		return badBody("no token object in the body")
	}
	expiresAt, err := time.Parse(time.RFC3339Nano, parsed.Token.ExpiresAt)
	if err != nil {
		return badBody("token.expires_at is missing or not an RFC 3339 time")
	}
	lifetime := expiresAt.Sub(sent)
	if issuedAt, err := time.Parse(time.RFC3339Nano, parsed.Token.IssuedAt); err == nil && issuedAt.Before(expiresAt) {
		lifetime = expiresAt.Sub(issuedAt)
	}
	if lifetime <= 0 {
		return badBody("the token expired before it arrived (is the local clock right?)")
	}
	localExpiry := sent.Add(lifetime)
	return issuedToken{value: token, expiresAt: localExpiry, refreshAt: localExpiry.Add(-refreshMargin(lifetime))}, nil
}

// withStep marks an error as the IAM token request's.
func withStep(e *Error) *Error {
	e.Step = iamTokenStep
	return e
}

// iamResponseError builds the error for a non-2xx IAM response. SWR's throttling codes do not
// apply to IAM, so the class follows the status alone.
func iamResponseError(resp *http.Response, host string, body []byte) *Error {
	code, message := parseIAMErrorBody(body, resp.StatusCode)
	return withStep(statusError(resp, host, classify(resp.StatusCode, ""), code, message))
}

// keystoneErrorBody is IAM's Keystone-style error body,
// {"error":{"code":401,"message":"...","title":"Unauthorized"}}, whose code is a number or a
// string such as "1101".
type keystoneErrorBody struct {
	Error struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Title   string          `json:"title"`
	} `json:"error"`
}

// parseIAMErrorBody extracts the error code and message of an IAM error body: the Keystone form,
// or the {"error_code":...,"error_msg":...} form the API gateway and newer IAM calls use. A code
// that only repeats the HTTP status is dropped, as the message shows the status anyway.
func parseIAMErrorBody(body []byte, status int) (code, message string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var k keystoneErrorBody
		if unmarshalLenient(trimmed, &k) && (k.Error.Message != "" || k.Error.Title != "" || len(k.Error.Code) > 0) {
			code = keystoneCode(k.Error.Code)
			if code == fmt.Sprint(status) {
				code = ""
			}
			message = k.Error.Message
			if message == "" {
				message = k.Error.Title
			}
			return sanitize(code, maxCodeRunes), sanitize(message, maxMessageRunes)
		}
	}
	return parseErrorBody(body)
}

// keystoneCode renders a Keystone error code, a JSON number or string, as text.
func keystoneCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
