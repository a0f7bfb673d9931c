package swr

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Cache housekeeping. A sweep runs at most once per pruneInterval (by the cache's clock) and
// removes entries that hold no usable token and were not used for idleEntryTTL, so that
// credentials nobody uses any more (deleted Secrets, old passwords) do not pile up.
const (
	pruneInterval = time.Minute
	idleEntryTTL  = 10 * time.Minute
)

// minRefreshMargin is the least time before expiry at which a token is replaced, unless the token
// lives so briefly that half its life is less; see refreshMargin.
const minRefreshMargin = 5 * time.Minute

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
func (c *TokenCache) GoString() string { return redaction(c.String()).GoString() }

// Format prints the description for every verb: fmt's fallback for a verb that does not fit a
// pointer, as in %s, would otherwise dump the entries, tokens included.
func (c *TokenCache) Format(f fmt.State, verb rune) { redaction(c.String()).Format(f, verb) }

// LogValue makes slog log the description.
func (c *TokenCache) LogValue() slog.Value { return redaction(c.String()).LogValue() }

// MarshalJSON encodes the description.
func (c *TokenCache) MarshalJSON() ([]byte, error) { return redaction(c.String()).MarshalJSON() }

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
