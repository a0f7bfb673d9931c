package swr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// iamTokenStep is the Step of every error about obtaining an IAM token.
const iamTokenStep = "IAM token request"

// subjectTokenHeader is the response header IAM returns a new token in.
const subjectTokenHeader = "X-Subject-Token"

// Cache housekeeping. A sweep runs at most once per pruneInterval (by the cache's clock) and
// removes entries that hold no usable token and were not used for idleEntryTTL, so that
// credentials nobody uses any more (deleted Secrets, old passwords) do not pile up.
const (
	pruneInterval = time.Minute
	idleEntryTTL  = 10 * time.Minute
)

// Backoff after IAM refuses credentials (401 or 403). IAM lockout policies lock a user after a
// few wrong passwords within minutes, for the people sharing that user too, so a refused password
// must not be asked again at every poll of every repository that uses it.
const (
	// DefaultIAMRefusalBackoff is the first wait after a refusal when PasswordAuth is not given
	// WithRefusalBackoff.
	DefaultIAMRefusalBackoff = 5 * time.Minute
	// MaxIAMRefusalBackoff caps the wait, which doubles with every further refusal, so that a
	// password fixed in IAM alone (without touching the Secret) is noticed within an hour.
	MaxIAMRefusalBackoff = time.Hour
)

// minRefreshMargin is the least time before expiry at which a token is replaced, unless the token
// lives so briefly that half its life is less; see refreshMargin.
const minRefreshMargin = 5 * time.Minute

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

// String returns a description with the password redacted.
func (p PasswordCredentials) String() string { return "PasswordCredentials" + p.fields() }

// GoString returns a redacted description for the %#v verb.
func (p PasswordCredentials) GoString() string { return "swr.PasswordCredentials" + p.fields() }

// Format prints the redacted description for every verb, so that %x or %q cannot reveal the
// password either.
func (p PasswordCredentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, p.String(), p.GoString())
}

// LogValue makes slog (and logr's slog bridge) log the redacted description.
func (p PasswordCredentials) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON encodes the credentials with the password redacted, so that dumping a
// configuration as JSON does not reveal it.
func (p PasswordCredentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		IAMEndpoint string `json:"iamEndpoint"`
		DomainName  string `json:"domainName"`
		Username    string `json:"username"`
		Password    string `json:"password"`
		ProjectName string `json:"projectName"`
	}{safeEndpoint(p.IAMEndpoint), p.DomainName, p.Username, redactedOrEmpty(p.Password), p.ProjectName})
}

