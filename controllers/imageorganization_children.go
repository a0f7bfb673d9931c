package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// syncChildren makes the ImageRepositories org owns match names: it creates the missing ones,
// puts back the generated spec, labels and annotations where they drifted, and deletes the
// ones no name calls for. An ImageRepository of a wanted name that org does not own is left
// alone and reported in foreign.
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
	for _, name := range names {
		want, err := DesiredImageRepository(org, name, r.Scheme())
		if err != nil {
			return changes, nil, err
		}
		current, found := owned[want.Name]
		delete(owned, want.Name)
		switch {
		case found && childUpToDate(current, want):
		case found:
			if err := r.updateChild(ctx, current, want); err != nil {
				errs = append(errs, err)
			} else {
				changes.updated++
			}
		default:
			err := r.Create(ctx, want.DeepCopy())
			switch {
			case err == nil:
				changes.created++
			case apierrors.IsAlreadyExists(err):
				live := &swrv1.ImageRepository{}
				if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
					errs = append(errs, fmt.Errorf("reading ImageRepository %s: %w", want.Name, err))
				} else if !metav1.IsControlledBy(live, org) {
					foreign = append(foreign, want.Name)
				} else if !childUpToDate(live, want) {
					if err := r.updateChild(ctx, live, want); err != nil {
						errs = append(errs, err)
					} else {
						changes.updated++
					}
				}
			default:
				errs = append(errs, fmt.Errorf("creating ImageRepository %s: %w", want.Name, err))
			}
		}
	}
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

// updateChild brings current to want's spec, labels and annotations with a merge patch; labels
// and annotations others added stay.
func (r *ImageOrganizationReconciler) updateChild(ctx context.Context, current, want *swrv1.ImageRepository) error {
	patched := current.DeepCopy()
	patched.Spec = want.Spec
	patched.Labels = mergedMap(patched.Labels, want.Labels)
	patched.Annotations = mergedMap(patched.Annotations, want.Annotations)
	if err := r.Patch(ctx, patched, client.MergeFrom(current)); err != nil {
		return fmt.Errorf("updating ImageRepository %s: %w", want.Name, err)
	}
	return nil
}

// childUpToDate reports whether current has want's spec and every label and annotation want sets.
func childUpToDate(current, want *swrv1.ImageRepository) bool {
	contains := func(have, need map[string]string) bool {
		for k, v := range need {
			if got, ok := have[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
	return equality.Semantic.DeepEqual(current.Spec, want.Spec) &&
		contains(current.Labels, want.Labels) && contains(current.Annotations, want.Annotations)
}

func mergedMap(into, from map[string]string) map[string]string {
	if len(from) == 0 {
		return into
	}
	if into == nil {
		into = map[string]string{}
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}

// DesiredImageRepository builds the ImageRepository org keeps for the SWR repository named
// repository: its name, labels, annotations, controller reference and spec. Every default the
// CRD schema would apply is set explicitly, so that the stored object compares equal to it.
func DesiredImageRepository(org *swrv1.ImageOrganization, repository string, scheme *runtime.Scheme) (*swrv1.ImageRepository, error) {
	tmpl := &org.Spec.Template
	labels := mergedMap(nil, tmpl.Metadata.Labels)
	labels = mergedMap(labels, map[string]string{swrv1.ImageOrganizationLabel: ImageRepositoryLabelValue(org.Name)})
	spec := swrv1.ImageRepositorySpec{
		SWRAccess:          *org.Spec.SWRAccess.DeepCopy(),
		Repository:         repository,
		Interval:           &metav1.Duration{Duration: swrv1.DefaultInterval},
		Timeout:            &metav1.Duration{Duration: swrv1.DefaultTimeout},
		Suspend:            tmpl.Spec.Suspend,
		SyncJobs:           swrv1.SyncJobsSpec{Mode: swrv1.SyncJobsObserve, Limit: swrv1.DefaultSyncJobsLimit},
		UnexpectedPolicies: swrv1.UnexpectedPoliciesIgnore,
	}
	if tmpl.Spec.Interval != nil {
		spec.Interval = tmpl.Spec.Interval.DeepCopy()
	}
	if tmpl.Spec.Timeout != nil {
		spec.Timeout = tmpl.Spec.Timeout.DeepCopy()
	}
	if jobs := tmpl.Spec.SyncJobs; jobs != nil {
		if jobs.Mode != "" {
			spec.SyncJobs.Mode = jobs.Mode
		}
		if jobs.Limit > 0 {
			spec.SyncJobs.Limit = jobs.Limit
		}
	}
	if tmpl.Spec.UnexpectedPolicies != "" {
		spec.UnexpectedPolicies = tmpl.Spec.UnexpectedPolicies
	}
	for _, p := range tmpl.Spec.ExpectedPolicies {
		spec.ExpectedPolicies = append(spec.ExpectedPolicies, *p.DeepCopy())
	}
	repo := &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ImageRepositoryName(org.Name, repository),
			Namespace:   org.Namespace,
			Labels:      labels,
			Annotations: mergedMap(nil, tmpl.Metadata.Annotations),
		},
		Spec: spec,
	}
	if err := controllerutil.SetControllerReference(org, repo, scheme); err != nil {
		return nil, fmt.Errorf("setting the owner of ImageRepository %s: %w", repo.Name, err)
	}
	return repo, nil
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
