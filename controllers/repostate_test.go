package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// staleCacheFixture is a reconciler whose reads of tasks come from a snapshot taken before its
// own writes, as an informer that has not delivered them yet shows, and which counts its writes.
type staleCacheFixture struct {
	rec      *ImageRepositoryReconciler
	repo     *swrv1.ImageRepository
	snapshot *metav1.PartialObjectMetadataList // what the cache shows; nil shows the apiserver's truth
	writes   int
	// liveLists counts the reads of whole tasks, which only a task this process does not know
	// needs.
	liveLists int
	clock     *clocktesting.FakeClock
}

func newStaleCacheFixture(t *testing.T) *staleCacheFixture {
	t.Helper()
	scheme, err := controlplane.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	f := &staleCacheFixture{repo: &swrv1.ImageRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: swrv1.GroupVersion.String(), Kind: "ImageRepository"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team", UID: "uid-app", Generation: 1},
	}}
	counted := func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		f.writes++
		return c.Create(ctx, obj, opts...)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, TaskOwnerIndex, TaskOwnerUIDs).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: counted,
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				f.writes++
				return c.Patch(ctx, obj, patch, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				f.writes++
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				f.writes++
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				f.writes++
				return c.Delete(ctx, obj, opts...)
			},
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				// The cache holds the tasks' metadata; live reads list whole tasks.
				if tasks, ok := list.(*metav1.PartialObjectMetadataList); ok && f.snapshot != nil {
					f.snapshot.DeepCopyInto(tasks)
					return nil
				}
				if _, ok := list.(*swrv1.SyncRepoTaskList); ok {
					f.liveLists++
				}
				return c.List(ctx, list, opts...)
			},
		}).
		Build()
	f.clock = clocktesting.NewFakeClock(time.Now())
	f.rec = NewImageRepositoryReconciler(Options{Client: c, APIReader: c, Clock: f.clock}, nil)
	return f
}

// freeze makes the cache show the tasks as they are now, until thaw.
func (f *staleCacheFixture) freeze(t *testing.T) {
	t.Helper()
	f.snapshot = nil
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(swrv1.GroupVersion.WithKind("SyncRepoTaskList"))
	if err := f.rec.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	f.snapshot = list
}

func (f *staleCacheFixture) thaw() { f.snapshot = nil }

