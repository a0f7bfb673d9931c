package swr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// Headers of AK/SK signing besides those the signer returns.
const (
	projectIDHeader     = "X-Project-Id"
	securityTokenHeader = "X-Security-Token"
)

// AKSKCredentials are an access key pair that signs every request (SDK-HMAC-SHA256), optionally
// temporary (with a security token).
//
// Printing them with any fmt verb, through slog or as JSON never shows the secret key or the
// security token. The access key is an identifier, sent in clear in every Authorization header,
// so its first four characters are shown to tell keys apart; the rest is hidden, because it is
// half of what an attacker needs and logs travel further than requests. fmt cannot call methods
// on an unexported field of an enclosing struct: keep them in an exported field or behind a
// pointer.
type AKSKCredentials struct {
	// AccessKey identifies the key pair (AK).
	AccessKey string
	// SecretKey signs requests (SK). It never leaves the process.
	SecretKey string
	// ProjectID, if set, is sent (and signed) as X-Project-Id.
	ProjectID string
	// SecurityToken, if set, is sent (and signed) as X-Security-Token; temporary credentials
	// need it.
	SecurityToken string
}

// printed lists the fields as the credentials print them.
func (c AKSKCredentials) printed() printedFields {
	return printedFields{{"AccessKey", "accessKey", maskAccessKey(c.AccessKey), shownField},
		{"SecretKey", "secretKey", c.SecretKey, secretField}, {"ProjectID", "projectId", c.ProjectID, shownField},
		{"SecurityToken", "securityToken", c.SecurityToken, secretField}}
}

// String returns a redacted description.
func (c AKSKCredentials) String() string { return c.printed().describe("AKSKCredentials") }

// GoString returns a redacted description for the %#v verb.
func (c AKSKCredentials) GoString() string { return redaction(c.String()).GoString() }

// Format prints the redacted description for every verb, so that %x or %q cannot reveal the
// secrets either.
func (c AKSKCredentials) Format(f fmt.State, verb rune) { redaction(c.String()).Format(f, verb) }

// LogValue makes slog (and logr's slog bridge) log the redacted description.
func (c AKSKCredentials) LogValue() slog.Value { return redaction(c.String()).LogValue() }

// MarshalJSON encodes the credentials with the secrets redacted.
func (c AKSKCredentials) MarshalJSON() ([]byte, error) { return c.printed().jsonObject() }

// maskAccessKey shows the first four characters of an access key, or nothing of one too short
// for four characters to leave most of it hidden.
func maskAccessKey(ak string) string {
	if len(ak) < 12 {
		return redactedOrEmpty(ak)
	}
	return ak[:4] + "…"
}

// AKSKOption configures the Authenticator NewAKSKAuth returns.
type AKSKOption func(*akskAuth)

// WithSigningClock replaces time.Now for the X-Sdk-Date of signatures, e.g. in tests. A nil now
// is ignored.
func WithSigningClock(now func() time.Time) AKSKOption {
	return func(a *akskAuth) {
		if now != nil {
			a.now = now
		}
	}
}

// NewAKSKAuth returns an Authenticator that signs each request with the access key pair, using
// the vendor SDK's SDK-HMAC-SHA256 signer. Surrounding whitespace of every field is removed, as a
// value read from a file or a Secret often ends in a newline.
//
// What is signed: the method, the path, the query, the body, and the headers Host, X-Sdk-Date
// and, when set, X-Project-Id and X-Security-Token. Other headers (Content-Type, User-Agent) are
// left out, so that a proxy adjusting them cannot break the signature.
func NewAKSKAuth(creds AKSKCredentials, opts ...AKSKOption) Authenticator {
	creds = AKSKCredentials{
		AccessKey:     strings.TrimSpace(creds.AccessKey),
		SecretKey:     strings.TrimSpace(creds.SecretKey),
		ProjectID:     strings.TrimSpace(creds.ProjectID),
		SecurityToken: strings.TrimSpace(creds.SecurityToken),
	}
	a := &akskAuth{redaction: redaction(creds.printed().describe("AKSKAuth")), creds: creds, now: time.Now}
	for _, opt := range opts {
		opt(a)
	}
	a.err = checkAKSKCredentials(a.creds)
	return a
}

