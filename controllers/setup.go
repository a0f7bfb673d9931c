package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
)

// secretRefIndex indexes ImageRepositories by the names of the Secrets they reference
// (spec.secretRef and spec.certSecretRef).
const secretRefIndex = ".spec.secretRef.name"

// SetupWithManager registers the reconciler and its watches: ImageRepositories (a new generation
// or a new requested-at annotation, not status writes), the SyncRepoTasks they own (so a task
// deleted or edited by hand is put back), and the metadata of Secrets they reference (so fixing
// or rotating credentials triggers a poll; the informer holds no Secret's data, and its
// resourceVersions tell when a Secret read before must be read again, see secretCache).
func (r *ImageRepositoryReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrency int) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
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
		For(&swrv1.ImageRepository{}, builder.WithPredicates(imageRepositoryChanged())).
		Owns(&swrv1.SyncRepoTask{}, builder.WithPredicates(r.changedByOthers())).
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

// imageRepositoryChanged passes the ImageRepository events that can make a poll due: a new
// generation (a spec change) or a new swr.imagesync.io/requested-at annotation. Status writes,
// label and other annotation changes pass no event.
func imageRepositoryChanged() predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{}, requestedAtChanged())
}

// requestedAtChanged passes updates that change the swr.imagesync.io/requested-at annotation.
func requestedAtChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[swrv1.RequestedAtAnnotation] !=
			e.ObjectNew.GetAnnotations()[swrv1.RequestedAtAnnotation]
	}}
}

// changedByOthers passes the task events that the operator must undo: deletes and edits by
// someone else. A task being created is the operator's own doing (or the informer's first list,
// which the ImageRepositories' own events cover), and so is an update that shows the operator's
// own last write: reconciling for those would only cost work.
func (r *ImageRepositoryReconciler) changedByOthers() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool { return !r.memory.isOwnWrite(e.ObjectNew) },
		DeleteFunc: func(e event.DeleteEvent) bool { return !r.memory.isOwnDelete(e.Object) },
	}
}

func (r *ImageRepositoryReconciler) onSecretCreate(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	// The informer's first list (also replayed to a controller that starts later, e.g. after
	// winning leader election) reports every existing Secret as created; only a Secret created
	// since is news. Without this, a restart would poll everything once.
	if e.IsInInitialList {
		return
	}
	r.enqueueForSecret(ctx, e.Object, q)
}

func (r *ImageRepositoryReconciler) onSecretUpdate(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion() {
		return // a periodic resync, not a change
	}
	// Metadata-only changes get here too; the reconcile polls only if the data changed.
	r.enqueueForSecret(ctx, e.ObjectNew, q)
}

func (r *ImageRepositoryReconciler) onSecretDelete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	r.enqueueForSecret(ctx, e.Object, q)
}

// enqueueForSecret marks every ImageRepository that references secret as having a changed Secret
// and queues it.
func (r *ImageRepositoryReconciler) enqueueForSecret(ctx context.Context, secret client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	repos := &swrv1.ImageRepositoryList{}
	if err := r.List(ctx, repos, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{secretRefIndex: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ImageRepositories that reference a Secret", "secret", secret.GetName())
		return
	}
	for i := range repos.Items {
		key := client.ObjectKeyFromObject(&repos.Items[i])
		r.memory.markSecretChanged(key)
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

func readyOf(repo *swrv1.ImageRepository) *metav1.Condition {
	return meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
}
