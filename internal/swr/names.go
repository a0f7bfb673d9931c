package swr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// OrganizationPattern is the RE2 form of SWR's organization name rule: it starts with a lowercase
// letter, ends with a lowercase letter or digit, and its separators ('.', '_', '-') never touch
// each other, except that two underscores may stand together. The length rule (1 to
// MaxOrganizationLength characters) is separate because RE2 cannot express it cheaply.
//
// The CRD schema copies this constant; a test keeps the two equal.
const OrganizationPattern = `^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$`

// RepositoryPattern is the RE2 form of SWR's repository name rule, in its decoded form (with '/',
// not the '$' used on the wire): it starts and ends with a lowercase letter or digit, and its
// separators ('.', '/', '_', '-') never touch each other, except that two underscores may stand
// together. The length rule (1 to MaxRepositoryLength characters) is separate.
//
// This is the strict reading of the vendor documentation. The newest Chinese edition says only
// separators of different types may not touch, which would allow "a--b" and "a..b"; rejecting
// them can only turn a request SWR would refuse anyway into an earlier, clearer error.
const RepositoryPattern = `^[a-z0-9]+(?:(?:[./_-]|__)[a-z0-9]+)*$`

// MaxOrganizationLength is the longest organization name SWR accepts, in characters.
const MaxOrganizationLength = 64

// MaxRepositoryLength is the longest repository name SWR accepts, in characters.
const MaxRepositoryLength = 128

// ErrInvalidName is wrapped by every error ValidateOrganization and ValidateRepository return, so
// callers can tell a name problem (which the user must fix) from anything else with errors.Is.
var ErrInvalidName = errors.New("invalid name")

var (
	organizationRE = regexp.MustCompile(OrganizationPattern)
	repositoryRE   = regexp.MustCompile(RepositoryPattern)
)

// nameRule describes one of the two naming rules in a form that can explain a violation in words.
type nameRule struct {
	kind       string // "organization" or "repository"
	maxLen     int
	separators string // characters that separate alphanumeric runs
	firstRule  string // what the first character must be, in words
	firstOK    func(byte) bool
	re         *regexp.Regexp
}

var (
	organizationRule = nameRule{
		kind:       "organization",
		maxLen:     MaxOrganizationLength,
		separators: "._-",
		firstRule:  "a lowercase letter",
		firstOK:    isLower,
		re:         organizationRE,
	}
	repositoryRule = nameRule{
		kind:       "repository",
		maxLen:     MaxRepositoryLength,
		separators: "./_-",
		firstRule:  "a lowercase letter or digit",
		firstOK:    isLowerOrDigit,
		re:         repositoryRE,
	}
)

// ValidateOrganization reports whether name is a valid SWR organization name (the API's
// {namespace}). The error, which wraps ErrInvalidName, says which rule the name breaks.
func ValidateOrganization(name string) error {
	return organizationRule.validate(name)
}

// ValidateRepository reports whether name is a valid SWR repository name in its decoded form,
// e.g. "library/nginx". The error, which wraps ErrInvalidName, says which rule the name breaks.
func ValidateRepository(name string) error {
	return repositoryRule.validate(name)
}

// EncodeRepository returns the repository name as SWR expects it in a URL path: every '/'
// replaced by '$', so "library/nginx" becomes "library$nginx". Without it the API would read the
// slash as a path separator and answer 404.
func EncodeRepository(name string) string {
	return strings.ReplaceAll(name, "/", "$")
}

// nameError is the error a name rule returns. It wraps ErrInvalidName.
type nameError struct{ msg string }

func (e *nameError) Error() string { return e.msg }
func (e *nameError) Unwrap() error { return ErrInvalidName }

// validate checks name against the rule and explains the first violation it finds. The checks
// are ordered so that the message names the most basic problem: a name with a forbidden character
// is reported as such even if it is also too long.
func (r nameRule) validate(name string) error {
	fail := func(format string, args ...any) error {
		return &nameError{msg: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return fail("%s name must not be empty", r.kind)
	}
	pos := 0
	for _, c := range name {
		pos++
		if c < utf8.RuneSelf && (isLowerOrDigit(byte(c)) || r.isSeparator(byte(c))) {
			continue
		}
		if c == '$' && r.kind == "repository" {
			return fail("%s %s contains '$' at position %d: write '/' instead, '$' is only the wire encoding of '/'",
				r.kind, quoteName(name), pos)
		}
		return fail("%s %s contains %q at position %d: only lowercase letters, digits, %s are allowed",
			r.kind, quoteName(name), c, pos, listChars(r.separators))
	}
	// Only ASCII is left, so the byte length is the character count.
	if len(name) > r.maxLen {
		return fail("%s name is %d characters long: at most %d are allowed", r.kind, len(name), r.maxLen)
	}
	if !r.firstOK(name[0]) {
		return fail("%s %s must start with %s", r.kind, quoteName(name), r.firstRule)
	}
	if !isLowerOrDigit(name[len(name)-1]) {
		return fail("%s %s must end with a lowercase letter or digit", r.kind, quoteName(name))
	}
	for i := 0; i < len(name); {
		if !r.isSeparator(name[i]) {
			i++
			continue
		}
		j := i
		for j < len(name) && r.isSeparator(name[j]) {
			j++
		}
		if run := name[i:j]; len(run) > 1 && run != "__" {
			if strings.Trim(run, "_") == "" {
				return fail("%s %s has %d underscores in a row at position %d: at most two may stand together",
					r.kind, quoteName(name), len(run), i+1)
			}
			return fail("%s %s has adjacent separators %q at position %d: %s may not stand next to each other (only \"__\" is allowed)",
				r.kind, quoteName(name), run, i+1, listChars(r.separators))
		}
		i = j
	}
	// The checks above are the rule in words; the pattern is the rule the CRD enforces. Should
	// they ever disagree, refuse rather than send a name SWR may read differently.
	if !r.re.MatchString(name) {
		return fail("%s %s must match %s", r.kind, quoteName(name), r.re)
	}
	return nil
}

func (r nameRule) isSeparator(c byte) bool { return strings.IndexByte(r.separators, c) >= 0 }

// quoteName quotes a name for an error message, shortening very long ones so that a mistake
// (say, a whole URL pasted into the field) does not flood logs and conditions.
func quoteName(name string) string {
	const limit = 80
	if len(name) > limit {
		return fmt.Sprintf("%q...", name[:limit])
	}
	return fmt.Sprintf("%q", name)
}

// listChars renders a set of separator characters for a message, e.g. "'.', '_' and '-'".
func listChars(set string) string {
	parts := make([]string, len(set))
	for i := range len(set) {
		parts[i] = "'" + set[i:i+1] + "'"
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func isLower(c byte) bool        { return 'a' <= c && c <= 'z' }
func isLowerOrDigit(c byte) bool { return isLower(c) || '0' <= c && c <= '9' }