// fields renders the fields for String and GoString. The names are not secret and help a person
// see which user is meant; an empty password shows as "" because "the password is missing" is
// worth seeing.
func (p PasswordCredentials) fields() string {
	return fmt.Sprintf("{IAMEndpoint:%q, DomainName:%q, Username:%q, Password:%s, ProjectName:%q}",
		safeEndpoint(p.IAMEndpoint), p.DomainName, p.Username, redactedOrQuotedEmpty(p.Password), p.ProjectName)
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

// TokenCache exchanges IAM password credentials for tokens and keeps each token until shortly
// before it expires. It is safe for concurrent use; create one per process and share it, so
// that every repository using the same credentials shares one token.
//
// Tokens are cached per credential value: editing a Secret (a password rotation) makes a new
// entry, and once the new password has obtained a token the tokens of older passwords of the same
// user are dropped. Concurrent requests for the same credentials share one IAM request.
//
// A refusal (IAM answered 401 or 403) is remembered for those exact credential values, so that a
// wrong password does not trip IAM's lockout policy, which would lock the user for the people
// sharing it too. Until the backoff ends, every caller with the same values gets the refusal
// again at once, without a request, its message extended by when IAM will next be asked, e.g.
// "...; not asking IAM again with these credentials before 2026-12-01T11:05:00Z unless the
// Secret changes". The text stays the same for the whole wait, so that a status condition built
// from it does not change at every poll. The first wait is the refused caller's
// WithRefusalBackoff (DefaultIAMRefusalBackoff without it) and doubles with every further
// refusal of the same values, up to MaxIAMRefusalBackoff. A token issued for the values ends the
// backoff; other values (a rotated password) are tried at once. Other failures (throttling, 5xx,
// network errors, timeouts) say nothing about the credentials and are not remembered: the next
// call asks again.
//
// A token is replaced when less than refreshMargin of its life is left: a fifth of its lifetime,
// at least five minutes, but at most half its lifetime. A 24-hour token is replaced after 19.2
// hours, a 1-hour token after 48 minutes, a 6-minute token after 3 minutes. The lifetime is the
// one IAM states (expires_at - issued_at) counted on the local clock from when the request was
// sent, so a local clock that is off does not make a token look fresher than it is. Callers wait
// for a refresh rather than use the old token meanwhile, and a failed refresh is returned to
// them although the old token may be valid for a few more minutes: the margin leaves room for
// retries, and a changed password is better reported at once.
type TokenCache struct {
	httpClient *http.Client
	now        func() time.Time
	observe    func(error)

	mu        sync.Mutex
	entries   map[credentialKey]*tokenEntry
	lastPrune time.Time
}

// TokenCacheOption configures a TokenCache.
type TokenCacheOption func(*TokenCache)

// WithTokenHTTPClient makes the cache send IAM requests through hc, e.g. one whose transport
// trusts a private CA. As with WithHTTPClient, a shallow copy refuses every redirect: following
// one would send the password to wherever the Location header points. A nil hc is ignored.
func WithTokenHTTPClient(hc *http.Client) TokenCacheOption {
	return func(c *TokenCache) {
		if hc != nil {
			c.httpClient = noRedirects(hc)
		}
	}
}

// WithTokenClock replaces time.Now for deciding whether a token is due for refresh, e.g. in
// tests that advance time without sleeping. A nil now is ignored.
func WithTokenClock(now func() time.Time) TokenCacheOption {
	return func(c *TokenCache) {
		if now != nil {
			c.now = now
		}
	}
}

// WithTokenRequestObserver makes the cache call fn once after every IAM request it sends, with
// nil if a token was issued or the *Error otherwise, e.g. to count requests and failures in
// metrics. A remembered refusal handed out again is no request and is not observed. fn runs on
// the goroutine that sent the request, before waiting callers are released; it must be quick and
// must not call back into the cache.
func WithTokenRequestObserver(fn func(err error)) TokenCacheOption {
	return func(c *TokenCache) { c.observe = fn }
}

// NewTokenCache returns an empty TokenCache. Without WithTokenHTTPClient it uses the same
// hardened transport as NewClient.
func NewTokenCache(opts ...TokenCacheOption) *TokenCache {
	c := &TokenCache{
		httpClient: noRedirects(&http.Client{Transport: newTransport()}),
		now:        time.Now,
		entries:    make(map[credentialKey]*tokenEntry),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Len returns the number of credentials with a cached token.
func (c *TokenCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.token != "" {
			n++
		}
	}
	return n
}

// String describes the cache without its tokens, e.g. "TokenCache{tokens:3}".
func (c *TokenCache) String() string { return fmt.Sprintf("TokenCache{tokens:%d}", c.Len()) }

// GoString describes the cache for the %#v verb.
func (c *TokenCache) GoString() string { return "swr." + c.String() }

// Format prints the description for every verb: fmt's fallback for a verb that does not fit a
// pointer, as in %s, would otherwise dump the entries, tokens included.
func (c *TokenCache) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// LogValue makes slog log the description.
func (c *TokenCache) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the description.
func (c *TokenCache) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// PasswordAuth returns an Authenticator that sends a token for creds, obtained from IAM through
// the cache, as X-Auth-Token. Invalid credentials (an empty field, an endpoint that is not an
// http or https URL) are reported by every Authenticate call, not here, so that the caller has a
// single place to handle errors.
//
// When SWR answers 401, Client.ListSyncRepos drops the token the request carried and retries
// once with a new one: a token can be revoked before it expires, e.g. by a password change.
//
// When IAM refuses the credentials, they are not sent again for a while; see TokenCache and
// WithRefusalBackoff.
func (c *TokenCache) PasswordAuth(creds PasswordCredentials, opts ...PasswordAuthOption) Authenticator {
	var o passwordAuthOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.refusalBackoff <= 0 {
		o.refusalBackoff = DefaultIAMRefusalBackoff
	}
	creds = creds.normalized()
	a := &passwordAuth{cache: c, creds: creds, key: credentialKeyOf(creds, true), identity: credentialKeyOf(creds, false),
		refusalBackoff: min(o.refusalBackoff, MaxIAMRefusalBackoff)}
	if c == nil {
		a.err = &Error{Class: ClassUnauthorized, Step: iamTokenStep, Message: errNoTokenCache.Error(), Err: errNoTokenCache}
		return a
	}
	endpoint, err := parseBaseURL("IAM", creds.IAMEndpoint, "https://iam.ap-southeast-1.myhuaweicloud.com")
	if err != nil {
		a.err = &Error{Class: ClassBadRequest, Step: iamTokenStep, Message: err.Error(), Err: err}
		return a
	}
	a.host = endpoint.Host
	a.url = tokenURL(endpoint)
	if err := checkPasswordCredentials(creds); err != nil {
		a.err = &Error{Class: ClassUnauthorized, Step: iamTokenStep, Host: a.host, Message: err.Error(), Err: err}
	}
	return a
}

// PasswordAuthOption configures an Authenticator returned by TokenCache.PasswordAuth.
type PasswordAuthOption func(*passwordAuthOptions)

// passwordAuthOptions holds what the PasswordAuthOptions set.
type passwordAuthOptions struct {
	refusalBackoff time.Duration
}

// WithRefusalBackoff sets how long IAM is not asked again after it first refused the
// credentials; the wait doubles with every further refusal, up to MaxIAMRefusalBackoff. A poll
// interval is a good value: a wrong password is then asked about at most once per poll, and less
// and less often. Values <= 0 mean DefaultIAMRefusalBackoff. Callers with the same credential
// values share the backoff; each refusal's wait is counted from the base of the caller whose
// request IAM refused.
func WithRefusalBackoff(initial time.Duration) PasswordAuthOption {
	return func(o *passwordAuthOptions) { o.refusalBackoff = initial }
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

// tokenURL returns the token endpoint under the IAM base URL. nocatalog=true leaves the service
// catalog out of the response: it can run to hundreds of kilobytes and only expires_at is read.
func tokenURL(endpoint *url.URL) string {
	u := *endpoint
	escaped := strings.TrimRight(endpoint.EscapedPath(), "/") + "/v3/auth/tokens"
	u.RawPath = escaped
	u.Path, _ = url.PathUnescape(escaped) // cannot fail: the prefix came from a parsed URL
	u.RawQuery = "nocatalog=true"
	return u.String()
}

// credentialKey is a SHA-256 digest identifying credentials in the cache, so that the map holds
// no password. With the password it identifies one credential value; without it, the identity
// (the user in a project) that rotations share.
type credentialKey [sha256.Size]byte

// credentialKeyOf hashes the fields with length prefixes, so that no two different field lists
// hash the same input.
func credentialKeyOf(p PasswordCredentials, withPassword bool) credentialKey {
	h := sha256.New()
	fields := []string{strings.TrimRight(p.IAMEndpoint, "/"), p.DomainName, p.Username, p.ProjectName}
	if withPassword {
		fields = append(fields, p.Password)
	}
	for _, f := range fields {
		_ = binary.Write(h, binary.BigEndian, uint64(len(f)))
		h.Write([]byte(f))
	}
	var k credentialKey
	h.Sum(k[:0])
	return k
}

// tokenEntry is the cache's state for one credential value. Every field is guarded by
// TokenCache.mu.
type tokenEntry struct {
	identity  credentialKey
	token     string    // "" when there is none
	expiresAt time.Time // on the cache's clock
	refreshAt time.Time // on the cache's clock
	lastUsed  time.Time
	call      *tokenCall // the IAM request in flight, or nil

	// refusal is IAM's last refusal of these values, its message naming refusedUntil; it is
	// returned instead of asking IAM until then. refusals counts the refusals since the last
	// token, for the doubling of the wait; other failures leave both alone.
	refusal      *Error
	refusedUntil time.Time
	refusals     int
}

// tokenCall is one IAM request shared by every caller waiting for it.
type tokenCall struct {
	done    chan struct{} // closed once token and err are set
	cancel  context.CancelFunc
	waiters int // guarded by TokenCache.mu
	token   string
	err     *Error
}

// issuedToken is a token IAM issued, with its times on the cache's clock.
type issuedToken struct {
	value     string
	expiresAt time.Time
	refreshAt time.Time
}

// token returns a fresh token for a's credentials: the cached one, or one from an IAM request
// that this call starts or joins. Waiting ends early when ctx ends; the request goes on for the
// other callers, and is cancelled when the last one has left.
func (c *TokenCache) token(ctx context.Context, a *passwordAuth) (string, error) {
	now := c.now()
	c.mu.Lock()
	c.pruneLocked(now)
	e := c.entries[a.key]
	if e == nil {
		e = &tokenEntry{identity: a.identity}
		c.entries[a.key] = e
	}
	e.lastUsed = now
	if e.token != "" && now.Before(e.refreshAt) {
		token := e.token
		c.mu.Unlock()
		return token, nil
	}
	if e.refusal != nil && now.Before(e.refusedUntil) {
		err := *e.refusal
		c.mu.Unlock()
		return "", &err
	}
	if ctx.Err() != nil {
		c.mu.Unlock()
		return "", a.waitError(ctx)
	}
	call := e.call
	if call == nil {
		call = c.startLocked(ctx, e, a)
	}
	call.waiters++
	c.mu.Unlock()

	select {
	case <-call.done:
		if call.err != nil {
			// Each waiter gets its own copy, so that one caller changing it cannot affect another.
			err := *call.err
			return "", &err
		}
		return call.token, nil
	case <-ctx.Done():
		c.mu.Lock()
		call.waiters--
		if call.waiters == 0 && e.call == call {
			// Nobody wants the answer any more. Forgetting the call lets the next caller start
			// afresh instead of joining a request that is being cancelled.
			e.call = nil
			call.cancel()
		}
		c.mu.Unlock()
		return "", a.waitError(ctx)
	}
}

// startLocked starts an IAM request for e. It runs on a context detached from ctx's
// cancellation, so that the caller who happened to start it cannot cancel it for the others, and
// bounded by DefaultTimeout, so that it ends even if every caller waits forever. The caller holds
// c.mu.
func (c *TokenCache) startLocked(ctx context.Context, e *tokenEntry, a *passwordAuth) *tokenCall {
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
	call := &tokenCall{done: make(chan struct{}), cancel: cancel}
	e.call = call
	go c.run(reqCtx, e, call, a)
	return call
}

// run sends the IAM request of call and publishes the result.
func (c *TokenCache) run(ctx context.Context, e *tokenEntry, call *tokenCall, a *passwordAuth) {
	defer call.cancel()
	issued, err := c.requestToken(ctx, a)
	if c.observe != nil {
		if err != nil {
			c.observe(err)
		} else {
			c.observe(nil)
		}
	}

	now := c.now()
	c.mu.Lock()
	if e.call == call {
		e.call = nil
		switch {
		case err == nil:
			e.token, e.expiresAt, e.refreshAt = issued.value, issued.expiresAt, issued.refreshAt
			e.refusal, e.refusedUntil, e.refusals = nil, time.Time{}, 0
			c.dropRotatedLocked(a.key, e)
		case isRefusal(err):
			// The waiters get the remembered form too, so that the message they report is the one
			// every later caller gets until the backoff ends.
			err = rememberRefusalLocked(e, err, a.refusalBackoff, now)
		}
	}
	call.token, call.err = issued.value, err
	c.mu.Unlock()
	close(call.done)
}

// dropRotatedLocked removes the entries of other passwords of e's user once e's password has
// proved good: their tokens belong to a password that has most likely been changed. Dropping them
// only now keeps a stale copy of the Secret, still failing, from evicting the working token. An
// entry remembering a refusal loses its token but stays until pruned. The caller holds c.mu.
func (c *TokenCache) dropRotatedLocked(key credentialKey, e *tokenEntry) {
	if c.entries[key] != e {
		return // e was itself dropped while its request was in flight
	}
	for k, other := range c.entries {
		if k == key || other.identity != e.identity {
			continue
		}
		if other.refusal != nil {
			// A stale copy of the old Secret may still be in use: keeping its refusal keeps it
			// from being sent to IAM again at once, with its backoff started over.
			other.token, other.expiresAt, other.refreshAt = "", time.Time{}, time.Time{}
			continue
		}
		delete(c.entries, k)
	}
}

// isRefusal reports whether IAM refused the credentials themselves, as opposed to failing to
// answer (throttling, 5xx, network errors, timeouts), which says nothing about them.
func isRefusal(err *Error) bool {
	return err.Class == ClassUnauthorized || err.Class == ClassForbidden
}

// rememberRefusalLocked records a refusal of e's credentials at now and returns the error to
// hand out until the backoff ends: the refusal, its message naming when IAM will next be asked.
// base is the first wait of the caller whose request was refused. The caller holds c.mu.
func rememberRefusalLocked(e *tokenEntry, refusal *Error, base time.Duration, now time.Time) *Error {
	e.refusals++
	until := now.Add(refusalBackoff(base, e.refusals))
	// Whole seconds, rounded up, so that the time in the message is never earlier than the real
	// end of the wait.
	if whole := until.Truncate(time.Second); whole.Before(until) {
		until = whole.Add(time.Second)
	}
	remembered := *refusal
	note := "not asking IAM again with these credentials before " + until.UTC().Format(time.RFC3339) +
		" unless the Secret changes"
	if remembered.Message != "" {
		remembered.Message += "; " + note
	} else {
		remembered.Message = note
	}
	e.refusal, e.refusedUntil = &remembered, until
	return &remembered
}

// refusalBackoff returns the wait after the given number of consecutive refusals: base, doubled
// for every refusal after the first, at most MaxIAMRefusalBackoff, and at least a second, the
// resolution of the time in the message.
func refusalBackoff(base time.Duration, refusals int) time.Duration {
	wait := min(max(base, time.Second), MaxIAMRefusalBackoff)
	for i := 1; i < refusals && wait < MaxIAMRefusalBackoff; i++ {
		wait *= 2
	}
	return min(wait, MaxIAMRefusalBackoff)
}

// pruneLocked removes, at most once per pruneInterval, the entries that have no usable token, no
// request in flight, and were not used for idleEntryTTL. An entry remembering a refusal counts as
// used until its backoff ends: a caller polling less often than idleEntryTTL would otherwise lose
// the refusal between two polls and ask IAM at every one. The caller holds c.mu.
func (c *TokenCache) pruneLocked(now time.Time) {
	if now.Sub(c.lastPrune) < pruneInterval && !now.Before(c.lastPrune) {
		return
	}
	c.lastPrune = now
	for k, e := range c.entries {
		idleSince := e.lastUsed
		if e.refusedUntil.After(idleSince) {
			idleSince = e.refusedUntil
		}
		if e.call == nil && (e.token == "" || !now.Before(e.expiresAt)) && now.Sub(idleSince) >= idleEntryTTL {
			delete(c.entries, k)
		}
	}
}

// invalidate drops the cached token of key if it is the one sent, so that a token another
// caller has just obtained is not thrown away.
func (c *TokenCache) invalidate(key credentialKey, sent string) {
	if sent == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil && e.token != "" && subtle.ConstantTimeCompare([]byte(e.token), []byte(sent)) == 1 {
		e.token, e.expiresAt, e.refreshAt = "", time.Time{}, time.Time{}
	}
}

// refreshMargin returns how long before expiry a token is replaced: a fifth of its lifetime, at
// least minRefreshMargin, but never more than half the lifetime, so that a short-lived token is
// still used for at least half its life.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(max(lifetime/5, minRefreshMargin), lifetime/2)
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
	e := &Error{
		Class:      classify(resp.StatusCode, ""),
		Step:       iamTokenStep,
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    message,
		Host:       host,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && message == "" {
		e.Message = "redirects are not followed"
	}
	return e
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

// passwordAuth is the Authenticator PasswordAuth returns.
type passwordAuth struct {
	cache    *TokenCache
	creds    PasswordCredentials
	key      credentialKey
	identity credentialKey
	host     string // the IAM host, for messages
	url      string // the token endpoint
	err      *Error // why the credentials cannot be used, if they cannot
	// refusalBackoff is the first wait after IAM refuses a request this Authenticator sent.
	refusalBackoff time.Duration
}

// Authenticate sets X-Auth-Token to a token for the credentials, from the cache or from IAM.
// req's context bounds the wait for IAM. Errors are *Error values naming the IAM step and host.
func (a *passwordAuth) Authenticate(req *http.Request) error {
	if a.err != nil {
		err := *a.err
		return &err
	}
	token, err := a.cache.token(req.Context(), a)
	if err != nil {
		return err
	}
	req.Header.Set(tokenHeader, token)
	return nil
}

// invalidate drops the cached token if it is the one req carried.
func (a *passwordAuth) invalidate(req *http.Request) {
	a.cache.invalidate(a.key, req.Header.Get(tokenHeader))
}

// waitError describes a caller that stopped waiting for IAM because ctx ended.
func (a *passwordAuth) waitError(ctx context.Context) *Error {
	return withStep(transportError(ctx, a.host, ctx.Err()))
}

// String returns a description with the password redacted.
func (a *passwordAuth) String() string { return "PasswordAuth" + a.creds.fields() }

// GoString returns a redacted description for the %#v verb.
func (a *passwordAuth) GoString() string { return "swr.PasswordAuth" + a.creds.fields() }

// Format prints the redacted description for every verb.
func (a *passwordAuth) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, a.String(), a.GoString())
}

// LogValue makes slog log the redacted description.
func (a *passwordAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// MarshalJSON encodes the redacted description.
func (a *passwordAuth) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

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

// errNoTokenCache is returned by the Authenticator of a nil TokenCache.
var errNoTokenCache = errors.New("no IAM token cache configured")
