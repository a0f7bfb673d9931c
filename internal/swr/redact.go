package swr

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// redacted is what a credential prints as.
const redacted = "<redacted>"

// redaction is the description of a value that holds secrets, each secret in it replaced by
// redacted, e.g. "TokenAuth{token:<redacted>}". Its methods are every way the value gets printed,
// and each prints the description: String; GoString, for %#v, with the package name in front;
// Format, for every verb, so that %x or %q cannot reveal the secrets either; LogValue, for slog
// and logr's slog bridge; and MarshalJSON, as a JSON string.
//
// A type whose values this package builds, with a description that does not change afterwards
// (the password and AK/SK Authenticators), embeds its redaction and so has these methods. A type
// that cannot hold one, because callers build its values (the credentials, a zero TokenAuth) or
// because its description changes (TokenCache, which also prints as a nil pointer), states its
// description in its String method, and its other printing methods hand redaction(String()) the
// work. Either way fmt calls them only on the value itself or on an exported field holding it: an
// unexported field of an enclosing struct is printed field by field, hence the advice to keep
// credentials in an exported field or behind a pointer.
type redaction string

// String returns the description.
func (r redaction) String() string { return string(r) }

// GoString returns the description for the %#v verb.
func (r redaction) GoString() string { return "swr." + string(r) }

// Format prints GoString for %#v and String for every other verb.
func (r redaction) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, r.GoString())
		return
	}
	_, _ = io.WriteString(f, r.String())
}

// LogValue makes slog log the description.
func (r redaction) LogValue() slog.Value { return slog.StringValue(string(r)) }

// MarshalJSON encodes the description as a JSON string.
func (r redaction) MarshalJSON() ([]byte, error) { return json.Marshal(string(r)) }

// printedField is one field of credentials as they print it: the Go name their description
// shows it under, the JSON name their JSON object has it under, and the value, already fit to
// print unless the field is a secret. A secret prints as redacted, or as "" when it is empty,
// because "the password is missing" is worth seeing.
type printedField struct {
	name, jsonName, value string
	secret                bool
}

// Whether a printedField is a secret.
const (
	shownField  = false
	secretField = true
)

// printedFields are the fields of credentials in the order they print them. Both the description
// and the JSON object come from them, so that each field's redaction is stated once.
type printedFields []printedField

// describe returns the description of credentials of the given kind, e.g.
// `AKSKCredentials{AccessKey:"HPUA…", SecretKey:<redacted>, ProjectID:"", SecurityToken:""}`.
func (fs printedFields) describe(kind string) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		value := strconv.Quote(f.value)
		if f.secret && f.value != "" {
			value = redacted
		}
		parts[i] = f.name + ":" + value
	}
	return kind + "{" + strings.Join(parts, ", ") + "}"
}

// jsonObject encodes the fields as a JSON object of strings under their JSON names, in their
// order. (Encoding a string does not fail; the error is json.Marshal's, passed on.)
func (fs printedFields) jsonObject() ([]byte, error) {
	object := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			object = append(object, ',')
		}
		value := f.value
		if f.secret {
			value = redactedOrEmpty(value)
		}
		name, err := json.Marshal(f.jsonName)
		if err != nil {
			return nil, err
		}
		text, err := json.Marshal(value)
		if err != nil {
			return nil, err
		}
		object = append(append(append(object, name...), ':'), text...)
	}
	return append(object, '}'), nil
}

// redactedOrEmpty returns redacted for a set secret and "" for an unset one.
func redactedOrEmpty(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// safeEndpoint returns an endpoint fit to print: its user information is replaced, and an unparsable endpoint that may hold one is not shown at all.
func safeEndpoint(endpoint string) string {
	if !strings.Contains(endpoint, "@") {
		return endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return redacted
	}
	// The whole user information goes: a lone user name there may be a token as well.
	u.User = url.User("redacted")
	return u.String()
}
