// Package credentials turns what an ImageRepository or ImageOrganization says about its
// credentials (its spec and the data of the Secrets it names) into how requests to SWR are sent:
// the endpoint URL, the authenticator and the CA bundle. It reads nothing itself: the reconcilers
// read the Secrets and hand their data over.
package credentials

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

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

// CAKey is the key of the spec.certSecretRef Secret holding PEM certificates to trust.
const CAKey = "ca.crt"

// kind is one way of authenticating to SWR, recognized by its keys.
type kind struct {
	name     string
	required []string
	optional []string
}

var (
	tokenKind    = kind{name: "token", required: []string{TokenKey}}
	passwordKind = kind{name: "IAM password", required: []string{UsernameKey, PasswordKey, DomainNameKey},
		optional: []string{ProjectNameKey, IAMEndpointKey}}
	accessKeyKind = kind{name: "access key", required: []string{AccessKeyKey, SecretKeyKey},
		optional: []string{ProjectIDKey, SecurityTokenKey}}
	kinds = []kind{tokenKind, passwordKind, accessKeyKind}
)

// kindsHelp says what a Secret may hold, for messages.
const kindsHelp = `keep exactly one of: "token"; "username", "password" and "domainName"; "accessKey" and "secretKey"`

// Source is where one poll's credentials come from: what an ImageRepository and an
// ImageOrganization both say about them.
type Source struct {
	Namespace    string
	SecretName   string // spec.secretRef
	CASecretName string // spec.certSecretRef, "" when unset
	Region       string // spec.region, for the IAM defaults
	// RefusalBackoff is the first wait before a password IAM refused is sent again: the
	// object's poll interval.
	RefusalBackoff time.Duration
}

// Secret is the data of one Secret as read from the apiserver; Found is false when it does not
// exist.
type Secret struct {
	Found bool
	Data  map[string][]byte
}

// Secrets are the Secrets one poll uses: spec.secretRef and, when set, spec.certSecretRef.
type Secrets struct {
	Credentials Secret
	CA          Secret
}

