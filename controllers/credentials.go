package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// TokenKey is the Secret key holding an IAM user token, sent to SWR as X-Auth-Token.
const TokenKey = "token"

// credentialsError is a missing or unusable Secret that a person must fix. Its message names the
// Secret and its keys, never their values.
type credentialsError struct{ msg string }

func (e *credentialsError) Error() string { return e.msg }

// authenticatorFor reads the Secret named by spec.secretRef and returns how requests to SWR are
// authenticated. The Secret is read live, not from a cache, so that the manager neither caches
// nor watches the data of Secrets it does not use.
func (r *ImageRepositoryReconciler) authenticatorFor(ctx context.Context, repo *swrv1.ImageRepository) (swr.Authenticator, error) {
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: repo.Namespace, Name: repo.Spec.SecretRef.Name}
	if err := r.APIReader.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &credentialsError{msg: fmt.Sprintf("Secret %q not found in namespace %q", key.Name, key.Namespace)}
		}
		return nil, fmt.Errorf("reading Secret %q: %w", key.Name, err)
	}
	return authenticatorFromSecret(secret)
}

// authenticatorFromSecret picks the credential kind from the Secret's keys. Other kinds (IAM
// password, AK/SK signing) plug in here.
func authenticatorFromSecret(secret *corev1.Secret) (swr.Authenticator, error) {
	token, ok := secret.Data[TokenKey]
	switch {
	case !ok:
		return nil, &credentialsError{msg: fmt.Sprintf("Secret %q has no key %q", secret.Name, TokenKey)}
	case len(token) == 0:
		return nil, &credentialsError{msg: fmt.Sprintf("Secret %q key %q is empty", secret.Name, TokenKey)}
	}
	return swr.NewTokenAuth(string(token)), nil
}
