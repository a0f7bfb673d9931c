package controllers_test

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/credentials"
	"github.com/imagesync/swr-sync-operator/internal/swr"
	"github.com/imagesync/swr-sync-operator/internal/swr/swrtest"
)

// statusWrites counts the SyncRepoTask status writes a reconcile makes, by kind.
type statusWrites struct{ updates, patches, conflicts int }

// reconcileNewTasks polls an ImageRepository with n policies once, against a client whose
// SyncRepoTask status updates are refused as conflicts while conflict is set, and returns the
// status writes made and the tasks the client holds afterwards.
func reconcileNewTasks(t *testing.T, n int, conflict bool) (statusWrites, []swrv1.SyncRepoTask) {
	t.Helper()
	scheme := newTestScheme(t)
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPolicies(metricsOrg, metricsRepoName, policies(metricsRepoName, n)...)
	const token = "token-new-tasks"
	srv.SetToken(token)

	var writes statusWrites
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageRepository{}, &swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, controllers.TaskOwnerIndex, controllers.TaskOwnerUIDs).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if _, ok := obj.(*swrv1.SyncRepoTask); ok {
					writes.updates++
					if conflict {
						// As if someone wrote the task between its create and its status write.
						writes.conflicts++
						return apierrors.NewConflict(swrv1.GroupVersion.WithResource("syncrepotasks").GroupResource(), obj.GetName(), nil)
					}
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if _, ok := obj.(*swrv1.SyncRepoTask); ok {
					writes.patches++
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).
		Build()
	rec := controllers.NewImageRepositoryReconciler(fakeOptions(c, c, clocktesting.NewFakeClock(metricsStart)), swr.NewClient())
	ctx := context.Background()
	repo := metricsRepo(metricsRepoName, metricsRepoName, srv.URL())
	for _, o := range []client.Object{secretWith(metricsSecret, map[string]string{credentials.TokenKey: token}), repo} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(repo)}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	tasks := &swrv1.SyncRepoTaskList{}
	if err := c.List(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	return writes, tasks.Items
}

// TestNewTaskStatusIsOneUpdate checks what a new task costs: its status is written by one update
// of the version its create returned, which the apiserver applies more cheaply than a patch.
func TestNewTaskStatusIsOneUpdate(t *testing.T) {
	writes, tasks := reconcileNewTasks(t, 3, false)
	if writes != (statusWrites{updates: 3}) {
		t.Fatalf("status writes for 3 new tasks: %+v, want 3 updates and no patch", writes)
	}
	checkMirroredStatus(t, tasks, 3)
}

// TestNewTaskStatusSurvivesAConflict refuses every status update as a conflict, as when someone
// wrote a task between its create and its status write: the status is then written as for any
// task, by a patch that does not depend on the version, and nothing is lost.
func TestNewTaskStatusSurvivesAConflict(t *testing.T) {
	writes, tasks := reconcileNewTasks(t, 2, true)
	if writes.conflicts != 2 || writes.patches != 2 {
		t.Fatalf("status writes with conflicting updates: %+v, want 2 refused updates followed by 2 patches", writes)
	}
	checkMirroredStatus(t, tasks, 2)
}

// checkMirroredStatus checks that n tasks exist and each holds the policy it mirrors.
func checkMirroredStatus(t *testing.T, tasks []swrv1.SyncRepoTask, n int) {
	t.Helper()
	if len(tasks) != n {
		t.Fatalf("%d tasks, want %d", len(tasks), n)
	}
	for _, task := range tasks {
		if task.Status.ID == 0 || task.Status.RepoName != metricsRepoName {
			t.Fatalf("task %s has status %+v, want the policy it mirrors", task.Name, task.Status.SyncRepoPolicy)
		}
	}
}
