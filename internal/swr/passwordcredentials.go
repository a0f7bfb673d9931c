package swr

import (
	"fmt"
	"log/slog"
	"strings"
)

// PasswordCredentials are an IAM user's password credentials, exchanged for tokens.
//
// Printing them with any fmt verb, through slog or as JSON never shows the password. fmt cannot
// call methods on an unexported field of an enclosing struct, though: keep them in an exported
// field or behind a pointer, as TokenCache does.
type PasswordCredentials struct {
	// IAMEndpoint is the base URL of IAM, e.g. https://iam.ap-southeast-1.myhuaweicloud.com.
	// Plain http is accepted; whether to allow it is the caller's decision.
	IAMEndpoint string
	// DomainName is the account (domain) the user belongs to.
	DomainName string
	// Username is the IAM user.
	Username string
	// Password is the user's password. A trailing line break, which a file or a Secret written
	// with echo often carries, is removed; any other character counts.
	Password string
	// ProjectName scopes the token, e.g. "ap-southeast-1". It is required: SWR refuses
	// tokens scoped to the whole domain.
	ProjectName string
}

// normalized returns the credentials as they are sent: whitespace around the names and the
// endpoint, and a trailing line break of the password, removed.
func (p PasswordCredentials) normalized() PasswordCredentials {
	return PasswordCredentials{
		IAMEndpoint: strings.TrimSpace(p.IAMEndpoint),
		DomainName:  strings.TrimSpace(p.DomainName),
		Username:    strings.TrimSpace(p.Username),
		Password:    strings.TrimRight(p.Password, "\r\n"),
		ProjectName: strings.TrimSpace(p.ProjectName),
	}
}

// checkPasswordCredentials refuses credentials that IAM can only reject, before anything is sent.
func checkPasswordCredentials(p PasswordCredentials) error {
	for _, f := range []struct{ name, value string }{
		{"domain name", p.DomainName}, {"user name", p.Username}, {"password", p.Password}, {"project name", p.ProjectName},
	} {
		if f.value == "" {
			return fmt.Errorf("the IAM %s is empty", f.name)
		}
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("the IAM %s contains control characters", f.name)
		}
	}
	return nil
}

// printed lists the fields as the credentials print them. The names are not secret and help a
// person see which user is meant.
func (p PasswordCredentials) printed() printedFields {
	return printedFields{{"IAMEndpoint", "iamEndpoint", safeEndpoint(p.IAMEndpoint), shownField},
		{"DomainName", "domainName", p.DomainName, shownField}, {"Username", "username", p.Username, shownField},
		{"Password", "password", p.Password, secretField}, {"ProjectName", "projectName", p.ProjectName, shownField}}
}

// String returns a description with the password redacted.
func (p PasswordCredentials) String() string { return p.printed().describe("PasswordCredentials") }

// GoString returns a redacted description for the %#v verb.
func (p PasswordCredentials) GoString() string { return redaction(p.String()).GoString() }

// Format prints the redacted description for every verb, so that %x or %q cannot reveal the
// password either.
func (p PasswordCredentials) Format(f fmt.State, verb rune) { redaction(p.String()).Format(f, verb) }

// LogValue makes slog (and logr's slog bridge) log the redacted description.
func (p PasswordCredentials) LogValue() slog.Value { return redaction(p.String()).LogValue() }

// MarshalJSON encodes the credentials with the password redacted, so that dumping a
// configuration as JSON does not reveal it.
func (p PasswordCredentials) MarshalJSON() ([]byte, error) { return p.printed().jsonObject() }
