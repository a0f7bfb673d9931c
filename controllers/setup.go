package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
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

// SetupWithManager registers the reconciler and its watches: ImageRepositories (a new generation
// or a new requested-at annotation, not status writes), the SyncRepoTasks they own (so a task
// deleted or edited by hand is put back), and the metadata of Secrets they reference (so fixing
// or rotating credentials triggers a poll; the informer holds no Secret's data, and its
// resourceVersions tell when a Secret read before must be read again, see secretCache).
func (r *ImageRepositoryReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrency int) error {
	if err := indexSecretRefs(ctx, mgr, &swrv1.ImageRepository{}, func(repo *swrv1.ImageRepository) (swrv1.SecretReference, *swrv1.SecretReference) {
		return repo.Spec.SecretRef, repo.Spec.CertSecretRef
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &swrv1.SyncRepoTask{}, TaskOwnerIndex, TaskOwnerUIDs); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&swrv1.ImageRepository{}, builder.WithPredicates(imageRepositoryChanged())).
		Owns(&swrv1.SyncRepoTask{}, builder.WithPredicates(r.changedByOthers())).
		Watches(&corev1.Secret{}, secretEvents(r.enqueueForSecret), builder.OnlyMetadata).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: concurrency,
			RateLimiter:             r.state.backoff,
		}).
		Complete(r)
}

// SetupWithManager registers the reconciler: ImageOrganizations (a new generation or a new
// requested-at annotation), the ImageRepositories they own (so a hand edit or delete is put
// back), and, as for ImageRepositories, the metadata of Secrets they reference: a fixed or
// rotated Secret takes effect at once, without caching any Secret's data.
func (r *ImageOrganizationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrency int) error {
	if err := indexSecretRefs(ctx, mgr, &swrv1.ImageOrganization{}, func(org *swrv1.ImageOrganization) (swrv1.SecretReference, *swrv1.SecretReference) {
		return org.Spec.SecretRef, org.Spec.CertSecretRef
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&swrv1.ImageOrganization{}, builder.WithPredicates(imageRepositoryChanged())).
		Owns(&swrv1.ImageRepository{}, builder.WithPredicates(childChangedByOthers())).
		Watches(&corev1.Secret{}, secretEvents(r.enqueueForSecret), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency, RateLimiter: r.state.backoff}).
		Complete(r)
}

// indexSecretRefs indexes the objects of obj's kind by the names of the Secrets they reference
// (secretRefIndex); refs returns an object's spec.secretRef and spec.certSecretRef.
func indexSecretRefs[T client.Object](ctx context.Context, mgr ctrl.Manager, obj T, refs func(T) (swrv1.SecretReference, *swrv1.SecretReference)) error {
	return mgr.GetFieldIndexer().IndexField(ctx, obj, secretRefIndex, func(o client.Object) []string {
		return secretRefNames(refs(o.(T)))
	})
}

// imageRepositoryChanged passes the ImageRepository (and ImageOrganization) events that can make
// a poll due: a new generation (a spec change) or a new swr.imagesync.io/requested-at
// annotation. Status writes, label and other annotation changes pass no event.
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

// changedByOthers passes the task events that the operator may have to undo: deletes, and
// updates that leave a task other than what its ImageRepository's last poll wants. A task being
// created is the operator's own doing (or the informer's first list, which the ImageRepositories'
// own events cover), and the update of the operator's own write shows what is wanted: reconciling
// for those would only cost work.
func (r *ImageRepositoryReconciler) changedByOthers() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			task, ok := e.ObjectNew.(*swrv1.SyncRepoTask)
			return !ok || r.state.taskNeedsMirror(task)
		},
	}
}

// childChangedByOthers passes the events of generated ImageRepositories that the
// ImageOrganization reconciler may have to undo: deletes, and changes of the spec, labels or
// annotations. Creates are this reconciler's own, or the informer's first list that the
// organizations' own events cover; status writes of the ImageRepository reconciler change no
// generation.
func childChangedByOthers() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				!equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
				!equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
		},
	}
}

// secretEnqueuer marks and queues the objects that reference a Secret.
type secretEnqueuer func(ctx context.Context, secret client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request])

// secretEvents handles the events of Secret metadata: each one that may be a change of a
// Secret's data goes to enqueue.
func secretEvents(enqueue secretEnqueuer) handler.Funcs {
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			// The informer's first list (also replayed to a controller that starts later, e.g.
			// after winning leader election) reports every existing Secret as created; only a
			// Secret created since is news. Without this, a restart would poll everything once.
			if !e.IsInInitialList {
				enqueue(ctx, e.Object, q)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			// The same resourceVersion is a periodic resync, not a change. Metadata-only changes
			// get through; the reconcile polls only if the data changed.
			if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() {
				enqueue(ctx, e.ObjectNew, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
	}
}

// enqueueForSecret marks every ImageRepository that references secret as having a changed Secret
// and queues it.
func (r *ImageRepositoryReconciler) enqueueForSecret(ctx context.Context, secret client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueueReferencing(ctx, r.Client, &swrv1.ImageRepositoryList{}, secret, r.state.markSecretChanged, q)
}

// enqueueForSecret marks every ImageOrganization that references secret and queues it.
func (r *ImageOrganizationReconciler) enqueueForSecret(ctx context.Context, secret client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueueReferencing(ctx, r.Client, &swrv1.ImageOrganizationList{}, secret, r.state.markSecretChanged, q)
}

// enqueueReferencing lists into list the objects that reference secret (by secretRefIndex),
// marks each and queues it.
func enqueueReferencing(ctx context.Context, c client.Reader, list client.ObjectList, secret client.Object,
	mark func(types.NamespacedName), q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if err := c.List(ctx, list, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{secretRefIndex: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the objects that reference a Secret", "secret", secret.GetName())
		return
	}
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		key := client.ObjectKeyFromObject(o.(client.Object))
		mark(key)
		q.Add(reconcile.Request{NamespacedName: key})
		return nil
	})
}