// checkAKSKCredentials refuses credentials that cannot produce an accepted signature.
func checkAKSKCredentials(c AKSKCredentials) error {
	switch {
	case c.AccessKey == "":
		return errors.New("the access key is empty")
	case c.SecretKey == "":
		return errors.New("the secret key is empty")
	}
	for _, f := range []struct{ name, value string }{
		{"access key", c.AccessKey}, {"secret key", c.SecretKey}, {"project id", c.ProjectID}, {"security token", c.SecurityToken},
	} {
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("the %s contains control characters", f.name)
		}
	}
	return nil
}

// akskAuth is the Authenticator NewAKSKAuth returns.
type akskAuth struct {
	redaction // "AKSKAuth" and the credentials, the secrets redacted
	creds     AKSKCredentials
	now       func() time.Time
	err       error // why the credentials cannot be used, if they cannot
}

// Authenticate signs req and adds X-Sdk-Date, Authorization and, when set, X-Project-Id and
// X-Security-Token. It must be called after every other change to req: a later change to the
// signed parts invalidates the signature.
func (a *akskAuth) Authenticate(req *http.Request) error {
	if a.err != nil {
		return a.err
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	query, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		// url.URL.Query would silently drop the malformed part, which still goes on the wire:
		// the signature could never match.
		return errors.New("the query string is malformed and cannot be signed")
	}
	body, err := requestBody(req)
	if err != nil {
		return fmt.Errorf("cannot read the request body to sign it: %s", a.redact(err.Error()))
	}

	// The SDK escapes each segment of the path it is given and appends a '/'. Given the decoded
	// path, that yields the canonical form of the path on the wire: "library$nginx" and
	// "library%24nginx" both decode to "library$nginx" and become "library%24nginx", as the
	// verifier computes it; given the escaped path, a "%20" would be escaped twice. The wire path
	// itself is not touched, so '$' stays literal. (A segment holding an escaped '/' would be split
	// in two, but no SWR name contains one.)
	builder := request.NewHttpRequestBuilder().
		WithEndpoint(req.URL.Scheme + "://" + host).
		WithPath(req.URL.Path).
		WithMethod(req.Method)
	if len(body) > 0 {
		// A string body is hashed as it is; any other type would be re-encoded as JSON.
		builder.WithBody("body", string(body))
	}
	for key, values := range query {
		// The signer reads query parameters only as reflect.Values; a slice yields one
		// key=value pair per element, as repeated keys go on the wire.
		builder.AddQueryParam(key, reflect.ValueOf(values))
	}
	date := a.now().UTC().Format(signer.BasicDateFormat)
	// Exactly these header parameters are signed. The signer takes the host line's value from the
	// Host parameter, and signs "host" only if that parameter exists.
	builder.AddHeaderParam("Host", host)
	builder.AddHeaderParam(signer.HeaderXDate, date)
	if a.creds.ProjectID != "" {
		builder.AddHeaderParam(projectIDHeader, a.creds.ProjectID)
	}
	if a.creds.SecurityToken != "" {
		builder.AddHeaderParam(securityTokenHeader, a.creds.SecurityToken)
	}

	headers, err := signer.Signer{}.Sign(builder.Build(), a.creds.AccessKey, a.creds.SecretKey)
	if err != nil {
		return fmt.Errorf("AK/SK signing failed: %s", a.redact(err.Error()))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if a.creds.ProjectID != "" {
		req.Header.Set(projectIDHeader, a.creds.ProjectID)
	}
	if a.creds.SecurityToken != "" {
		req.Header.Set(securityTokenHeader, a.creds.SecurityToken)
	}
	return nil
}

// redact removes the secrets from a message that did not come from this package.
func (a *akskAuth) redact(msg string) string {
	for _, secret := range []string{a.creds.SecretKey, a.creds.SecurityToken} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, redacted)
		}
	}
	return msg
}

// requestBody returns the body of req for hashing and leaves req able to send it: from GetBody
// if req has one, otherwise by reading the body and putting an identical one in its place.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		defer func() { _ = rc.Close() }()
		return io.ReadAll(rc)
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}
