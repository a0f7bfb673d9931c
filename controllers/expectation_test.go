package controllers_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// TestOwnStatusWriteIsKnownBeforeTheCacheShowsIt reconciles an ImageRepository twice while the
// cache still shows it as never polled, as an informer does that has not delivered the first
// poll's status patch yet (a task event can trigger the second reconcile that early). The
// reconciler must judge by its own status write, not by the stale object: one poll, not two,
// and no read of the object from the apiserver to find that out.
func TestOwnStatusWriteIsKnownBeforeTheCacheShowsIt(t *testing.T) {
	scheme := newTestScheme(t)
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPolicies(metricsOrg, metricsRepoName, policies(metricsRepoName, 2)...)

	var stale *swrv1.ImageRepository // what the cache shows; nil shows the apiserver's truth
	liveReads := 0
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageRepository{}, &swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, controllers.TaskOwnerIndex, controllers.TaskOwnerUIDs).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if repo, ok := obj.(*swrv1.ImageRepository); ok && stale != nil {
					stale.DeepCopyInto(repo)
					return nil
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).
		Build()
	// The APIReader reads around the cache; reading the ImageRepository through it is what the
	// expectation saves.
	apiReader := countingReader(c, &liveReads, func(obj client.Object) bool { _, ok := obj.(*swrv1.ImageRepository); return ok })
	clk := clocktesting.NewFakeClock(metricsStart)
	rec := controllers.NewImageRepositoryReconciler(fakeOptions(c, apiReader, clk), swr.NewClient())
	ctx := context.Background()
	repo := metricsRepo(metricsRepoName, metricsRepoName, srv.URL())
	for _, o := range []client.Object{secretWith(metricsSecret, map[string]string{credentials.TokenKey: "token-expectation"}), repo} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	stale = repo.DeepCopy() // as created: never polled
	reconcile := func() {
		t.Helper()
		if _, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(repo)}); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
	}

	reconcile()
	reconcile()
	if got := srv.RequestCount(metricsOrg, metricsRepoName); got != 1 {
		t.Fatalf("%d polls while the cache lagged behind the first poll's status write, want 1", got)
	}
	if liveReads != 0 {
		t.Fatalf("%d live reads of the ImageRepository, want 0: the reconciler knows its own write", liveReads)
	}

	// Once the cache has caught up, and the interval has passed, it polls again.
	stale = nil
	clk.Step(time.Hour)
	reconcile()
	if got := srv.RequestCount(metricsOrg, metricsRepoName); got != 2 {
		t.Fatalf("%d polls after the interval, want 2", got)
	}
}

// TestSecretIsReadOnlyWhenItChanged polls three times: the credentials Secret is read from the
// apiserver for the first poll only, while the Secret's metadata (the informer's, here the fake
// client's) shows the same resourceVersion; a changed Secret is read again at the next poll.
func TestSecretIsReadOnlyWhenItChanged(t *testing.T) {
	scheme := newTestScheme(t)
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetPolicies(metricsOrg, metricsRepoName, policies(metricsRepoName, 1)...)
	srv.AddIAMUser(metricsIAMDomain, metricsIAMUser, metricsIAMPassword)
	srv.AddIAMUser(metricsIAMDomain, "robot-two", "pa55-w0rd-two")
	srv.SetToken("") // only tokens from the server's IAM are accepted
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageRepository{}, &swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, controllers.TaskOwnerIndex, controllers.TaskOwnerUIDs).
		Build()
	secretReads := 0
	apiReader := countingReader(c, &secretReads, func(obj client.Object) bool { _, ok := obj.(*corev1.Secret); return ok })
	clk := clocktesting.NewFakeClock(metricsStart)
	rec := controllers.NewImageRepositoryReconciler(fakeOptions(c, apiReader, clk), swr.NewClient())
	ctx := context.Background()
	secret := secretWith(metricsSecret, map[string]string{credentials.UsernameKey: metricsIAMUser, credentials.PasswordKey: metricsIAMPassword,
		credentials.DomainNameKey: metricsIAMDomain, credentials.ProjectNameKey: "ap-southeast-1", credentials.IAMEndpointKey: srv.URL()})
	repo := metricsRepo(metricsRepoName, metricsRepoName, srv.URL())
	for _, o := range []client.Object{secret, repo} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	poll := func() {
		t.Helper()
		if _, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(repo)}); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		clk.Step(time.Hour)
	}

	poll()
	poll()
	if polls := srv.RequestCount(metricsOrg, metricsRepoName); polls != 2 || secretReads != 1 {
		t.Fatalf("%d polls read the Secret %d times, want 2 polls and 1 read", polls, secretReads)
	}
	secret.Data[credentials.UsernameKey] = []byte("robot-two")
	secret.Data[credentials.PasswordKey] = []byte("pa55-w0rd-two")
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	poll()
	if secretReads != 2 {
		t.Fatalf("the changed Secret was read %d times in all, want 2", secretReads)
	}
	// The new user's token was asked for: the poll used the new data, not the kept Secret.
	if got := srv.IAMRequestCount(); got != 2 {
		t.Fatalf("%d IAM token requests, want 2: one per user", got)
	}
	if polls := srv.RequestCount(metricsOrg, metricsRepoName); polls != 3 {
		t.Fatalf("%d polls, want 3", polls)
	}
}

