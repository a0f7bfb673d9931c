package controllers

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// Keys of the Secret named by spec.secretRef. Which keys are present decides the credential kind.
const (
	// TokenKey holds an IAM user token, sent as X-Auth-Token. Tokens expire after 24 hours.
	TokenKey = "token"

	// UsernameKey, PasswordKey and DomainNameKey hold an IAM user's password credentials, which
	// the operator exchanges for tokens. ProjectNameKey (default: spec.region) scopes the token;
	// IAMEndpointKey (default: https://iam.{region}.myhuaweicloud.com) names the IAM service.
	UsernameKey    = "username"
	PasswordKey    = "password"
	DomainNameKey  = "domainName"
	ProjectNameKey = "projectName"
	IAMEndpointKey = "iamEndpoint"

	// AccessKeyKey and SecretKeyKey hold an access key pair that signs every request
	// (SDK-HMAC-SHA256). ProjectIDKey and SecurityTokenKey (temporary credentials) are optional.
	AccessKeyKey     = "accessKey"
	SecretKeyKey     = "secretKey"
	ProjectIDKey     = "projectId"
	SecurityTokenKey = "securityToken"
)

// credentialKind is one way of authenticating to SWR, recognized by its keys.
type credentialKind struct {
	name     string
	required []string
	optional []string
}

var (
	tokenKind    = credentialKind{name: "token", required: []string{TokenKey}}
	passwordKind = credentialKind{name: "IAM password", required: []string{UsernameKey, PasswordKey, DomainNameKey},
		optional: []string{ProjectNameKey, IAMEndpointKey}}
	accessKeyKind = credentialKind{name: "access key", required: []string{AccessKeyKey, SecretKeyKey},
		optional: []string{ProjectIDKey, SecurityTokenKey}}
	credentialKinds = []credentialKind{tokenKind, passwordKind, accessKeyKind}
)

// credentialKindsHelp says what a Secret may hold, for messages.
const credentialKindsHelp = `keep exactly one of: "token"; "username", "password" and "domainName"; "accessKey" and "secretKey"`

// CAKey is the key of the spec.certSecretRef Secret holding PEM certificates to trust.
const CAKey = "ca.crt"

// certificateError is an unusable spec.certSecretRef that a person must fix.
type certificateError struct{ msg string }

func (e *certificateError) Error() string { return e.msg }

// credentialSource is where one poll's credentials come from: what an ImageRepository and an
// ImageOrganization both say about them.
type credentialSource struct {
	namespace    string
	secretName   string // spec.secretRef
	caSecretName string // spec.certSecretRef, "" when unset
	region       string // spec.region, for the IAM defaults
	// refusalBackoff is the first wait before a password IAM refused is sent again: the
	// object's poll interval.
	refusalBackoff time.Duration
}

// credentialResolver turns the Secrets a credentialSource names into how requests to SWR are
// authenticated. Both reconcilers use one, built from their fields.
type credentialResolver struct {
	reader client.Reader // reads Secrets live, around the cache
	// metadata reads the informer of Secret metadata, and secrets keeps the Secrets read live
	// while that informer shows them unchanged.
	metadata  client.Reader
	secrets   *secretCache
	clock     clock.PassiveClock
	tokens    *swr.TokenCache
	endpoints EndpointPolicy
}

// connection is what one poll needs to call SWR, resolved from an object's spec and Secrets.
type connection struct {
	endpoint string
	auth     swr.Authenticator
	caBundle []byte
}

// connect resolves the endpoint (spec.endpoint, else the one of spec.region) and reads the
// Secrets src names into an authenticator and a CA bundle. The Secrets' digest is returned
// whenever they were read, also with an error after that, so that a Secret event that changes
// nothing can be told apart even from a failed poll.
func (c credentialResolver) connect(ctx context.Context, endpoint, region string, src credentialSource) (connection, [sha256.Size]byte, error) {
	var conn connection
	var digest [sha256.Size]byte
	var err error
	if conn.endpoint, err = resolveEndpoint(endpoint, region, c.endpoints); err != nil {
		return conn, digest, err
	}
	secrets, err := c.readCredentialSecrets(ctx, src)
	if err != nil {
		return conn, digest, err
	}
	digest = secrets.digest()
	if conn.auth, err = c.authenticatorFor(src, secrets); err != nil {
		return conn, digest, err
	}
	conn.caBundle, err = trustedCAs(src, secrets)
	return conn, digest, err
}

