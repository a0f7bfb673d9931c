package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// secretRefIndex indexes ImageRepositories by the names of the Secrets they reference
// (spec.secretRef and spec.certSecretRef).
const secretRefIndex = ".spec.secretRef.name"

// SetupWithManager registers the reconciler and its watches: ImageRepositories (a new generation
// or a new requested-at annotation, not status writes), the SyncRepoTasks they own (so a task
// deleted or edited by hand is put back), and the metadata of Secrets they reference (so fixing
// or rotating credentials triggers a poll without caching any Secret's data).
func (r *ImageRepositoryReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrency int) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.secretTriggers.startedAt = r.Clock.Now()
	r.backoff = newPollBackoff()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &swrv1.ImageRepository{}, secretRefIndex, func(o client.Object) []string {
		spec := &o.(*swrv1.ImageRepository).Spec
		if spec.CertSecretRef != nil && spec.CertSecretRef.Name != spec.SecretRef.Name {
			return []string{spec.SecretRef.Name, spec.CertSecretRef.Name}
		}
		return []string{spec.SecretRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &swrv1.SyncRepoTask{}, TaskOwnerIndex, TaskOwnerUIDs); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&swrv1.ImageRepository{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, requestedAtChanged()))).
		// A task being created is the operator's own doing (or the informer's first list, which
		// the ImageRepositories' own events cover); deletes and edits are what must be undone.
		Owns(&swrv1.SyncRepoTask{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
		})).
		Watches(&corev1.Secret{}, handler.Funcs{
			CreateFunc: r.onSecretCreate,
			UpdateFunc: r.onSecretUpdate,
			DeleteFunc: r.onSecretDelete,
		}, builder.OnlyMetadata).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: concurrency,
			RateLimiter:             r.backoff,
		}).
		Complete(r)
}

// requestedAtChanged passes updates that change the swr.imagesync.io/requested-at annotation.
func requestedAtChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[swrv1.RequestedAtAnnotation] !=
			e.ObjectNew.GetAnnotations()[swrv1.RequestedAtAnnotation]
	}}
}

func (r *ImageRepositoryReconciler) onSecretCreate(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	// The informer's first list reports every existing Secret as created; only a Secret created
	// after the manager started is news. Without this, a restart would poll everything once.
	// creationTimestamp has whole seconds, so a Secret created in the manager's first second
	// counts as old: it then takes effect at the next poll rather than at once.
	if !e.Object.GetCreationTimestamp().Time.After(r.secretTriggers.startedAt) {
		return
	}
	r.enqueueForSecret(ctx, e.Object, q)
}

func (r *ImageRepositoryReconciler) onSecretUpdate(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion() {
		return // a periodic resync, not a change
	}
	r.enqueueForSecret(ctx, e.ObjectNew, q)
}

func (r *ImageRepositoryReconciler) onSecretDelete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	r.enqueueForSecret(ctx, e.Object, q)
}

// enqueueForSecret marks every ImageRepository that references secret for a poll and queues it.
func (r *ImageRepositoryReconciler) enqueueForSecret(ctx context.Context, secret client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	repos := &swrv1.ImageRepositoryList{}
	if err := r.List(ctx, repos, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{secretRefIndex: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ImageRepositories that reference a Secret", "secret", secret.GetName())
		return
	}
	for i := range repos.Items {
		key := client.ObjectKeyFromObject(&repos.Items[i])
		r.secretTriggers.add(key)
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// secretTriggers remembers ImageRepositories whose Secret changed since their last poll.
type secretTriggers struct {
	mu        sync.Mutex
	pending   map[types.NamespacedName]struct{}
	startedAt time.Time
}

func (s *secretTriggers) add(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[types.NamespacedName]struct{}{}
	}
	s.pending[key] = struct{}{}
}

// take reports whether key was marked, and clears the mark.
func (s *secretTriggers) take(key types.NamespacedName) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pending[key]
	delete(s.pending, key)
	return ok
}

// listingMemory keeps the last successful listing of each ImageRepository in this process, so
// that tasks changed by hand between polls can be put back without asking SWR again.
type listingMemory struct {
	mu       sync.Mutex
	listings map[types.NamespacedName]rememberedListing
}

type rememberedListing struct {
	uid        types.UID
	generation int64
	policies   []swr.SyncRepo
}

func (m *listingMemory) remember(repo *swrv1.ImageRepository, policies []swr.SyncRepo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listings == nil {
		m.listings = map[types.NamespacedName]rememberedListing{}
	}
	m.listings[client.ObjectKeyFromObject(repo)] = rememberedListing{uid: repo.UID, generation: repo.Generation, policies: policies}
}

// recall returns the listing remembered for this very object and generation, if any.
func (m *listingMemory) recall(repo *swrv1.ImageRepository) ([]swr.SyncRepo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.listings[client.ObjectKeyFromObject(repo)]
	if !ok || l.uid != repo.UID || l.generation != repo.Generation || !readyForGeneration(repo) {
		return nil, false
	}
	return l.policies, true
}

func (m *listingMemory) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.listings, key)
}

// readyForGeneration reports whether the last poll of repo's current generation succeeded.
func readyForGeneration(repo *swrv1.ImageRepository) bool {
	return meta.IsStatusConditionTrue(repo.Status.Conditions, swrv1.ConditionReady) &&
		repo.Status.ObservedGeneration == repo.Generation
}

func readyOf(repo *swrv1.ImageRepository) *metav1.Condition {
	return meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
}
