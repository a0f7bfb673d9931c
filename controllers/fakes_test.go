package controllers_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// newTestScheme returns a scheme with the built-in kinds and the operator's, for fake clients.
func newTestScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme, err := controlplane.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return scheme
}

// fakeOptions configures a reconciler for unit tests: cached reads and writes through c, live
// reads through apiReader, time from clk, a one-second interval floor, plain-http endpoints (the
// simulator's) and events dropped.
func fakeOptions(c client.Client, apiReader client.Reader, clk clock.PassiveClock) controllers.Options {
	return controllers.Options{
		Client:      c,
		APIReader:   apiReader,
		Tokens:      swr.NewTokenCache(),
		Recorder:    &events.FakeRecorder{},
		Clock:       clk,
		MinInterval: time.Second,
		Endpoints:   credentials.EndpointPolicy{AllowInsecure: true},
	}
}

// countingReader returns a live reader over c that counts in *reads the Gets of objects that
// counted accepts: the reads around the cache a test wants to see, or not see.
func countingReader(c client.WithWatch, reads *int, counted func(client.Object) bool) client.Reader {
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if counted(obj) {
				*reads++
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
}
