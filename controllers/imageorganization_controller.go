package controllers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// RepositoryLister lists an SWR organization's repositories; *swr.Client implements it.
type RepositoryLister interface {
	ListRepositories(ctx context.Context, target swr.OrganizationTarget, auth swr.Authenticator, pageSize int) (swr.RepositoryListing, error)
}

// ImageOrganizationReconciler discovers the repositories of each ImageOrganization's SWR
// organization and keeps one ImageRepository per repository. It shares the SWR client (and so
// the per-endpoint rate limit) and the token cache with the ImageRepository reconciler. Make one
// with NewImageOrganizationReconciler.
type ImageOrganizationReconciler struct {
	reconciler[orgState]
	SWR RepositoryLister
}

// NewImageOrganizationReconciler returns a reconciler that asks lister and is configured by o.
func NewImageOrganizationReconciler(o Options, lister RepositoryLister) *ImageOrganizationReconciler {
	return &ImageOrganizationReconciler{reconciler: reconciler[orgState]{Options: o.withDefaults(), state: newOrgState()}, SWR: lister}
}

// orgState is what the ImageOrganization reconciler knows of each ImageOrganization beyond its
// status (see objectState): besides what both reconcilers keep, the repository names its last
// complete listing of this generation selected, so that a generated ImageRepository edited or
// deleted by hand is put back without asking SWR.
type orgState struct {
	*objectState[struct{}, discoveredNames]
}

func newOrgState() orgState {
	return orgState{newObjectState[struct{}, discoveredNames]()}
}

// discoveredNames are the names one generation's last complete listing selected; ok is false
// until there is one.
type discoveredNames struct {
	names []string
	ok    bool
}

// remember keeps the names a complete listing of org's generation calls for.
func (s orgState) remember(org *swrv1.ImageOrganization, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(org).ofGeneration = discoveredNames{names: names, ok: true}
}

// remembered returns the names of org's last complete listing of this generation.
func (s orgState) remembered(org *swrv1.ImageOrganization) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.recordLocked(org).ofGeneration
	return d.names, d.ok
}

// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations/status,verbs=get;patch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations/finalizers,verbs=update
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imagerepositories,verbs=create;patch;delete