// TestOwnDiscoveryStatusWriteIsKnownBeforeTheCacheShowsIt is the same for an ImageOrganization:
// reconciled twice while the cache still shows it as never discovered (an event of a generated
// ImageRepository can trigger the second reconcile that early), it lists the organization once,
// without reading the object from the apiserver, and writes its status once: no Progressing
// write before the discovery.
func TestOwnDiscoveryStatusWriteIsKnownBeforeTheCacheShowsIt(t *testing.T) {
	scheme := newTestScheme(t)
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetRepositories(metricsOrg, swr.Repository{Name: "app", Namespace: metricsOrg})

	var stale *swrv1.ImageOrganization // what the cache shows; nil shows the apiserver's truth
	liveReads, statusWrites := 0, 0
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageOrganization{}, &swrv1.ImageRepository{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if org, ok := obj.(*swrv1.ImageOrganization); ok && stale != nil {
					stale.DeepCopyInto(org)
					return nil
				}
				return c.Get(ctx, key, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if _, ok := obj.(*swrv1.ImageOrganization); ok {
					statusWrites++
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).
		Build()
	apiReader := countingReader(c, &liveReads, func(obj client.Object) bool { _, ok := obj.(*swrv1.ImageOrganization); return ok })
	clk := clocktesting.NewFakeClock(metricsStart)
	rec := controllers.NewImageOrganizationReconciler(fakeOptions(c, apiReader, clk), swr.NewClient())
	ctx := context.Background()
	org := &swrv1.ImageOrganization{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: metricsNamespace, UID: "uid-team", Generation: 1},
		Spec: swrv1.ImageOrganizationSpec{
			SWRAccess: swrv1.SWRAccess{Organization: metricsOrg, Endpoint: srv.URL(), SecretRef: swrv1.SecretReference{Name: metricsSecret}},
			Interval:  &metav1.Duration{Duration: 10 * time.Minute},
		},
		Status: swrv1.ImageOrganizationStatus{ObservedGeneration: -1}, // the CRD's default
	}
	for _, o := range []client.Object{secretWith(metricsSecret, map[string]string{credentials.TokenKey: swrtest.DefaultToken}), org} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	stale = org.DeepCopy() // as created: never discovered
	reconcile := func() {
		t.Helper()
		if _, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(org)}); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
	}

	reconcile()
	reconcile()
	if got := srv.RepositoryListRequestCount(metricsOrg); got != 1 {
		t.Fatalf("%d discoveries while the cache lagged behind the first one's status write, want 1", got)
	}
	if liveReads != 0 || statusWrites != 1 {
		t.Fatalf("%d live reads of the ImageOrganization and %d status writes, want 0 and 1", liveReads, statusWrites)
	}
	stale = nil
	clk.Step(time.Hour)
	reconcile()
	if got := srv.RepositoryListRequestCount(metricsOrg); got != 2 {
		t.Fatalf("%d discoveries after the interval, want 2", got)
	}
}

// TestAPollWhoseStatusWasRefusedIsNotMadeAgain: while the apiserver refuses every write, the
// retries of a poll write its outcome instead of polling SWR again; once the apiserver accepts
// writes, the tasks and the status that poll got are written, still from that one poll.
func TestAPollWhoseStatusWasRefusedIsNotMadeAgain(t *testing.T) {
	scheme := newTestScheme(t)
	srv := swrtest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetToken("token-refused")
	srv.SetPolicies(metricsOrg, metricsRepoName, policies(metricsRepoName, 2)...)

	down := false
	refused := func() error {
		return apierrors.NewServiceUnavailable("the apiserver is refusing requests")
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&swrv1.ImageRepository{}, &swrv1.SyncRepoTask{}).
		WithIndex(&swrv1.SyncRepoTask{}, controllers.TaskOwnerIndex, controllers.TaskOwnerUIDs).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if down {
					return refused()
				}
				return c.Create(ctx, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if down {
					return refused()
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if down {
					return refused()
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).
		Build()
	clk := clocktesting.NewFakeClock(metricsStart)
	rec := controllers.NewImageRepositoryReconciler(fakeOptions(c, c, clk), swr.NewClient())
	ctx := context.Background()
	repo := metricsRepo(metricsRepoName, metricsRepoName, srv.URL())
	for _, o := range []client.Object{secretWith(metricsSecret, map[string]string{credentials.TokenKey: "token-refused"}), repo} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	reconcile := func() error {
		_, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(repo)})
		return err
	}

	down = true
	for i := range 5 {
		if err := reconcile(); err == nil {
			t.Fatalf("reconcile %d succeeded while the apiserver refused every write", i)
		}
		clk.Step(time.Second) // the workqueue's backoff
	}
	if got := srv.RequestCount(metricsOrg, metricsRepoName); got != 1 {
		t.Fatalf("%d sync_repo listings in 5 reconciles while the apiserver refused writes, want 1", got)
	}

	down = false
	if err := reconcile(); err != nil {
		t.Fatalf("reconcile once the apiserver accepts writes: %v", err)
	}
	got := &swrv1.ImageRepository{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(repo), got); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, swrv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || got.Status.TaskCount != 2 {
		t.Fatalf("status after the apiserver came back: Ready %+v, %d tasks; want Ready True with 2 tasks", ready, got.Status.TaskCount)
	}
	if got.Status.LastPollTime == nil || !got.Status.LastPollTime.Time.Equal(metricsStart.Truncate(time.Second)) {
		t.Fatalf("lastPollTime %v, want the time of the one poll, %v", got.Status.LastPollTime, metricsStart.Truncate(time.Second))
	}
	tasks := &swrv1.SyncRepoTaskList{}
	if err := c.List(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks.Items) != 2 {
		t.Fatalf("%d tasks after the apiserver came back, want 2", len(tasks.Items))
	}
	if got := srv.RequestCount(metricsOrg, metricsRepoName); got != 1 {
		t.Fatalf("%d sync_repo listings in all, want 1", got)
	}
}
