// Package controllers holds the ImageRepository reconciler (when to poll SWR, how to mirror its
// sync policies into SyncRepoTasks, and which conditions and events tell people about it) and the
// ImageOrganization reconciler, which keeps one ImageRepository per repository of an SWR
// organization.
package controllers

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
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

// reconciler is what both reconcilers are made of: their Options, what they know of each of
// their objects (S, see objectState) and the Secrets they read.
type reconciler[S any] struct {
	Options
	// state is what this process knows of each object beyond its status.
	state   S
	secrets secretCache
}

// fetch reads the object key names into obj from the cache, and reports whether there is
// anything to reconcile: not when it is gone (then forget drops what this process knew of it; its
// children go with it through their ownerReferences) or being deleted.
func (r *reconciler[S]) fetch(ctx context.Context, key types.NamespacedName, obj client.Object, forget func(types.NamespacedName)) (bool, error) {
	if err := r.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			forget(key)
			return false, nil
		}
		return false, err
	}
	return obj.GetDeletionTimestamp().IsZero(), nil
}

// secretReader returns the reconciler's way of reading an object's Secrets into SWR
// authentication.
func (r *reconciler[S]) secretReader() secretReader {
	return secretReader{reader: r.APIReader, metadata: r.Client, secrets: &r.secrets, clock: r.Clock,
		resolver: credentials.Resolver{Tokens: r.Tokens, Endpoints: r.Endpoints}}
}
