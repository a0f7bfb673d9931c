// Package controllers holds the ImageRepository reconciler (when to poll SWR, how to mirror its
// sync policies into SyncRepoTasks, and which conditions and events tell people about it) and the
// ImageOrganization reconciler, which keeps one ImageRepository per repository of an SWR
// organization.
package controllers

import (
	"context"
	"crypto/sha256"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
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
type reconciler[S secretDigests] struct {
	Options
	// state is what this process knows of each object beyond its status.
	state   S
	secrets secretCache
}

// newReconciler returns a reconciler configured by o, keeping state.
func newReconciler[S secretDigests](o Options, state S) reconciler[S] {
	return reconciler[S]{Options: o.withDefaults(), state: state}
}

// secretDigests is what the shared code needs of a reconciler's state (see objectState): the
// digest of the Secret data each object's last poll used.
type secretDigests interface {
	rememberSecretDigest(obj client.Object, digest [sha256.Size]byte)
	secretDigestChanged(obj client.Object, digest [sha256.Size]byte) bool
}

// polledObject is an ImageRepository or an ImageOrganization, as the shared code sees it.
type polledObject interface {
	client.Object
	PollInterval(minimum time.Duration) time.Duration
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

// credentialSource says where obj, whose spec holds access, gets its credentials from.
func (r *reconciler[S]) credentialSource(obj polledObject, access *swrv1.SWRAccess) credentials.Source {
	return credentialSource(obj.GetNamespace(), access, obj.PollInterval(r.MinInterval))
}

// connect resolves what one poll of obj needs to call SWR, and remembers the digest of the Secret
// data it read (also when it fails after reading them), for secretDataChanged.
func (r *reconciler[S]) connect(ctx context.Context, obj polledObject, access *swrv1.SWRAccess) (connection, error) {
	conn, digest, err := r.secretReader().connect(ctx, access.Endpoint, access.Region, r.credentialSource(obj, access))
	if digest != ([sha256.Size]byte{}) {
		r.state.rememberSecretDigest(obj, digest)
	}
	return conn, err
}

// secretDataChanged reports whether, after an event of a Secret obj references, the Secrets' data
// differs from what the last poll used: tools that annotate Secrets must not cause polls. A Secret
// that cannot be read is left to the poll to report.
func (r *reconciler[S]) secretDataChanged(ctx context.Context, obj polledObject, access *swrv1.SWRAccess) bool {
	secrets, err := r.secretReader().read(ctx, r.credentialSource(obj, access))
	return err != nil || r.state.secretDigestChanged(obj, secrets.Digest())
}