// credentialSecrets are the Secrets one poll uses, read live: spec.secretRef and, when set,
// spec.certSecretRef. A Secret that does not exist is nil.
type credentialSecrets struct {
	credentials *corev1.Secret
	ca          *corev1.Secret
}

// readCredentialSecrets reads the Secrets src names: from the apiserver when they changed since
// this process last read them (see secretCache), so that the manager never lists or watches the
// data of Secrets and an edited Secret takes effect at the very next poll. A missing Secret is
// not an error here: the poll reports it.
func (c credentialResolver) readCredentialSecrets(ctx context.Context, src credentialSource) (credentialSecrets, error) {
	var secrets credentialSecrets
	var err error
	if secrets.credentials, err = c.readSecret(ctx, src.namespace, src.secretName); err != nil {
		return secrets, err
	}
	if src.caSecretName != "" {
		if secrets.ca, err = c.readSecret(ctx, src.namespace, src.caSecretName); err != nil {
			return secrets, err
		}
	}
	return secrets, nil
}

// readSecret returns the Secret, or nil when it does not exist.
func (c credentialResolver) readSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	return c.secrets.read(ctx, c.metadata, key, c.clock.Now(), func() (*corev1.Secret, error) {
		secret := &corev1.Secret{}
		if err := c.reader.Get(ctx, key, secret); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("reading Secret %q: %w", name, err)
		}
		return secret, nil
	})
}

