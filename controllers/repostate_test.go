package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/devenv/controlplane"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// staleCacheFixture is a reconciler whose cached reads of tasks can come from a snapshot taken
// before its own writes, as an informer that has not delivered them yet shows, and which counts
// its writes and its live reads of tasks.
type staleCacheFixture struct {
	rec      *ImageRepositoryReconciler
	apiTasks client.WithWatch // the apiserver's truth
	repo     *swrv1.ImageRepository
	snapshot *swrv1.SyncRepoTaskList // what the cache shows; nil shows the apiserver's truth
	writes   int
	// liveReads counts the reads of tasks around the cache.
	liveReads int
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
	truth := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, TaskOwnerIndex, TaskOwnerUIDs).
		Build()
	f.apiTasks = truth
	cached := interceptor.NewClient(truth, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			f.writes++
			return c.Create(ctx, obj, opts...)
		},
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
			if tasks, ok := list.(*swrv1.SyncRepoTaskList); ok && f.snapshot != nil {
				f.snapshot.DeepCopyInto(tasks)
				return nil
			}
			return c.List(ctx, list, opts...)
		},
	})
	live := interceptor.NewClient(truth, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			f.liveReads++
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			f.liveReads++
			return c.List(ctx, list, opts...)
		},
	})
	f.rec = NewImageRepositoryReconciler(Options{Client: cached, APIReader: live}, nil)
	return f
}

// freeze makes the cache show the tasks as they are now, until thaw.
func (f *staleCacheFixture) freeze(t *testing.T) {
	t.Helper()
	list := &swrv1.SyncRepoTaskList{}
	if err := f.apiTasks.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	f.snapshot = list
}

func (f *staleCacheFixture) thaw() { f.snapshot = nil }

func (f *staleCacheFixture) mirror(t *testing.T, policies ...swr.SyncRepo) mirrorChanges {
	t.Helper()
	statuses := make([]swrv1.SyncRepoTaskStatus, len(policies))
	for i, p := range policies {
		statuses[i] = taskStatusFrom(p)
	}
	changes, err := f.rec.mirror(context.Background(), f.repo, statuses)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

// taskVersions returns the resourceVersion of every task the apiserver holds, by name.
func (f *staleCacheFixture) taskVersions(t *testing.T) map[string]string {
	t.Helper()
	list := &swrv1.SyncRepoTaskList{}
	if err := f.apiTasks.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, task := range list.Items {
		versions[task.Name] = task.ResourceVersion
	}
	return versions
}

// TestMirrorOverAStaleCacheChangesNothing: a cache that does not show the operator's own writes
// yet costs at most a redundant write, never a wrong or a changed object.
func TestMirrorOverAStaleCacheChangesNothing(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	two := swr.SyncRepo{ID: 2, RemoteRegionID: "cn-east-3"}

	f.freeze(t) // the cache is empty and stays so while the tasks are created
	if changes := f.mirror(t, one, two); changes.created != 2 || f.writes != 4 {
		t.Fatalf("first mirror: %s in %d writes, want 2 created in 4 (create, status each)", changes, f.writes)
	}
	versions := f.taskVersions(t)
	if changes := f.mirror(t, one, two); changes.any() {
		t.Fatalf("a cache without the operator's own creates: %s, want no change", changes)
	}
	if got := f.taskVersions(t); got[TaskName("app", 1)] != versions[TaskName("app", 1)] || got[TaskName("app", 2)] != versions[TaskName("app", 2)] {
		t.Fatalf("a cache without the operator's own creates changed tasks: %v, were %v", got, versions)
	}

	f.thaw()
	f.freeze(t) // the cache shows the tasks; now a status change is written and not shown
	changed := two
	changed.Override = true
	if changes := f.mirror(t, one, changed); changes.updated != 1 {
		t.Fatalf("changed policy: %s, want 1 updated", changes)
	}
	f.writes = 0
	f.mirror(t, one, changed)
	if f.writes > 1 {
		t.Fatalf("a cache without the operator's own status write caused %d writes, want at most the one redundant write", f.writes)
	}
	task := &swrv1.SyncRepoTask{}
	if err := f.apiTasks.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: TaskName("app", 2)}, task); err != nil {
		t.Fatal(err)
	}
	if !task.Status.Override {
		t.Fatal("the changed policy's task does not hold the change")
	}

	f.thaw()
	f.freeze(t) // a delete the cache has not shown
	if changes := f.mirror(t, one); changes.deleted != 1 {
		t.Fatalf("removed policy: %s", changes)
	}
	if changes := f.mirror(t, one); changes.any() {
		t.Fatalf("a cache still showing the deleted task: %s, want no change", changes)
	}
	if got := f.taskVersions(t); len(got) != 1 {
		t.Fatalf("tasks after the delete: %v, want only %s", got, TaskName("app", 1))
	}

	f.thaw() // caught up: nothing to write, and an edit by someone else is put back from the cache
	f.writes, f.liveReads = 0, 0
	if changes := f.mirror(t, one); changes.any() || f.writes != 0 || f.liveReads != 0 {
		t.Fatalf("an up-to-date cache caused %s, %d writes and %d live reads, want none", changes, f.writes, f.liveReads)
	}
	tampered := &swrv1.SyncRepoTask{}
	if err := f.apiTasks.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: TaskName("app", 1)}, tampered); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(tampered.DeepCopy())
	tampered.Status.RemoteRegionID = "tampered"
	if err := f.apiTasks.Status().Patch(context.Background(), tampered, patch); err != nil {
		t.Fatal(err)
	}
	if changes := f.mirror(t, one); changes.updated != 1 || f.liveReads != 0 {
		t.Fatalf("an edit by someone else: %s after %d live reads, want 1 updated from the cache alone", changes, f.liveReads)
	}
	if changes := f.mirror(t, one); changes.any() {
		t.Fatalf("after putting the edit back: %s, want nothing", changes)
	}
}

