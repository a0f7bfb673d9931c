package controllers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
)

// secretRefIndex indexes ImageRepositories and ImageOrganizations by the names of the Secrets
// they reference (spec.secretRef and spec.certSecretRef).
const secretRefIndex = ".spec.secretRef.name" //nolint:gosec // G101: the name of a field index, not a credential

// secretRefNames returns the names of the Secrets a spec references, for secretRefIndex.
func secretRefNames(secretRef swrv1.SecretReference, certSecretRef *swrv1.SecretReference) []string {
	if certSecretRef != nil && certSecretRef.Name != secretRef.Name {
		return []string{secretRef.Name, certSecretRef.Name}
	}
	return []string{secretRef.Name}
}

// credentialSource says where an object in namespace gets its credentials from: the Secrets its
// spec references, its spec.region, and its poll interval as the first wait after IAM refused a
// password.
func credentialSource(namespace string, access *swrv1.SWRAccess, interval time.Duration) credentials.Source {
	src := credentials.Source{Namespace: namespace, SecretName: access.SecretRef.Name, Region: access.Region, RefusalBackoff: interval}
	if access.CertSecretRef != nil {
		src.CASecretName = access.CertSecretRef.Name
	}
	return src
}

// secretReader reads the Secrets an object names and hands their data to internal/credentials,
// which turns them into SWR authentication. Both reconcilers use one, built from their fields.
type secretReader struct {
	reader client.Reader // reads Secrets live, around the cache
	// metadata reads the informer of Secret metadata, and secrets keeps the Secrets read live
	// while that informer shows them unchanged.
	metadata client.Reader
	secrets  *secretCache
	clock    clock.PassiveClock
	resolver credentials.Resolver
}

// connection is what one poll needs to call SWR, resolved from an object's spec and Secrets.
type connection struct {
	endpoint string
	credentials.Connection
}

// connect resolves the endpoint (spec.endpoint, else the one of spec.region) and reads the
// Secrets src names into an authenticator and a CA bundle. The Secrets' digest is returned
// whenever they were read, also with an error after that, so that a Secret event that changes
// nothing can be told apart even from a failed poll.
func (c secretReader) connect(ctx context.Context, endpoint, region string, src credentials.Source) (connection, [sha256.Size]byte, error) {
	var conn connection
	var digest [sha256.Size]byte
	var err error
	if conn.endpoint, err = c.resolver.Endpoints.Endpoint(endpoint, region); err != nil {
		return conn, digest, err
	}
	secrets, err := c.read(ctx, src)
	if err != nil {
		return conn, digest, err
	}
	digest = secrets.Digest()
	conn.Connection, err = c.resolver.Connect(src, secrets)
	return conn, digest, err
}

// read reads the Secrets src names: from the apiserver when they changed since this process
// last read them (see secretCache), so that the manager never lists or watches the data of
// Secrets and an edited Secret takes effect at the very next poll. A missing Secret is not an
// error here: the poll reports it.
func (c secretReader) read(ctx context.Context, src credentials.Source) (credentials.Secrets, error) {
	var secrets credentials.Secrets
	var err error
	if secrets.Credentials, err = c.readSecret(ctx, src.Namespace, src.SecretName); err != nil {
		return secrets, err
	}
	if src.CASecretName != "" {
		if secrets.CA, err = c.readSecret(ctx, src.Namespace, src.CASecretName); err != nil {
			return secrets, err
		}
	}
	return secrets, nil
}

// readSecret returns the data of the Secret, not Found when it does not exist.
func (c secretReader) readSecret(ctx context.Context, namespace, name string) (credentials.Secret, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	secret, err := c.secrets.read(ctx, c.metadata, key, c.clock.Now(), func() (*corev1.Secret, error) {
		secret := &corev1.Secret{}
		if err := c.reader.Get(ctx, key, secret); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("reading Secret %q: %w", name, err)
		}
		return secret, nil
	})
	if err != nil || secret == nil {
		return credentials.Secret{}, err
	}
	return credentials.Secret{Found: true, Data: secret.Data}, nil
}