func (f *staleCacheFixture) mirror(t *testing.T, policies ...swr.SyncRepo) mirrorChanges {
	t.Helper()
	result, err := f.rec.mirror(context.Background(), f.repo, listing{policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	return result.changes
}

func TestMirrorDoesNotRewriteWhatTheCacheHasNotShownYet(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	two := swr.SyncRepo{ID: 2, RemoteRegionID: "cn-east-3"}

	f.freeze(t) // the cache is empty and stays so while the tasks are created
	if changes := f.mirror(t, one, two); changes.created != 2 || f.writes != 4 {
		t.Fatalf("first mirror: %s in %d writes, want 2 created in 4 (create, status each)", changes, f.writes)
	}
	f.writes = 0
	if changes := f.mirror(t, one, two); changes.any() || f.writes != 0 {
		t.Fatalf("a cache without the operator's own creates caused %s in %d writes", changes, f.writes)
	}

	f.thaw()
	f.freeze(t) // the cache shows the tasks; now a status change is written and not shown
	changed := two
	changed.Override = true
	if changes := f.mirror(t, one, changed); changes.updated != 1 || f.writes != 1 {
		t.Fatalf("changed policy: %s in %d writes, want 1 updated in 1", changes, f.writes)
	}
	f.writes = 0
	if changes := f.mirror(t, one, changed); changes.any() || f.writes != 0 {
		t.Fatalf("a cache without the operator's own status write caused %s in %d writes", changes, f.writes)
	}

	f.thaw()
	f.freeze(t) // a delete the cache has not shown
	if changes := f.mirror(t, one); changes.deleted != 1 {
		t.Fatalf("removed policy: %s", changes)
	}
	f.writes = 0
	if changes := f.mirror(t, one); changes.any() || f.writes != 0 {
		t.Fatalf("a cache still showing the deleted task caused %s in %d writes", changes, f.writes)
	}

	f.thaw() // caught up: the content stays known, and an edit by someone else is read and put back
	if changes := f.mirror(t, one); changes.any() || f.liveLists != 0 {
		t.Fatalf("an up-to-date cache caused %s and %d reads of whole tasks, want none: the operator knows what it wrote", changes, f.liveLists)
	}
	tampered := &swrv1.SyncRepoTask{}
	key := types.NamespacedName{Namespace: "team", Name: TaskName("app", 1)}
	if err := f.rec.Get(context.Background(), key, tampered); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(tampered.DeepCopy())
	tampered.Status.RemoteRegionID = "tampered"
	if err := f.rec.Status().Patch(context.Background(), tampered, patch); err != nil {
		t.Fatal(err)
	}
	if changes := f.mirror(t, one); changes.updated != 1 || f.liveLists != 1 {
		t.Fatalf("an edit by someone else: %s after %d reads of whole tasks, want 1 updated after 1 read", changes, f.liveLists)
	}
	if changes := f.mirror(t, one); changes.any() || f.liveLists != 1 {
		t.Fatalf("after putting the edit back: %s and %d reads of whole tasks, want none more", changes, f.liveLists)
	}
}

// TestTasksUnknownAfterARestartAreReadOnce: a reconciler that has written nothing (a new process)
// reads the tasks the cache shows once, in one list, and then knows them.
func TestTasksUnknownAfterARestartAreReadOnce(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	two := swr.SyncRepo{ID: 2, RemoteRegionID: "cn-east-3"}
	if changes := f.mirror(t, one, two); changes.created != 2 {
		t.Fatalf("first mirror: %s", changes)
	}
	restarted := NewImageRepositoryReconciler(Options{Client: f.rec.Client, APIReader: f.rec.APIReader, Clock: clock.RealClock{}}, nil)
	f.rec, f.writes = restarted, 0
	if changes := f.mirror(t, one, two); changes.any() || f.writes != 0 || f.liveLists != 1 {
		t.Fatalf("after a restart: %s in %d writes after %d reads of whole tasks, want nothing written after 1 read", changes, f.writes, f.liveLists)
	}
	if changes := f.mirror(t, one, two); changes.any() || f.liveLists != 1 {
		t.Fatalf("the next mirror: %s after %d reads of whole tasks, want no more reads", changes, f.liveLists)
	}
}

func TestOwnWriteEventsAreRecognized(t *testing.T) {
	m := newRepoState()
	repo := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team", UID: "uid-app"}}
	task := func(rv string) *swrv1.SyncRepoTask {
		yes := true
		return &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "team", UID: "uid-task", ResourceVersion: rv,
			OwnerReferences: []metav1.OwnerReference{{Kind: "ImageRepository", Name: "app", UID: "uid-app", Controller: &yes}}}}
	}
	m.rememberWrite(repo, task("12"), time.Now())
	if !m.isOwnWrite(task("11")) {
		t.Error("the event of the create before the operator's status write needs no reconcile")
	}
	if !m.isOwnWrite(task("12")) {
		t.Error("the event of the operator's own write needs no reconcile")
	}
	if m.isOwnWrite(task("13")) {
		t.Error("a later write by someone else must be reconciled")
	}
	m.rememberDelete(repo, "app-1", "uid-task")
	if !m.isOwnDelete(task("14")) {
		t.Error("the operator's own delete needs no reconcile")
	}
	if m.isOwnDelete(task("15")) {
		t.Error("a delete the operator did not make must be reconciled")
	}
}

func TestSecretsOfTheInitialListPollNothing(t *testing.T) {
	r := NewImageRepositoryReconciler(Options{}, nil)
	queue := &countingQueue{}
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "team"}}
	// No List is reached for an initial-list event: a nil client would panic if it were.
	secretEvents(r.enqueueForSecret).Create(context.Background(), event.CreateEvent{Object: secret, IsInInitialList: true}, queue)
	if queue.added != 0 {
		t.Fatalf("the informer's initial list queued %d ImageRepositories", queue.added)
	}
}

// countingQueue counts what handlers add; it implements nothing else.
type countingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added int
}

func (q *countingQueue) Add(reconcile.Request) { q.added++ }

// TestTaskDeletedByOthersIsCreatedAgain: a task this process wrote, which the cache showed and
// no longer shows, was deleted by someone else; the content still known of it must not hide that.
func TestTaskDeletedByOthersIsCreatedAgain(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("first mirror: %s", changes)
	}
	if changes := f.mirror(t, one); changes.any() {
		t.Fatalf("second mirror, the cache showing the task: %s", changes)
	}
	gone := &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: TaskName("app", 1)}}
	if err := f.rec.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("after someone deleted the task: %s, want it created again", changes)
	}
}

// TestAnOwnCreateTheCacheNeverShowsIsNotBelievedForEver: a create the cache never shows (the
// task deleted inside a watch gap, which a relist does not report for an object the cache never
// had) is believed for unseenWriteGrace, then judged as missing and made again.
func TestAnOwnCreateTheCacheNeverShowsIsNotBelievedForEver(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	f.freeze(t) // the cache is empty, and stays so
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("first mirror: %s", changes)
	}
	gone := &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: TaskName("app", 1)}}
	if err := f.rec.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(10 * time.Second)
	if changes := f.mirror(t, one); changes.any() {
		t.Fatalf("within the grace the operator's own create is believed, yet the mirror made %s", changes)
	}
	f.clock.Step(unseenWriteGrace)
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("a create the cache has not shown for %s: %s, want it created again", unseenWriteGrace+10*time.Second, changes)
	}
}
