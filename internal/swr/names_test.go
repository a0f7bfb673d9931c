package swr

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// refValid is an independent reading of the vendor's rules in words, written without regular
// expressions: 1 to maxLen characters; the first a lowercase letter (organization) or a
// lowercase letter or digit (repository); the last a lowercase letter or digit; only lowercase
// letters, digits and the separators; separators never next to each other, except that two
// underscores may stand together.
func refValid(name string, maxLen int, firstMayBeDigit bool, separators string) bool {
	if len(name) < 1 || len(name) > maxLen {
		return false
	}
	isLetter := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isSep := func(c byte) bool { return strings.IndexByte(separators, c) >= 0 }
	first, last := name[0], name[len(name)-1]
	if !isLetter(first) && (!firstMayBeDigit || !isDigit(first)) {
		return false
	}
	if !isLetter(last) && !isDigit(last) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if !isLetter(c) && !isDigit(c) && !isSep(c) {
			return false
		}
		if i > 0 && isSep(c) && isSep(name[i-1]) {
			// The only pair of separators allowed is "__", and not as part of "___".
			if c != '_' || name[i-1] != '_' || (i > 1 && isSep(name[i-2])) || (i+1 < len(name) && isSep(name[i+1])) {
				return false
			}
		}
	}
	return true
}

func refValidOrganization(name string) bool {
	return refValid(name, MaxOrganizationLength, false, "._-")
}

func refValidRepository(name string) bool {
	return refValid(name, MaxRepositoryLength, true, "./_-")
}

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name      string
		orgOK     bool
		repoOK    bool
		orgErrHas string // a phrase the organization error must contain
	}{
		{name: "a", orgOK: true, repoOK: true},
		{name: "a__b", orgOK: true, repoOK: true},
		{name: "a-1", orgOK: true, repoOK: true},
		{name: "a_b-c.d", orgOK: true, repoOK: true},
		{name: "library/nginx", orgOK: false, repoOK: true, orgErrHas: `contains '/' at position 8`},
		{name: "9a/b__c", orgOK: false, repoOK: true, orgErrHas: `contains '/'`},
		{name: "9a", orgOK: false, repoOK: true, orgErrHas: "must start with a lowercase letter"},
		{name: "1a", orgOK: false, repoOK: true, orgErrHas: `organization "1a" must start with a lowercase letter`},
		{name: strings.Repeat("a", 64), orgOK: true, repoOK: true},
		{name: strings.Repeat("a", 65), orgOK: false, repoOK: true, orgErrHas: "is 65 characters long: at most 64"},
		{name: strings.Repeat("a", 128), orgOK: false, repoOK: true, orgErrHas: "at most 64"},
		{name: strings.Repeat("a", 129), orgOK: false, repoOK: false, orgErrHas: "at most 64"},
		{name: "a_", orgOK: false, repoOK: false, orgErrHas: "must end with a lowercase letter or digit"},
		{name: "_a", orgOK: false, repoOK: false, orgErrHas: "must start with a lowercase letter"},
		{name: "a___b", orgOK: false, repoOK: false, orgErrHas: "3 underscores in a row"},
		{name: "a_.b", orgOK: false, repoOK: false, orgErrHas: `adjacent separators "_."`},
		{name: "a-_b", orgOK: false, repoOK: false, orgErrHas: `adjacent separators "-_"`},
		{name: "a__-b", orgOK: false, repoOK: false, orgErrHas: `adjacent separators "__-"`},
		{name: "a//b", orgOK: false, repoOK: false, orgErrHas: `contains '/'`},
		{name: "a/-b", orgOK: false, repoOK: false, orgErrHas: `contains '/'`},
		{name: "A", orgOK: false, repoOK: false, orgErrHas: `contains 'A' at position 1`},
		{name: "a$b", orgOK: false, repoOK: false, orgErrHas: `contains '$'`},
		{name: "a--b", orgOK: false, repoOK: false, orgErrHas: `adjacent separators "--"`},
		{name: "a..b", orgOK: false, repoOK: false, orgErrHas: `adjacent separators ".."`},
		{name: "", orgOK: false, repoOK: false, orgErrHas: "must not be empty"},
		{name: "a b", orgOK: false, repoOK: false, orgErrHas: `contains ' '`},
		{name: "ä", orgOK: false, repoOK: false, orgErrHas: `contains 'ä' at position 1`},
		{name: "a\xffb", orgOK: false, repoOK: false, orgErrHas: "contains '\uFFFD' at position 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orgErr := ValidateOrganization(tt.name)
			if got := orgErr == nil; got != tt.orgOK {
				t.Errorf("ValidateOrganization(%q) = %v, want valid=%v", tt.name, orgErr, tt.orgOK)
			}
			if orgErr != nil && !strings.Contains(orgErr.Error(), tt.orgErrHas) {
				t.Errorf("ValidateOrganization(%q) = %q, want it to contain %q", tt.name, orgErr, tt.orgErrHas)
			}
			if orgErr != nil && !errors.Is(orgErr, ErrInvalidName) {
				t.Errorf("ValidateOrganization(%q) error does not wrap ErrInvalidName", tt.name)
			}
			repoErr := ValidateRepository(tt.name)
			if got := repoErr == nil; got != tt.repoOK {
				t.Errorf("ValidateRepository(%q) = %v, want valid=%v", tt.name, repoErr, tt.repoOK)
			}
			if repoErr != nil && !errors.Is(repoErr, ErrInvalidName) {
				t.Errorf("ValidateRepository(%q) error does not wrap ErrInvalidName", tt.name)
			}
			// The table itself must agree with the rules in words.
			if got := refValidOrganization(tt.name); got != tt.orgOK {
				t.Errorf("reference organization check of %q = %v, table says %v", tt.name, got, tt.orgOK)
			}
			if got := refValidRepository(tt.name); got != tt.repoOK {
				t.Errorf("reference repository check of %q = %v, table says %v", tt.name, got, tt.repoOK)
			}
		})
	}
}