// Reconcile lists the organization's repositories when a discovery is due and makes the
// generated ImageRepositories match; between discoveries it puts back hand-edited ones.
func (r *ImageOrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	org := &swrv1.ImageOrganization{}
	if err := r.Get(ctx, req.NamespacedName, org); err != nil {
		if apierrors.IsNotFound(err) {
			// The generated ImageRepositories go with it through their ownerReferences.
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !org.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	interval := org.PollInterval(r.MinInterval)
	r.state.setInterval(req.NamespacedName, interval)
	now := r.Clock.Now()
	before := org.DeepCopy()
	if org.Spec.Suspend {
		org.Status.ObservedGeneration = org.Generation
		msg := fmt.Sprintf("discovery is suspended (spec.suspend); %d ImageRepositories kept", org.Status.RepositoryCount)
		setConditionOf(&org.Status.Conditions, org.Generation, swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, msg, now)
		meta.RemoveStatusCondition(&org.Status.Conditions, swrv1.ConditionReconciling)
		meta.RemoveStatusCondition(&org.Status.Conditions, swrv1.ConditionStalled)
		return ctrl.Result{}, r.patchStatus(ctx, before, org)
	}

	secretDue := false
	if r.state.takeSecretChanged(org) && !r.nextDiscovery(org, now).due {
		// Only a change of the data matters; a Secret that cannot be read is left to the
		// discovery to report.
		secrets, err := r.secretReader().read(ctx, r.credentialSource(org))
		secretDue = err != nil || r.state.secretDigestChanged(org, secrets.Digest())
	}
	schedule := r.scheduleFor(org, now, secretDue)
	if schedule.due {
		// As for ImageRepositories: a stale cache must never cause a second discovery.
		if err := r.APIReader.Get(ctx, req.NamespacedName, org); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		before = org.DeepCopy()
		schedule = r.scheduleFor(org, now, secretDue)
	}
	if !schedule.due {
		if names, ok := r.state.remembered(org); ok {
			changes, _, err := r.syncChildren(ctx, org, names)
			if changes.any() {
				log.FromContext(ctx).Info("restored ImageRepositories changed outside the operator", "changes", changes.String())
			}
			if err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{RequeueAfter: schedule.wait}, nil
	}

	if org.Status.ObservedGeneration != org.Generation && !isRetrying(org.Status.Conditions) {
		// kstatus readers see a generation in progress while its first discovery runs.
		msg := fmt.Sprintf("discovering the repositories of SWR organization %s for generation %d", org.Spec.Organization, org.Generation)
		setConditionOf(&org.Status.Conditions, org.Generation, swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonProgressing, msg, now)
		if meta.FindStatusCondition(org.Status.Conditions, swrv1.ConditionReady) == nil {
			setConditionOf(&org.Status.Conditions, org.Generation, swrv1.ConditionReady, metav1.ConditionUnknown, swrv1.ReasonProgressing, msg, now)
		}
		if err := r.patchStatus(ctx, before, org); err != nil {
			return ctrl.Result{}, err
		}
		before = org.DeepCopy()
	}
	log.FromContext(ctx).V(1).Info("discovering SWR repositories", "why", schedule.why)
	started := r.Clock.Now()
	out := r.discover(ctx, org)
	r.Metrics.observeDiscovery(out.pollOutcome, r.Clock.Since(started))
	applyDiscovery(org, out, now)
	r.recordDiscoveryEvents(before, org, out)
	if err := r.patchStatus(ctx, before, org); err != nil {
		return ctrl.Result{}, err
	}
	if out.err == nil {
		r.Metrics.recordDiscovered(org)
	}
	if out.err != nil && !out.stalled {
		if out.retryAfter > 0 {
			r.state.setRetryAfter(req.NamespacedName, out.retryAfter)
		}
		return ctrl.Result{}, fmt.Errorf("%s: %w", out.reason, out.err)
	}
	next := r.nextDiscovery(org, r.Clock.Now())
	return ctrl.Result{RequeueAfter: max(next.wait, time.Second)}, nil
}

// scheduleFor is nextDiscovery, or due because a Secret org references changed its data.
func (r *ImageOrganizationReconciler) scheduleFor(org *swrv1.ImageOrganization, now time.Time, secretDue bool) pollSchedule {
	if schedule := r.nextDiscovery(org, now); schedule.due || !secretDue {
		return schedule
	}
	return pollSchedule{due: true, why: "credentials Secret changed"}
}

// nextDiscovery says from org's status whether a discovery is due, as nextPoll does for an
// ImageRepository.
func (r *ImageOrganizationReconciler) nextDiscovery(org *swrv1.ImageOrganization, now time.Time) pollSchedule {
	return pollState{
		generation: org.Generation, observedGeneration: org.Status.ObservedGeneration,
		requestedAt: org.GetRequestedAt(), handledRequest: org.Status.LastHandledReconcileAt,
		lastPoll: org.Status.LastPollTime, retrying: isRetrying(org.Status.Conditions),
		interval: org.PollInterval(r.MinInterval),
		phase:    r.state.slots.phase(client.ObjectKeyFromObject(org), org.UID, org.PollInterval(r.MinInterval)),
	}.schedule(now)
}

// discoveryOutcome is a discovery's result: a poll outcome (tasks counts the ImageRepositories
// the listing calls for) plus what happened to the generated ImageRepositories.
type discoveryOutcome struct {
	pollOutcome
	children childChanges
	// foreign lists wanted names held by ImageRepositories this ImageOrganization does not own.
	foreign []string
}

// discover lists the organization's repositories and, only when the listing is complete, makes
// the generated ImageRepositories match it.
func (r *ImageOrganizationReconciler) discover(ctx context.Context, org *swrv1.ImageOrganization) discoveryOutcome {
	fail := func(err error) discoveryOutcome { return discoveryOutcome{pollOutcome: failure(err)} }
	include, exclude, err := checkPatterns(&org.Spec)
	if err != nil {
		return fail(err)
	}
	conn, digest, err := r.secretReader().connect(ctx, org.Spec.Endpoint, org.Spec.Region, r.credentialSource(org))
	if digest != ([sha256.Size]byte{}) {
		r.state.rememberSecretDigest(org, digest)
	}
	if err != nil {
		return fail(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, org.RequestTimeout())
	defer cancel()
	listing, err := r.SWR.ListRepositories(callCtx, swr.OrganizationTarget{Endpoint: conn.endpoint, Organization: org.Spec.Organization,
		CABundle: conn.CABundle}, conn.Auth, 0)
	if err != nil {
		return fail(err)
	}
	if !listing.Complete {
		// Deleting what an incomplete listing lacks would delete repositories that exist.
		return fail(&swr.Error{Class: swr.ClassBadBody, Message: fmt.Sprintf(
			"the repository listing did not end after %d pages; nothing was changed", listing.Pages)})
	}
	var names []string
	for _, repo := range listing.Repositories {
		if selected(repo.Name, include, exclude) {
			names = append(names, repo.Name)
		}
	}
	slices.Sort(names)
	r.state.remember(org, names)
	changes, foreign, err := r.syncChildren(ctx, org, names)
	out := discoveryOutcome{pollOutcome: pollOutcome{tasks: len(names)}, children: changes, foreign: foreign}
	if err != nil {
		out.pollOutcome = failure(err)
		out.reason = swrv1.ReasonMirrorFailed
		out.children = changes
	}
	return out
}

// checkPatterns refuses include and exclude patterns path.Match cannot use.
func checkPatterns(spec *swrv1.ImageOrganizationSpec) (include, exclude []string, err error) {
	for field, patterns := range map[string][]string{"include": spec.Include, "exclude": spec.Exclude} {
		for i, p := range patterns {
			if _, err := path.Match(p, ""); err != nil {
				return nil, nil, &swr.Error{Class: swr.ClassBadRequest,
					Message: fmt.Sprintf("spec.%s[%d] %q is not a valid pattern (Go's path.Match syntax, e.g. \"library/*\")", field, i, p)}
			}
		}
	}
	return spec.Include, spec.Exclude, nil
}

// selected reports whether a repository name matches include (or include is empty) and no
// exclude pattern: exclude wins.
func selected(name string, include, exclude []string) bool {
	matches := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool { ok, _ := path.Match(p, name); return ok })
	}
	return (len(include) == 0 || matches(include)) && !matches(exclude)
}

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
		Organization:       org.Spec.Organization,
		Repository:         repository,
		Region:             org.Spec.Region,
		Endpoint:           org.Spec.Endpoint,
		SecretRef:          org.Spec.SecretRef,
		CertSecretRef:      org.Spec.CertSecretRef.DeepCopy(),
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

// credentialSource says where org's credentials come from.
func (r *ImageOrganizationReconciler) credentialSource(org *swrv1.ImageOrganization) credentials.Source {
	return credentialSource(org.Namespace, org.Spec.SecretRef, org.Spec.CertSecretRef, org.Spec.Region, org.PollInterval(r.MinInterval))
}

// forget drops everything this process knows of a deleted ImageOrganization: its state and its
// metric series.
func (r *ImageOrganizationReconciler) forget(key types.NamespacedName) {
	r.state.forget(key)
	r.Metrics.forgetOrganization(key)
}

// patchStatus writes the status difference between before and org, and nothing when there is
// none.
func (r *ImageOrganizationReconciler) patchStatus(ctx context.Context, before, org *swrv1.ImageOrganization) error {
	if equality.Semantic.DeepEqual(before.Status, org.Status) {
		return nil
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, org, client.MergeFrom(before)))
}

// applyDiscovery writes a discovery's outcome into org's status.
func applyDiscovery(org *swrv1.ImageOrganization, out discoveryOutcome, now time.Time) {
	status := &org.Status
	polledAt := metav1.NewTime(now.Truncate(time.Second))
	status.LastPollTime = &polledAt
	status.LastHandledReconcileAt = org.GetRequestedAt()
	set := func(condType string, s metav1.ConditionStatus, reason, message string) {
		setConditionOf(&status.Conditions, org.Generation, condType, s, reason, message, now)
	}
	switch {
	case out.err == nil:
		status.ObservedGeneration = org.Generation
		status.RepositoryCount = int32(out.tasks)
		message := fmt.Sprintf("%d repositories", out.tasks)
		if out.tasks == 1 {
			message = "1 repository"
		}
		if len(out.foreign) > 0 {
			message += fmt.Sprintf("; not managed, their names are taken by ImageRepositories this ImageOrganization does not own: %s",
				strings.Join(out.foreign, ", "))
		}
		set(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, message)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
	case out.stalled:
		status.ObservedGeneration = org.Generation
		set(swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error())
		set(swrv1.ConditionStalled, metav1.ConditionTrue, out.reason, out.err.Error())
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionReconciling)
	default:
		set(swrv1.ConditionReady, metav1.ConditionFalse, out.reason, out.err.Error())
		set(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after "+out.reason)
		meta.RemoveStatusCondition(&status.Conditions, swrv1.ConditionStalled)
	}
}

// recordDiscoveryEvents emits an event when ImageRepositories were written, when the Ready
// condition changes, and a Warning when the names taken by foreign ImageRepositories change.
func (r *ImageOrganizationReconciler) recordDiscoveryEvents(before, after *swrv1.ImageOrganization, out discoveryOutcome) {
	if out.children.any() {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, "RepositoriesDiscovered", "Discover", "%s", out.children.String())
	}
	was := meta.FindStatusCondition(before.Status.Conditions, swrv1.ConditionReady)
	is := meta.FindStatusCondition(after.Status.Conditions, swrv1.ConditionReady)
	if is == nil || (was != nil && was.Status == is.Status && was.Reason == is.Reason && was.Message == is.Message) {
		return
	}
	switch {
	case len(out.foreign) > 0:
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, "NameTaken", "Discover",
			"ImageRepositories this ImageOrganization does not own hold wanted names, left alone: %s", strings.Join(out.foreign, ", "))
	case was != nil && was.Status == is.Status && was.Reason == is.Reason:
		// Only the count changed: the RepositoriesDiscovered event said so.
	case is.Status == metav1.ConditionTrue:
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, is.Reason, "Discover", "%s", is.Message)
	default:
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, is.Reason, "Discover", "%s", is.Message)
	}
}