// TestARestartedReconcilerReadsNoTask: a new process knows the tasks from its cache alone: no
// read of a task around the cache, and no write.
func TestARestartedReconcilerReadsNoTask(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	two := swr.SyncRepo{ID: 2, RemoteRegionID: "cn-east-3"}
	if changes := f.mirror(t, one, two); changes.created != 2 {
		t.Fatalf("first mirror: %s", changes)
	}
	f.rec = NewImageRepositoryReconciler(f.rec.Options, nil)
	f.writes, f.liveReads = 0, 0
	if changes := f.mirror(t, one, two); changes.any() || f.writes != 0 || f.liveReads != 0 {
		t.Fatalf("after a restart: %s in %d writes after %d live reads, want nothing", changes, f.writes, f.liveReads)
	}
}

// TestTaskEventsOfOwnWritesCauseNoReconcile: an update event that shows a task as the last poll
// wants it needs no reconcile; one that shows it otherwise does.
func TestTaskEventsOfOwnWritesCauseNoReconcile(t *testing.T) {
	s := newRepoState()
	repo := &swrv1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team", UID: "uid-app", Generation: 1}}
	wanted := taskStatusFrom(swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"})
	s.rememberWanted(repo, []swrv1.SyncRepoTaskStatus{wanted}, pollOutcome{})
	yes := true
	task := func(edit func(*swrv1.SyncRepoTask)) *swrv1.SyncRepoTask {
		t := &swrv1.SyncRepoTask{
			ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "team", UID: "uid-task",
				Labels:          map[string]string{swrv1.ImageRepositoryLabel: "app"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "ImageRepository", Name: "app", UID: "uid-app", Controller: &yes}}},
			Status: *wanted.DeepCopy(),
		}
		edit(t)
		return t
	}
	for _, tc := range []struct {
		name string
		edit func(*swrv1.SyncRepoTask)
		want bool
	}{
		{"the operator's own write", func(*swrv1.SyncRepoTask) {}, false},
		{"a status edited by someone else", func(t *swrv1.SyncRepoTask) { t.Status.RemoteRegionID = "elsewhere" }, true},
		{"a label removed", func(t *swrv1.SyncRepoTask) { t.Labels = nil }, true},
		{"a task the poll does not want", func(t *swrv1.SyncRepoTask) { t.Name = "app-2" }, true},
		{"a task of an ImageRepository not polled by this process", func(t *swrv1.SyncRepoTask) { t.OwnerReferences[0].UID = "uid-other" }, true},
		{"a task no ImageRepository controls", func(t *swrv1.SyncRepoTask) { t.OwnerReferences = nil }, false},
	} {
		if got := s.taskNeedsMirror(task(tc.edit)); got != tc.want {
			t.Errorf("%s: needs a reconcile %t, want %t", tc.name, got, tc.want)
		}
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

// TestTaskDeletedByOthersIsCreatedAgain: a task the cache no longer shows is created again.
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
	if err := f.apiTasks.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("after someone deleted the task: %s, want it created again", changes)
	}
}

// TestAnOwnCreateTheCacheNeverShowsIsMadeAgainWhenMissing: a create the cache never shows (the
// task deleted inside a watch gap, which a relist does not report for an object the cache never
// had) is made again as soon as the task is missing: nothing believes a write the cache does
// not show.
func TestAnOwnCreateTheCacheNeverShowsIsMadeAgainWhenMissing(t *testing.T) {
	f := newStaleCacheFixture(t)
	one := swr.SyncRepo{ID: 1, RemoteRegionID: "cn-north-4"}
	f.freeze(t) // the cache is empty, and stays so
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("first mirror: %s", changes)
	}
	gone := &swrv1.SyncRepoTask{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: TaskName("app", 1)}}
	if err := f.apiTasks.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if changes := f.mirror(t, one); changes.created != 1 {
		t.Fatalf("a task the cache never showed, deleted: %s, want it created again", changes)
	}
}
