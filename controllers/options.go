package controllers

import (
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// Options configures a reconciler; the manager builds one and hands it to both
// NewImageRepositoryReconciler and NewImageOrganizationReconciler.
type Options struct {
	// Client reads through the manager's cache and writes.
	client.Client
	// APIReader reads around the cache: Secrets (never cached), and live objects where the cache
	// may be stale.
	APIReader client.Reader
	// Tokens caches IAM tokens per credential, shared by every object.
	Tokens   *swr.TokenCache
	Recorder events.EventRecorder
	// Clock is the real clock when nil.
	Clock clock.PassiveClock
	// MinInterval raises shorter spec.interval values.
	MinInterval time.Duration
	// Endpoints says where credentials may be sent: https only unless AllowInsecure, and only to
	// AllowedHosts when that is set.
	Endpoints credentials.EndpointPolicy
	// Metrics receives poll durations and the per-object gauges; nil records nothing.
	Metrics *Metrics
}

// withDefaults fills in what o leaves unset.
func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// secretReader returns the way of reading an object's Secrets that uses cache.
func (o *Options) secretReader(cache *secretCache) secretReader {
	return secretReader{reader: o.APIReader, metadata: o.Client, secrets: cache, clock: o.Clock,
		resolver: credentials.Resolver{Tokens: o.Tokens, Endpoints: o.Endpoints}}
}
