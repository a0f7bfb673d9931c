package swr_test

import (
	"context"
	"testing"

	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

func TestCABundleTrustsAPrivateCA(t *testing.T) {
	server := swrtest.NewPrivateCAServer()
	defer server.Close()
	server.SetPolicies("acme", "app", swr.SyncRepo{ID: 7})
	// Even a client that trusts httptest's shared certificate must not trust a private CA.
	shared := swrtest.NewTLSServer()
	defer shared.Close()
	client := swr.NewClient(swr.WithHTTPClient(shared.Client()))
	auth := swr.NewTokenAuth(swrtest.DefaultToken)
	target := swr.Target{Endpoint: server.URL(), Organization: "acme", Repository: "app"}

	if _, err := client.ListSyncRepos(context.Background(), target, auth); swr.ClassOf(err) != swr.ClassNetwork {
		t.Fatalf("a self-signed endpoint without a CA bundle gave %v, want a certificate failure", err)
	}

	target.CABundle = server.CertificatePEM()
	for range 2 { // the second call reuses the cached client for the same bundle
		got, err := client.ListSyncRepos(context.Background(), target, auth)
		if err != nil || len(got) != 1 || got[0].ID != 7 {
			t.Fatalf("with the server's certificate as CA: %v, %v", got, err)
		}
	}

	target.CABundle = []byte("not a certificate")
	if _, err := client.ListSyncRepos(context.Background(), target, auth); swr.ClassOf(err) != swr.ClassBadRequest {
		t.Fatalf("a bundle without certificates gave %v, want ClassBadRequest", err)
	}
}
