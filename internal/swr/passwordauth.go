package swr

import (
	"context"
	"errors"
	"net/http"
	"time"
)

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
	a := &passwordAuth{redaction: redaction(creds.printed().describe("PasswordAuth")), cache: c, creds: creds,
		key: credentialKeyOf(creds, true), identity: credentialKeyOf(creds, false),
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

// passwordAuth is the Authenticator PasswordAuth returns.
type passwordAuth struct {
	redaction // "PasswordAuth" and the credentials, the password redacted
	cache     *TokenCache
	creds     PasswordCredentials
	key       credentialKey
	identity  credentialKey
	host      string // the IAM host, for messages
	url       string // the token endpoint
	err       *Error // why the credentials cannot be used, if they cannot
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

// errNoTokenCache is returned by the Authenticator of a nil TokenCache.
var errNoTokenCache = errors.New("no IAM token cache configured")
