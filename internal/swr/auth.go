package swr

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Authenticator adds credentials to a request. The package has three: TokenAuth (a static
// token), TokenCache.PasswordAuth (IAM password credentials exchanged for cached tokens) and
// NewAKSKAuth (access key signing). The client calls it once per request, after setting every
// other header, so a signer sees the final request.
type Authenticator interface {
	// Authenticate adds credentials to req. An error it returns must not contain them.
	Authenticate(req *http.Request) error
}

// tokenHeader is the header SWR reads an IAM token from.
const tokenHeader = "X-Auth-Token" //nolint:gosec // G101: a header's name, not a credential

// TokenAuth authenticates with an IAM token in the X-Auth-Token header. Printing it with any
// fmt verb, through slog or as JSON never shows the token.
//
// The token sits behind a pointer in an unexported field: fmt cannot call methods on an
// unexported field of an enclosing struct, so a TokenAuth embedded in someone else's struct
// would print its string content if it were stored directly; a pointer prints as an address.
type TokenAuth struct {
	token *string
}

// NewTokenAuth returns an Authenticator that sends token as X-Auth-Token. Surrounding whitespace
// is removed, because a token read from a file or a Kubernetes Secret often ends in a newline
// that would otherwise make every request fail.
func NewTokenAuth(token string) *TokenAuth {
	t := strings.TrimSpace(token)
	return &TokenAuth{token: &t}
}

// Authenticate sets the X-Auth-Token header. It refuses an empty token and one with characters
// an HTTP header cannot carry, rather than sending a request that can only fail.
func (a TokenAuth) Authenticate(req *http.Request) error {
	if a.token == nil || *a.token == "" {
		return errors.New("the SWR token is empty")
	}
	for i := range len(*a.token) {
		if c := (*a.token)[i]; c < 0x20 || c == 0x7f {
			return errors.New("the SWR token contains control characters")
		}
	}
	req.Header.Set(tokenHeader, *a.token)
	return nil
}

// String returns a redacted description.
func (a TokenAuth) String() string { return "TokenAuth{token:" + redacted + "}" }

// GoString returns a redacted description for the %#v verb.
func (a TokenAuth) GoString() string { return redaction(a.String()).GoString() }

// Format prints the redacted description for every verb, so that %x or %q cannot reveal the
// token either.
func (a TokenAuth) Format(f fmt.State, verb rune) { redaction(a.String()).Format(f, verb) }

// LogValue makes slog (and logr's slog bridge) log the redacted description.
func (a TokenAuth) LogValue() slog.Value { return redaction(a.String()).LogValue() }

// MarshalJSON encodes the redacted description, so that dumping a configuration as JSON does
// not reveal the token.
func (a TokenAuth) MarshalJSON() ([]byte, error) { return redaction(a.String()).MarshalJSON() }
