package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// childChanges counts the ImageRepository writes of one pass.
type childChanges struct{ created, updated, deleted int }

func (c childChanges) any() bool { return c.created+c.updated+c.deleted > 0 }

func (c childChanges) String() string {
	return fmt.Sprintf("created %d, updated %d, deleted %d ImageRepositories", c.created, c.updated, c.deleted)
}

// syncChildren makes the ImageRepositories org owns match names: it applies each wanted one
// (creating the missing ones, putting back what was edited by hand, dropping what the template no
// longer sets) unless the last apply of the same configuration still holds (see
// orgState.appliedUnchanged), and deletes the ones no name calls for. An ImageRepository of a
// wanted name that org does not own is left alone and reported in foreign.
func (r *ImageOrganizationReconciler) syncChildren(ctx context.Context, org *swrv1.ImageOrganization, names []string) (childChanges, []string, error) {
	var changes childChanges
	list := &swrv1.ImageRepositoryList{}
	if err := r.List(ctx, list, client.InNamespace(org.Namespace),
		client.MatchingLabels{swrv1.ImageOrganizationLabel: ImageRepositoryLabelValue(org.Name)}); err != nil {
		return changes, nil, fmt.Errorf("listing ImageRepositories: %w", err)
	}
	owned := map[string]*swrv1.ImageRepository{}
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], org) {
			owned[list.Items[i].Name] = &list.Items[i]
		}
	}
	var errs []error
	var foreign []string
	wanted := make(map[string]bool, len(names))
	for _, repository := range names {
		config, digest, err := childApplyConfiguration(org, repository, r.Scheme())
		if err != nil {
			return changes, nil, err
		}
		name := config.GetName()
		wanted[name] = true
		current, found := owned[name]
		delete(owned, name)
		if !found {
			var isForeign bool
			if current, isForeign, err = r.unlistedChild(ctx, org, name); err != nil {
				errs = append(errs, err)
				continue
			} else if isForeign {
				foreign = append(foreign, name)
				continue
			}
		}
		if current != nil && r.state.appliedUnchanged(org, digest, current) {
			continue
		}
		if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(config),
			client.FieldOwner(ImageOrganizationFieldManager(org.Name)), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("applying ImageRepository %s: %w", name, err))
			continue
		}
		// config now holds the apiserver's answer.
		r.state.rememberApplied(org, digest, config)
		switch {
		case current == nil:
			changes.created++
		case current.ResourceVersion != config.GetResourceVersion():
			changes.updated++
		}
	}
	r.state.retainApplied(org, wanted)
	for _, stale := range owned {
		err := r.Delete(ctx, stale, client.Preconditions{UID: &stale.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case err == nil:
			changes.deleted++
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			errs = append(errs, fmt.Errorf("deleting ImageRepository %s: %w", stale.Name, err))
		}
	}
	return changes, foreign, summarizeWriteErrors(errors.Join(errs...))
}

// unlistedChild looks up the ImageRepository named name that the cache does not list as org's:
// it returns it when org controls it (its label was removed, or the cache lags behind), nil when
// there is none, and foreign when another holds the name. An apply would take over an
// ImageRepository of someone else's (and create one where there is none), so where the cache
// knows of none, the apiserver is asked: the cache may lag behind a create, or not hold
// ImageRepositories outside the manager's label selector. Only a create by someone else between
// this read and the apply can still be taken over.
func (r *ImageOrganizationReconciler) unlistedChild(ctx context.Context, org *swrv1.ImageOrganization, name string) (current *swrv1.ImageRepository, foreign bool, err error) {
	key := client.ObjectKey{Namespace: org.Namespace, Name: name}
	current = &swrv1.ImageRepository{}
	err = r.Get(ctx, key, current)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, current)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading ImageRepository %s: %w", name, err)
	case !metav1.IsControlledBy(current, org):
		return nil, true, nil
	}
	return current, false, nil
}

// ImageOrganizationFieldManager is the server-side apply field manager under which the
// ImageOrganization named orgName applies its generated ImageRepositories:
// "swr-sync-operator/imageorganization/<orgName>", shortened with a hash past the 128
// characters a field manager may have. One manager per ImageOrganization owns exactly what its
// template sets; an ImageRepository belongs to one ImageOrganization, in its namespace.
func ImageOrganizationFieldManager(orgName string) string {
	const prefix, maxLength = "swr-sync-operator/imageorganization/", 128
	manager := prefix + orgName
	if len(manager) <= maxLength {
		return manager
	}
	return shorten(manager, maxLength-1-hashSuffixLength)
}

// childApplyConfiguration returns the server-side apply configuration of the ImageRepository org
// keeps for the SWR repository named repository, and its digest. It holds what the
// ImageOrganization has an opinion on and nothing else: the name, the template's labels and
// annotations and the ImageOrganization label, the controller reference, the organization's
// access (organization, region, endpoint, secretRef, certSecretRef), the repository, and the
// spec fields the template sets. Fields the template leaves unset are not in it, so the
// apiserver applies the CRD's defaults, and a field the template stops setting is removed (and
// defaulted again).
func childApplyConfiguration(org *swrv1.ImageOrganization, repository string, scheme *runtime.Scheme) (*unstructured.Unstructured, [sha256.Size]byte, error) {
	tmpl := &org.Spec.Template
	spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tmpl.Spec)
	if err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("converting the template of ImageOrganization %s: %w", org.Name, err)
	}
	access, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&org.Spec.SWRAccess)
	if err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("converting the access of ImageOrganization %s: %w", org.Name, err)
	}
	maps.Copy(spec, access)
	spec["repository"] = repository
	// suspend has no default to leave to the apiserver: false is what the template says (the
	// converter omits it), and a generated ImageRepository is suspended through its
	// ImageOrganization, not by hand.
	spec["suspend"] = tmpl.Spec.Suspend

	child := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	child.SetGroupVersionKind(swrv1.GroupVersion.WithKind("ImageRepository"))
	child.SetName(ImageRepositoryName(org.Name, repository))
	child.SetNamespace(org.Namespace)
	labels := maps.Clone(tmpl.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[swrv1.ImageOrganizationLabel] = ImageRepositoryLabelValue(org.Name)
	child.SetLabels(labels)
	if len(tmpl.Metadata.Annotations) > 0 {
		child.SetAnnotations(tmpl.Metadata.Annotations)
	}
	if err := controllerutil.SetControllerReference(org, child, scheme); err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("setting the owner of ImageRepository %s: %w", child.GetName(), err)
	}
	data, err := json.Marshal(child.Object) // map keys sorted: the same configuration, the same digest
	if err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("encoding ImageRepository %s: %w", child.GetName(), err)
	}
	return child, sha256.Sum256(data), nil
}

// ImageRepositoryName names the ImageRepository an ImageOrganization named orgName keeps for the
// SWR repository: "<orgName>-<repository>" with '/' and '_' (which Kubernetes names cannot hold)
// turned into '-'. When that changed the name, a hash of the repository name follows, so that
// "a_b" and "a-b" get different names; names past 253 characters are shortened with a hash of
// the whole.
func ImageRepositoryName(orgName, repository string) string {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(repository)
	if name != repository {
		name = withHashOf(name, repository)
	}
	full := orgName + "-" + name
	if len(full) <= maxImageRepositoryNameLength {
		return full
	}
	return shorten(full, maxImageRepositoryNameLength-1-hashSuffixLength)
}

// maxImageRepositoryNameLength keeps a generated name short enough for its tasks' names
// ("<name>-<id>") to need no shortening for any int64 id.
const maxImageRepositoryNameLength = 253 - 21
