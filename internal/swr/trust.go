package swr

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Housekeeping of the per-bundle clients. A CA Secret that is edited or deleted leaves its
// bundle's client, and its pooled connections, behind; a sweep at most once per
// caClientPruneInterval drops the clients not used for caClientIdleTTL. Rebuilding a transport
// for a bundle that comes back costs a certificate parse and new connections, which is little
// next to keeping every bundle ever seen.
const (
	caClientIdleTTL       = 10 * time.Minute
	caClientPruneInterval = time.Minute
)

// trustedClients keeps one HTTP client per extra CA bundle, so that repositories behind the same
// private CA share connections instead of building a transport per request.
type trustedClients struct {
	// now replaces time.Now in tests; nil means time.Now.
	now func() time.Time

	mu        sync.Mutex
	byBundle  map[[sha256.Size]byte]*trustedClient
	lastPrune time.Time
}

// trustedClient is the client for one CA bundle. lastUsed is guarded by trustedClients.mu.
type trustedClient struct {
	client    *http.Client
	transport *http.Transport // the client's, for closing its idle connections when dropped
	lastUsed  time.Time
}

// clock returns the current time for the idle bookkeeping.
func (t *trustedClients) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

// httpClientFor returns the client that trusts the system roots (or the roots the client was
// given) plus the PEM certificates in bundle; with no bundle, the client's own.
func (c *Client) httpClientFor(bundle []byte) (*http.Client, error) {
	if len(bundle) == 0 {
		return c.httpClient, nil
	}
	key := sha256.Sum256(bundle)
	now := c.trusted.clock()
	c.trusted.mu.Lock()
	defer c.trusted.mu.Unlock()
	if tc, ok := c.trusted.byBundle[key]; ok {
		// Marked used before the sweep, so that the client about to be returned is never closed.
		tc.lastUsed = now
		c.trusted.pruneLocked(now)
		return tc.client, nil
	}
	c.trusted.pruneLocked(now)
	tc, err := c.newTrustedClient(bundle)
	if err != nil {
		return nil, err
	}
	tc.lastUsed = now
	if c.trusted.byBundle == nil {
		c.trusted.byBundle = map[[sha256.Size]byte]*trustedClient{}
	}
	c.trusted.byBundle[key] = tc
	return tc.client, nil
}

// newTrustedClient builds a copy of the client's HTTP client whose transport also trusts the
// certificates in bundle.
func (c *Client) newTrustedClient(bundle []byte) (*trustedClient, error) {
	base, ok := c.httpClient.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("a CA bundle needs an *http.Transport to add it to")
	}
	transport := base.Clone()
	var roots *x509.CertPool
	if transport.TLSClientConfig != nil && transport.TLSClientConfig.RootCAs != nil {
		roots = transport.TLSClientConfig.RootCAs.Clone()
	} else if system, err := x509.SystemCertPool(); err == nil {
		roots = system
	} else {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(bundle) {
		return nil, errors.New("the CA bundle holds no PEM certificate")
	}
	transport.TLSClientConfig = transport.TLSClientConfig.Clone()
	if transport.TLSClientConfig == nil {
		transport.TLSClientConfig = newTransport().TLSClientConfig.Clone()
	}
	transport.TLSClientConfig.RootCAs = roots
	hc := *c.httpClient
	hc.Transport = transport
	return &trustedClient{client: &hc, transport: transport}, nil
}

// pruneLocked drops, at most once per caClientPruneInterval, the clients not used for
// caClientIdleTTL, closing their idle connections: nobody will take them from the pool again, and
// a transport without an idle timeout would keep them open for good. A request still in flight on
// a dropped client finishes normally, its connection then left to the transport's idle timeout.
// The caller holds t.mu.
func (t *trustedClients) pruneLocked(now time.Time) {
	if now.Sub(t.lastPrune) < caClientPruneInterval && !now.Before(t.lastPrune) {
		return
	}
	t.lastPrune = now
	for key, tc := range t.byBundle {
		if now.Sub(tc.lastUsed) >= caClientIdleTTL {
			delete(t.byBundle, key)
			tc.transport.CloseIdleConnections()
		}
	}
}
