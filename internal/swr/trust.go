package swr

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
)

// trustedClients keeps one HTTP client per extra CA bundle, so that repositories behind the same
// private CA share connections instead of building a transport per request.
type trustedClients struct {
	mu       sync.Mutex
	byBundle map[[sha256.Size]byte]*http.Client
}

// httpClientFor returns the client that trusts the system roots (or the roots the client was
// given) plus the PEM certificates in bundle; with no bundle, the client's own.
func (c *Client) httpClientFor(bundle []byte) (*http.Client, error) {
	if len(bundle) == 0 {
		return c.httpClient, nil
	}
	key := sha256.Sum256(bundle)
	c.trusted.mu.Lock()
	defer c.trusted.mu.Unlock()
	if hc, ok := c.trusted.byBundle[key]; ok {
		return hc, nil
	}
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
	if c.trusted.byBundle == nil {
		c.trusted.byBundle = map[[sha256.Size]byte]*http.Client{}
	}
	c.trusted.byBundle[key] = &hc
	return &hc, nil
}
