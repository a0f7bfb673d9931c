package swr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// selfSignedPEM returns a new self-signed CA certificate in PEM form.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestTrustedClientsPruned uses bundle A once, then only bundle B for longer than
// caClientIdleTTL: A's client goes, its idle connection closed, and B's stays.
func TestTrustedClientsPruned(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateClosed {
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	srv.StartTLS()
	defer srv.Close()
	bundleA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	bundleB := selfSignedPEM(t)

	now := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	c := NewClient()
	c.trusted.now = func() time.Time { return now }
	size := func() int {
		c.trusted.mu.Lock()
		defer c.trusted.mu.Unlock()
		return len(c.trusted.byBundle)
	}

	clientA, err := c.httpClientFor(bundleA)
	if err != nil {
		t.Fatal(err)
	}
	// A request through A leaves a connection idle in its pool.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := clientA.Do(req)
	if err != nil {
		t.Fatalf("GET through bundle A's client: %v", err)
	}
	_ = resp.Body.Close()
	clientB, err := c.httpClientFor(bundleB)
	if err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 2 {
		t.Fatalf("clients = %d, want 2", got)
	}

	for elapsed := time.Minute; elapsed < caClientIdleTTL; elapsed += time.Minute {
		now = now.Add(time.Minute)
		if hc, _ := c.httpClientFor(bundleB); hc != clientB {
			t.Fatal("bundle B got a new client although it is in use")
		}
		if got := size(); got != 2 {
			t.Fatalf("%v after A's last use: clients = %d, want 2", elapsed, got)
		}
	}
	select {
	case <-closed:
		t.Fatal("A's connection was closed while A was kept")
	default:
	}
	now = now.Add(time.Minute) // A unused for caClientIdleTTL
	if hc, _ := c.httpClientFor(bundleB); hc != clientB {
		t.Fatal("bundle B got a new client although it is in use")
	}
	if got := size(); got != 1 {
		t.Fatalf("clients = %d, want 1 (A's dropped)", got)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("A's idle connection was not closed")
	}
	// A bundle that comes back gets a client again.
	if hc, err := c.httpClientFor(bundleA); err != nil || hc == clientA {
		t.Errorf("bundle A again: same client %v, error %v; want a new client", hc == clientA, err)
	}
}
