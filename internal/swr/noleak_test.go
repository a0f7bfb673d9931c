package swr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// wireRecorder is a RoundTripper that remembers every credential that went over the wire: the
// tokens and the signatures, which must not show up in errors either.
type wireRecorder struct {
	mu      sync.Mutex
	secrets []string
}

func (w *wireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	if token := req.Header.Get("X-Auth-Token"); token != "" {
		w.secrets = append(w.secrets, token)
	}
	if _, sig, ok := strings.Cut(req.Header.Get("Authorization"), "Signature="); ok {
		w.secrets = append(w.secrets, sig)
	}
	w.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (w *wireRecorder) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.secrets...)
}

// assertNoSecrets fails if any rendering of v contains any secret, verbatim or hex-encoded.
func assertNoSecrets(t *testing.T, what string, secrets []string, renderings ...string) {
	t.Helper()
	for _, s := range renderings {
		for _, secret := range secrets {
			if secret == "" {
				continue
			}
			if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
				t.Errorf("%s leaks a credential (%.4s…): %s", what, secret, s)
			}
		}
	}
}

// renderings returns what a caller might log of v.
func renderings(t *testing.T, v any) []string {
	t.Helper()
	out := []string{fmt.Sprintf("%v %+v %#v %s %q %x %X %d", v, v, v, v, v, v, v, v)}
	type holder struct {
		hidden any // unexported: fmt cannot call its methods
		Shown  any
	}
	// fmt prints an unexported field's exported string fields directly, so the credential structs
	// are documented to be kept behind a pointer there; the Authenticators are pointers already.
	hidden := v
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		hidden = p.Interface()
	}
	out = append(out, fmt.Sprintf("%v %+v %#v", holder{hidden, v}, &holder{hidden, v}, []any{v}))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "v", v)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "v", v)
	out = append(out, buf.String())
	if encoded, err := json.Marshal(v); err == nil {
		out = append(out, string(encoded))
	}
	return out
}