// Digest identifies the data of both Secrets (and whether each exists), so that a Secret event
// that changed only metadata, such as an annotation another tool added, causes no poll. It is a
// SHA-256 over length-prefixed keys and values: it keeps no credential, and no two different
// contents give the same input.
func (s Secrets) Digest() [sha256.Size]byte {
	h := sha256.New()
	for _, secret := range []Secret{s.Credentials, s.CA} {
		if !secret.Found {
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

// Resolver turns Secrets into SWR authentication. Both reconcilers use one.
type Resolver struct {
	// Tokens caches IAM tokens per password credential.
	Tokens *swr.TokenCache
	// Endpoints says where credentials may be sent, the IAM endpoint included.
	Endpoints EndpointPolicy
}

// Connection is how one poll authenticates to SWR.
type Connection struct {
	Auth     swr.Authenticator
	CABundle []byte
}

// Connect returns the authenticator of the credentials Secret of src and the CA bundle of its
// certificate Secret (nil when src names none).
func (r Resolver) Connect(src Source, secrets Secrets) (Connection, error) {
	var conn Connection
	var err error
	if conn.Auth, err = r.authenticator(src, secrets.Credentials); err != nil {
		return conn, err
	}
	conn.CABundle, err = trustedCAs(src, secrets.CA)
	return conn, err
}

// trustedCAs returns the PEM certificates of spec.certSecretRef, or nil when it is not set.
func trustedCAs(src Source, secret Secret) ([]byte, error) {
	if src.CASecretName == "" {
		return nil, nil
	}
	name := src.CASecretName
	if !secret.Found {
		return nil, newError(CertificateInvalid, "Secret %q (spec.certSecretRef) not found in namespace %q", name, src.Namespace)
	}
	pem, ok := secret.Data[CAKey]
	if !ok {
		return nil, newError(CertificateInvalid, "Secret %q (spec.certSecretRef) has no key %q (keys: %s)", name, CAKey, keysOf(secret.Data))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, newError(CertificateInvalid, "Secret %q (spec.certSecretRef) key %q holds no PEM certificate", name, CAKey)
	}
	return pem, nil
}

// authenticator returns how requests to SWR are authenticated with the Secret named by
// spec.secretRef.
func (r Resolver) authenticator(src Source, secret Secret) (swr.Authenticator, error) {
	if !secret.Found {
		return nil, newError(NotFound, "Secret %q not found in namespace %q", src.SecretName, src.Namespace)
	}
	k, values, err := fromSecret(src.SecretName, secret.Data)
	if err != nil {
		return nil, err
	}
	switch k.name {
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
		creds, err := r.passwordCredentials(src.SecretName, src.Region, values)
		if err != nil {
			return nil, err
		}
		// A password IAM refused is not sent again for a poll interval, then twice as long, and
		// so on up to an hour, whichever ImageRepository asks: IAM lockout policies would
		// otherwise lock the user out for its people too.
		return r.Tokens.PasswordAuth(creds, swr.WithRefusalBackoff(src.RefusalBackoff)), nil
	}
}

// passwordCredentials completes an IAM password credential with the defaults that spec.region
// implies.
func (r Resolver) passwordCredentials(secretName, region string, values map[string]string) (swr.PasswordCredentials, error) {
	creds := swr.PasswordCredentials{
		IAMEndpoint: values[IAMEndpointKey],
		DomainName:  values[DomainNameKey],
		Username:    values[UsernameKey],
		Password:    values[PasswordKey],
		ProjectName: values[ProjectNameKey],
	}
	if creds.ProjectName == "" {
		if region == "" {
			return creds, newError(Invalid, "Secret %q has no %q, and spec.region is not set to default it from", secretName, ProjectNameKey)
		}
		creds.ProjectName = region
	}
	if creds.IAMEndpoint == "" {
		if region == "" {
			return creds, newError(Invalid, "Secret %q has no %q, and spec.region is not set to derive it from (https://iam.{region}.myhuaweicloud.com)", secretName, IAMEndpointKey)
		}
		creds.IAMEndpoint = regionEndpoint("iam", region)
	}
	endpoint, err := r.Endpoints.check("the Secret's "+IAMEndpointKey, creds.IAMEndpoint)
	if err != nil {
		return creds, err
	}
	creds.IAMEndpoint = endpoint
	return creds, nil
}

// fromSecret recognizes the one credential kind in the data of the Secret name and returns its
// values, trimmed of the trailing newline that `kubectl create secret --from-file` keeps.
func fromSecret(name string, data map[string][]byte) (kind, map[string]string, error) {
	var found []kind
	for _, k := range kinds {
		if slices.ContainsFunc(k.required, func(key string) bool { _, ok := data[key]; return ok }) {
			found = append(found, k)
		}
	}
	keys := keysOf(data)
	switch len(found) {
	case 0:
		return kind{}, nil, newError(Invalid, "Secret %q holds no SWR credentials (keys: %s); %s", name, keys, kindsHelp)
	case 1:
	default:
		return kind{}, nil, newError(Invalid, "Secret %q mixes credential kinds (keys: %s); %s", name, keys, kindsHelp)
	}
	k := found[0]
	values := map[string]string{}
	for _, key := range append(slices.Clone(k.required), k.optional...) {
		raw, present := data[key]
		value := strings.TrimRight(string(raw), "\r\n")
		switch {
		case !present && slices.Contains(k.required, key):
			return k, nil, newError(Invalid, "Secret %q has %s credentials but no key %q (keys: %s)", name, k.name, key, keys)
		case present && value == "":
			return k, nil, newError(Invalid, "Secret %q key %q is empty", name, key)
		}
		values[key] = value
	}
	return k, values, nil
}

// keysOf lists the keys of a Secret's data, sorted, for messages: names only, never values.
func keysOf(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
