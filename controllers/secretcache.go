package controllers

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretCacheIdle is how long a Secret that no poll used is kept: a Secret nobody references any
// more (the spec names another one) is dropped after that.
const secretCacheIdle = 10 * time.Minute

// secretCache keeps the Secrets a reconciler read from the apiserver, to hand each out again for
// as long as the informer of Secret metadata (the reconcilers watch it to learn of rotations)
// shows the same resourceVersion. Polls then read a Secret from the apiserver only when it
// changed, not at every poll, while the manager still neither lists nor watches any Secret's
// data: it holds only the Secrets its objects reference, as their authenticators do anyway.
// The zero value is ready to use.
type secretCache struct {
	mu        sync.Mutex
	secrets   map[types.NamespacedName]*cachedSecret
	lastSweep time.Time
	// reads lets concurrent polls that need one Secret share a single read of it: a cold start
	// of a thousand ImageRepositories with one Secret reads it once, not once per worker.
	reads singleflight.Group
}

// read returns the Secret key: as last read while the metadata informer shows it unchanged,
// else from live (nil, nil when it does not exist), which it then keeps.
func (c *secretCache) read(ctx context.Context, metadata client.Reader, key types.NamespacedName, now time.Time,
	live func() (*corev1.Secret, error)) (*corev1.Secret, error) {
	if known := c.get(ctx, metadata, key, now); known != nil {
		return known, nil
	}
	secret, err, _ := c.reads.Do(key.String(), func() (any, error) {
		secret, err := live()
		if err == nil {
			c.put(key, secret, now)
		}
		return secret, err
	})
	if err != nil {
		return nil, err
	}
	return secret.(*corev1.Secret), nil
}

type cachedSecret struct {
	secret   *corev1.Secret
	lastUsed time.Time
}

// get returns the Secret key as last read, if the metadata informer (read through metadata)
// still shows its resourceVersion; nil when it must be read from the apiserver. The Secret
// returned is shared: callers only read it.
func (c *secretCache) get(ctx context.Context, metadata client.Reader, key types.NamespacedName, now time.Time) *corev1.Secret {
	c.mu.Lock()
	known := c.secrets[key]
	c.mu.Unlock()
	if known == nil {
		return nil
	}
	current := &metav1.PartialObjectMetadata{}
	current.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := metadata.Get(ctx, key, current); err != nil || current.ResourceVersion != known.secret.ResourceVersion {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	known.lastUsed = now
	return known.secret
}

// put keeps secret, as just read from the apiserver; nil drops the Secret key (it does not
// exist). It also drops the Secrets no poll used for secretCacheIdle.
func (c *secretCache) put(key types.NamespacedName, secret *corev1.Secret, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secrets == nil {
		c.secrets = map[types.NamespacedName]*cachedSecret{}
	}
	if secret == nil {
		delete(c.secrets, key)
	} else {
		c.secrets[key] = &cachedSecret{secret: secret, lastUsed: now}
	}
	if now.Sub(c.lastSweep) < secretCacheIdle {
		return
	}
	c.lastSweep = now
	for k, s := range c.secrets {
		if now.Sub(s.lastUsed) >= secretCacheIdle {
			delete(c.secrets, k)
		}
	}
}