func TestValidateRepositoryMessages(t *testing.T) {
	tests := map[string]string{
		"library$nginx":          `write '/' instead`,
		"9a/-b":                  `adjacent separators "/-" at position 3`,
		"/a":                     `must start with a lowercase letter or digit`,
		strings.Repeat("b", 129): "repository name is 129 characters long: at most 128 are allowed",
	}
	for name, want := range tests {
		err := ValidateRepository(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateRepository(%q) = %v, want an error containing %q", name, err, want)
		}
	}
}

// TestValidateAgainstReference compares the validators, the exported patterns (plus the length
// rule) and the reference reading on random strings over an alphabet that exercises every rule.
func TestValidateAgainstReference(t *testing.T) {
	const alphabet = "a0._-/$A"
	orgRE := regexp.MustCompile(OrganizationPattern)
	repoRE := regexp.MustCompile(RepositoryPattern)
	rng := rand.New(rand.NewPCG(1, 2))
	var validOrgs, validRepos int
	for i := range 10000 {
		n := 1 + rng.IntN(10)
		if i%500 == 0 {
			n = 60 + rng.IntN(75) // around both length limits
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		name := string(b)
		if i%500 == 0 {
			name = strings.Repeat("a", n) // long names are valid only if the length allows
		}

		wantOrg := refValidOrganization(name)
		if got := ValidateOrganization(name) == nil; got != wantOrg {
			t.Fatalf("ValidateOrganization(%q) valid=%v, reference says %v", name, got, wantOrg)
		}
		if got := orgRE.MatchString(name) && len(name) <= MaxOrganizationLength; got != wantOrg {
			t.Fatalf("OrganizationPattern on %q = %v, reference says %v", name, got, wantOrg)
		}
		wantRepo := refValidRepository(name)
		if got := ValidateRepository(name) == nil; got != wantRepo {
			t.Fatalf("ValidateRepository(%q) valid=%v, reference says %v", name, got, wantRepo)
		}
		if got := repoRE.MatchString(name) && len(name) <= MaxRepositoryLength; got != wantRepo {
			t.Fatalf("RepositoryPattern on %q = %v, reference says %v", name, got, wantRepo)
		}
		if wantOrg {
			validOrgs++
		}
		if wantRepo {
			validRepos++
		}
	}
	// Random strings that are all invalid would prove nothing about the valid side.
	if validOrgs < 100 || validRepos < 100 {
		t.Fatalf("too few valid samples: %d organizations, %d repositories", validOrgs, validRepos)
	}
}

func TestEncodeRepository(t *testing.T) {
	tests := map[string]string{
		"nginx":           "nginx",
		"library/nginx":   "library$nginx",
		"a/b/c":           "a$b$c",
		"team_x/app.v2-b": "team_x$app.v2-b",
	}
	for in, want := range tests {
		if got := EncodeRepository(in); got != want {
			t.Errorf("EncodeRepository(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzValidateNames checks the validators and the exported patterns (which the CRD schema
// copies) against the independent reading of the rules, on any input.
func FuzzValidateNames(f *testing.F) {
	for _, seed := range []string{"a", "a__b", "a___b", "a_.b", "library/nginx", "9a/b__c", "a//b", "a$b", "A", "",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("b", 128), strings.Repeat("b", 129), "a\x00b", "é"} {
		f.Add(seed)
	}
	orgRE := regexp.MustCompile(OrganizationPattern)
	repoRE := regexp.MustCompile(RepositoryPattern)
	f.Fuzz(func(t *testing.T, name string) {
		wantOrg, wantRepo := refValidOrganization(name), refValidRepository(name)
		if got := ValidateOrganization(name) == nil; got != wantOrg {
			t.Fatalf("ValidateOrganization(%q) valid=%v, reference says %v", name, got, wantOrg)
		}
		if got := orgRE.MatchString(name) && len(name) <= MaxOrganizationLength; got != wantOrg {
			t.Fatalf("OrganizationPattern on %q = %v, reference says %v", name, got, wantOrg)
		}
		if got := ValidateRepository(name) == nil; got != wantRepo {
			t.Fatalf("ValidateRepository(%q) valid=%v, reference says %v", name, got, wantRepo)
		}
		if got := repoRE.MatchString(name) && len(name) <= MaxRepositoryLength; got != wantRepo {
			t.Fatalf("RepositoryPattern on %q = %v, reference says %v", name, got, wantRepo)
		}
		if wantRepo && strings.Contains(EncodeRepository(name), "/") {
			t.Fatalf("EncodeRepository(%q) keeps a '/'", name)
		}
	})
}
