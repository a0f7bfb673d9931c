package swr

import (
	"fmt"
	"net/url"
	"strings"
)

// formatRedacted implements fmt.Formatter for the credential types: %#v prints goString, every
// other verb prints str.
func formatRedacted(f fmt.State, verb rune, str, goString string) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(goString))
		return
	}
	_, _ = f.Write([]byte(str))
}

// redactedOrEmpty returns redacted for a set secret and "" for an unset one.
func redactedOrEmpty(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// redactedOrQuotedEmpty is redactedOrEmpty for descriptions, where an unset secret shows as "".
func redactedOrQuotedEmpty(secret string) string {
	if secret == "" {
		return `""`
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
