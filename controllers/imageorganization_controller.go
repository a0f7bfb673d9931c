package controllers

import (
	"context"
	"fmt"
	"path"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
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
	return &ImageOrganizationReconciler{reconciler: newReconciler(o, newOrgState()), SWR: lister}
}

// Reconcile lists the organization's repositories when a discovery is due and makes the
// generated ImageRepositories match; between discoveries it puts back hand-edited ones.
func (r *ImageOrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := &swrv1.ImageOrganization{}
	if found, err := r.fetch(ctx, req.NamespacedName, cached, r.forget); !found {
		return ctrl.Result{}, err
	}
	// As for ImageRepositories: neither a cache behind this process's own last status patch nor
	// a status patch that failed causes a second discovery (see ownOutcome).
	org, base, unwritten := ownOutcome(r.state.objectState, cached)
	if unwritten {
		if err := r.patchStatus(ctx, base, org); err != nil {
			return ctrl.Result{}, err
		}
	}
	interval := org.PollInterval(r.MinInterval)
	r.state.setInterval(req.NamespacedName, interval)
	now := r.Clock.Now()
	before := org.DeepCopy()
	if org.Spec.Suspend {
		markOrganizationSuspended(org, now)
		return ctrl.Result{}, r.patchStatus(ctx, before, org)
	}

	// A discovery that is due anyway reads the Secrets itself.
	secretDue := r.state.takeSecretChanged(org) && !r.nextDiscovery(org, now).due && r.secretDataChanged(ctx, org, &org.Spec.SWRAccess)
	schedule := r.scheduleFor(org, now, secretDue)
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

	// No status write before the discovery: kstatus reads a generation in progress from
	// observedGeneration, which a new object's status defaults to -1 (see the CRD) and which
	// stays behind a new generation until its discovery's outcome is written.
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
	conn, err := r.connect(ctx, org, &org.Spec.SWRAccess)
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

// forget drops everything this process knows of a deleted ImageOrganization: its state and its
// metric series.
func (r *ImageOrganizationReconciler) forget(key types.NamespacedName) {
	r.state.forget(key)
	r.Metrics.forgetOrganization(key)
}