// TestNoCredentialsLeak provokes failures with every credential kind and checks that neither the
// errors nor the credentials and authenticators themselves show a password, a secret key, a
// security token, a token or a signature, however they are printed.
func TestNoCredentialsLeak(t *testing.T) {
	const (
		securityToken = "gQpzZWN1cml0eS10b2tlbi1TRUNSRVQ="
		urlPassword   = "hunter2-url-pw"
		controlSecret = "se\x00cret-with-NUL"
	)
	wire := &wireRecorder{}
	hc := &http.Client{Transport: wire}
	srv, _, creds := newIAMFixture(t)
	cache := swr.NewTokenCache(swr.WithTokenHTTPClient(hc))
	srv.AddAccessKey(testAK, testSK)
	clock := newFakeClock()
	srv.SetClock(clock.Now)
	c := swr.NewClient(swr.WithHTTPClient(hc))
	target := swr.Target{Endpoint: srv.URL(), Organization: org, Repository: repo}

	var errs []error
	try := func(auth swr.Authenticator) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.ListSyncRepos(ctx, target, auth)
		if err == nil {
			t.Fatalf("%v: no error", auth)
		}
		errs = append(errs, err)
	}
	var described []any
	passwordIn := func(tc *swr.TokenCache, f func(*swr.PasswordCredentials)) swr.Authenticator {
		p := creds
		f(&p)
		described = append(described, p)
		a := tc.PasswordAuth(p)
		described = append(described, a)
		return a
	}
	password := func(f func(*swr.PasswordCredentials)) swr.Authenticator { return passwordIn(cache, f) }
	aksk := func(f func(*swr.AKSKCredentials), opts ...swr.AKSKOption) swr.Authenticator {
		k := swr.AKSKCredentials{AccessKey: testAK, SecretKey: testSK, SecurityToken: securityToken, ProjectID: "p"}
		f(&k)
		described = append(described, k)
		a := swr.NewAKSKAuth(k, append([]swr.AKSKOption{swr.WithSigningClock(clock.Now)}, opts...)...)
		described = append(described, a)
		return a
	}

	// IAM password: refused by IAM in several ways, refused before sending, then SWR refusing
	// every token after the one retry.
	wrongPassword := func(p *swr.PasswordCredentials) { p.Password = "wrong-" + iamPassword }
	try(password(wrongPassword))
	// Asked again, the cache answers with the remembered refusal, without a request.
	try(password(wrongPassword))
	if last := errs[len(errs)-1]; !strings.Contains(last.Error(), "not asking IAM again") {
		t.Errorf("the second refusal %q is not the remembered one", last)
	}
	for _, f := range []swrtest.Fault{
		{Status: 403, Body: `{"error":{"code":403,"message":"The account is locked.","title":"Forbidden"}}`},
		{Status: 503},
		{Status: 201, Body: `{"token":{"expires_at":"2099-01-01T00:00:00Z"}}`},
		{Status: 201, Header: http.Header{"X-Subject-Token": {"MIIfaulty-token-value"}}, Body: `{}`},
	} {
		// A cache of its own, so that the remembered 403 does not answer for the other faults.
		faultCache := swr.NewTokenCache(swr.WithTokenHTTPClient(hc))
		described = append(described, faultCache)
		srv.SetIAMFault(f)
		try(passwordIn(faultCache, func(*swr.PasswordCredentials) {}))
	}
	srv.SetIAMFault(swrtest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err := c.ListSyncRepos(ctx, target, password(func(*swr.PasswordCredentials) {}))
	cancel()
	errs = append(errs, err)
	srv.ClearIAMFault()
	try(password(func(p *swr.PasswordCredentials) { p.ProjectName = "" }))
	try(password(func(p *swr.PasswordCredentials) { p.IAMEndpoint = "https://user:" + urlPassword + "@iam.example.com" }))
	srv.SetFault(org, repo, swrtest.Fault{Status: 401, Body: swrtest.NewErrorBody(swrtest.CodeUnauthorized, "token expired")})
	try(password(func(*swr.PasswordCredentials) {}))
	srv.ClearFault(org, repo)

	// AK/SK: a wrong secret key, a stale date, an unknown access key, unusable secrets.
	try(aksk(func(k *swr.AKSKCredentials) { k.SecretKey = "wrong-" + testSK }))
	try(aksk(func(*swr.AKSKCredentials) {}, swr.WithSigningClock(func() time.Time { return clock.Now().Add(-time.Hour) })))
	try(aksk(func(k *swr.AKSKCredentials) { k.AccessKey = "HPUAUNKNOWNACCESSKEY" }))
	try(aksk(func(k *swr.AKSKCredentials) { k.SecretKey = controlSecret }))
	try(aksk(func(k *swr.AKSKCredentials) { k.AccessKey = "" }))

	secrets := append([]string{iamPassword, "wrong-" + iamPassword, testSK, "wrong-" + testSK, securityToken, urlPassword,
		controlSecret, "MIIfaulty-token-value"}, wire.seen()...)
	if len(wire.seen()) < 5 {
		t.Fatalf("only %d credentials went over the wire; the scenarios did not run as intended", len(wire.seen()))
	}
	classes := map[swr.Class]bool{}
	for _, err := range errs {
		e := asError(t, err)
		classes[e.Class] = true
		assertNoSecrets(t, "error "+string(e.Class), secrets,
			err.Error(), fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err), fmt.Sprintf("%+v", *e))
	}
	for _, class := range []swr.Class{swr.ClassUnauthorized, swr.ClassForbidden, swr.ClassServer, swr.ClassBadBody, swr.ClassTimeout, swr.ClassBadRequest} {
		if !classes[class] {
			t.Errorf("no %s error was provoked", class)
		}
	}
	described = append(described, cache) // it holds the tokens
	for _, v := range described {
		assertNoSecrets(t, fmt.Sprintf("%T", v), secrets, renderings(t, v)...)
	}
	// The descriptions still say what they describe. fmt.Sprint calls PasswordCredentials' Format
	// method, not String (redundantSprint's suggestion), and what fmt prints is what is tested.
	if got := fmt.Sprint(creds); !strings.Contains(got, "Password:<redacted>") || !strings.Contains(got, iamUser) { //nolint:gocritic // Format, not String
		t.Errorf("fmt.Sprint(creds) = %s, want the user and a redacted password", got)
	}
	if got := fmt.Sprintf("%#v", swr.NewAKSKAuth(swr.AKSKCredentials{AccessKey: testAK, SecretKey: testSK})); got !=
		`swr.AKSKAuth{AccessKey:"HPUA…", SecretKey:<redacted>, ProjectID:"", SecurityToken:""}` {
		t.Errorf("%%#v of an AK/SK Authenticator = %s", got)
	}
}