// digest identifies the data of both Secrets (and whether each exists), so that a Secret event
// that changed only metadata, such as an annotation another tool added, causes no poll. It is a
// SHA-256 over length-prefixed keys and values: it keeps no credential, and no two different
// contents give the same input.
func (s credentialSecrets) digest() [sha256.Size]byte {
	h := sha256.New()
	for _, secret := range []*corev1.Secret{s.credentials, s.ca} {
		if secret == nil {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		for _, key := range slices.Sorted(maps.Keys(secret.Data)) {
			for _, field := range [][]byte{[]byte(key), secret.Data[key]} {
				_ = binary.Write(h, binary.BigEndian, uint64(len(field)))
				h.Write(field)
			}
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// trustedCAs returns the PEM certificates of spec.certSecretRef, or nil when it is not set.
func trustedCAs(src credentialSource, secrets credentialSecrets) ([]byte, error) {
	if src.caSecretName == "" {
		return nil, nil
	}
	name := src.caSecretName
	secret := secrets.ca
	if secret == nil {
		return nil, &certificateError{msg: fmt.Sprintf("Secret %q (spec.certSecretRef) not found in namespace %q", name, src.namespace)}
	}
	pem, ok := secret.Data[CAKey]
	if !ok {
		return nil, &certificateError{msg: fmt.Sprintf("Secret %q (spec.certSecretRef) has no key %q (keys: %s)", name, CAKey, secretKeys(secret))}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, &certificateError{msg: fmt.Sprintf("Secret %q (spec.certSecretRef) key %q holds no PEM certificate", name, CAKey)}
	}
	return pem, nil
}

// credentialsError is a missing or unusable Secret that a person must fix. Its message names the
// Secret and its keys, never their values.
type credentialsError struct {
	reason string
	msg    string
}

func (e *credentialsError) Error() string { return e.msg }

func invalidCredentials(format string, args ...any) *credentialsError {
	return &credentialsError{reason: swrv1.ReasonCredentialsInvalid, msg: fmt.Sprintf(format, args...)}
}

// authenticatorFor returns how requests to SWR are authenticated with the Secret named by
// spec.secretRef.
func (c credentialResolver) authenticatorFor(src credentialSource, secrets credentialSecrets) (swr.Authenticator, error) {
	secret := secrets.credentials
	if secret == nil {
		return nil, &credentialsError{reason: swrv1.ReasonCredentialsNotFound,
			msg: fmt.Sprintf("Secret %q not found in namespace %q", src.secretName, src.namespace)}
	}
	kind, values, err := credentialsFromSecret(secret)
	if err != nil {
		return nil, err
	}
	switch kind.name {
	case tokenKind.name:
		return swr.NewTokenAuth(values[TokenKey]), nil
	case accessKeyKind.name:
		return swr.NewAKSKAuth(swr.AKSKCredentials{
			AccessKey:     values[AccessKeyKey],
			SecretKey:     values[SecretKeyKey],
			ProjectID:     values[ProjectIDKey],
			SecurityToken: values[SecurityTokenKey],
		}), nil
	default:
		creds, err := c.passwordCredentials(secret.Name, src.region, values)
		if err != nil {
			return nil, err
		}
		// A password IAM refused is not sent again for a poll interval, then twice as long, and
		// so on up to an hour, whichever ImageRepository asks: IAM lockout policies would
		// otherwise lock the user out for its people too.
		return c.tokens.PasswordAuth(creds, swr.WithRefusalBackoff(src.refusalBackoff)), nil
	}
}

// passwordCredentials completes an IAM password credential with the defaults that spec.region
// implies.
func (c credentialResolver) passwordCredentials(secretName, region string, values map[string]string) (swr.PasswordCredentials, error) {
	creds := swr.PasswordCredentials{
		IAMEndpoint: values[IAMEndpointKey],
		DomainName:  values[DomainNameKey],
		Username:    values[UsernameKey],
		Password:    values[PasswordKey],
		ProjectName: values[ProjectNameKey],
	}
	if creds.ProjectName == "" {
		if region == "" {
			return creds, invalidCredentials("Secret %q has no %q, and spec.region is not set to default it from", secretName, ProjectNameKey)
		}
		creds.ProjectName = region
	}
	if creds.IAMEndpoint == "" {
		if region == "" {
			return creds, invalidCredentials("Secret %q has no %q, and spec.region is not set to derive it from (https://iam.{region}.myhuaweicloud.com)", secretName, IAMEndpointKey)
		}
		creds.IAMEndpoint = regionEndpoint("iam", region)
	}
	endpoint, err := checkEndpointURL("the Secret's "+IAMEndpointKey, creds.IAMEndpoint, c.endpoints)
	if err != nil {
		return creds, err
	}
	creds.IAMEndpoint = endpoint
	return creds, nil
}

// credentialsFromSecret recognizes the one credential kind in secret and returns its values,
// trimmed of the trailing newline that `kubectl create secret --from-file` keeps.
func credentialsFromSecret(secret *corev1.Secret) (credentialKind, map[string]string, error) {
	var found []credentialKind
	for _, kind := range credentialKinds {
		if slices.ContainsFunc(kind.required, func(k string) bool { _, ok := secret.Data[k]; return ok }) {
			found = append(found, kind)
		}
	}
	keys := secretKeys(secret)
	switch len(found) {
	case 0:
		return credentialKind{}, nil, invalidCredentials("Secret %q holds no SWR credentials (keys: %s); %s", secret.Name, keys, credentialKindsHelp)
	case 1:
	default:
		return credentialKind{}, nil, invalidCredentials("Secret %q mixes credential kinds (keys: %s); %s", secret.Name, keys, credentialKindsHelp)
	}
	kind := found[0]
	values := map[string]string{}
	for _, k := range append(slices.Clone(kind.required), kind.optional...) {
		raw, present := secret.Data[k]
		value := strings.TrimRight(string(raw), "\r\n")
		switch {
		case !present && slices.Contains(kind.required, k):
			return kind, nil, invalidCredentials("Secret %q has %s credentials but no key %q (keys: %s)", secret.Name, kind.name, k, keys)
		case present && value == "":
			return kind, nil, invalidCredentials("Secret %q key %q is empty", secret.Name, k)
		}
		values[k] = value
	}
	return kind, values, nil
}

// secretKeys lists the keys of secret, sorted, for messages: names only, never values.
func secretKeys(secret *corev1.Secret) string {
	keys := make([]string, 0, len(secret.Data))
	for k := range secret.Data {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
