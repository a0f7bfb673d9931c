package install_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// argoHealthStatuses are the statuses Argo CD accepts from a health script; it turns any other
// into Unknown.
var argoHealthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// toLua converts a decoded JSON value into Lua values as Argo CD's decodeValue does: objects and
// arrays become tables (arrays 1-based), numbers LNumber, null nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetString(key, toLua(l, item))
		}
		return t
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	Fail(fmt.Sprintf("no Lua value for %T", value))
	return lua.LNil
}

// runHealthScript runs an Argo CD health script on obj as Argo CD runs scripts from argocd-cm
// (util/lua/lua.go in argoproj/argo-cd): only the package, base and table libraries (Argo CD adds a
// restricted os, which these scripts do not need), a one-second limit, the object as the global
// obj, and the table the script returns read as the health.
func runHealthScript(script string, obj map[string]any) (status, message string) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		ExpectWithOffset(1, l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name))).To(Succeed())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	ExpectWithOffset(1, l.DoString(script)).To(Succeed())

	hs, ok := l.Get(-1).(*lua.LTable)
	ExpectWithOffset(1, ok).To(BeTrue(), "the script returns a table, not %s", l.Get(-1).Type())
	s, ok := hs.RawGetString("status").(lua.LString)
	ExpectWithOffset(1, ok).To(BeTrue(), "hs.status is a string")
	m, ok := hs.RawGetString("message").(lua.LString)
	ExpectWithOffset(1, ok).To(BeTrue(), "hs.message is a string")
	ExpectWithOffset(1, argoHealthStatuses).To(ContainElement(string(s)))
	return string(s), string(m)
}

// readScript returns a file of config/argocd.
func readScript(name string) string {
	data, err := os.ReadFile(filepath.Join(repoRoot, "config", "argocd", name))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return string(data)
}

// asArgoSees returns obj as the JSON object Argo CD reads from the apiserver.
func asArgoSees(obj runtime.Object) map[string]any {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return m
}

// imageRepository returns an ImageRepository at generation 2 with the given status.
func imageRepository(observedGeneration int64, conditions ...metav1.Condition) *swrv1.ImageRepository {
	return &swrv1.ImageRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: swrv1.GroupVersion.String(), Kind: "ImageRepository"},
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "demo", Generation: 2},
		Spec: swrv1.ImageRepositorySpec{
			SWRAccess: swrv1.SWRAccess{Organization: "test", Region: "ap-southeast-1",
				SecretRef: swrv1.SecretReference{Name: "swr-credentials"}},
			Repository: "library/nginx",
		},
		Status: swrv1.ImageRepositoryStatus{ObservedGeneration: observedGeneration, Conditions: conditions, TaskCount: 2},
	}
}

// imageOrganization returns an ImageOrganization at generation 2 with the given status.
func imageOrganization(observedGeneration int64, conditions ...metav1.Condition) *swrv1.ImageOrganization {
	return &swrv1.ImageOrganization{
		TypeMeta:   metav1.TypeMeta{APIVersion: swrv1.GroupVersion.String(), Kind: "ImageOrganization"},
		ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: "demo", Generation: 2},
		Spec: swrv1.ImageOrganizationSpec{
			SWRAccess: swrv1.SWRAccess{Organization: "test", Region: "ap-southeast-1",
				SecretRef: swrv1.SecretReference{Name: "swr-credentials"}},
			Include: []string{"library/*"},
		},
		Status: swrv1.ImageOrganizationStatus{ObservedGeneration: observedGeneration, Conditions: conditions, RepositoryCount: 42},
	}
}

// syncRepoTask returns the task of policy 101 with the given conditions, as the operator writes
// it with spec.syncJobs.mode Observe.
func syncRepoTask(conditions ...metav1.Condition) *swrv1.SyncRepoTask {
	task := &swrv1.SyncRepoTask{
		TypeMeta:   metav1.TypeMeta{APIVersion: swrv1.GroupVersion.String(), Kind: "SyncRepoTask"},
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-101", Namespace: "demo"},
		Status: swrv1.SyncRepoTaskStatus{SyncRepoPolicy: swrv1.SyncRepoPolicy{ID: 101, Namespace: "test", RepoName: "library/nginx",
			RemoteRegionID: "cn-north-4", RemoteNamespace: "test-mirror", SyncAuto: true}},
	}
	for _, c := range conditions {
		c.ObservedGeneration = 0 // a task has no spec, and its generation never moves
		task.Status.Conditions = append(task.Status.Conditions, c)
	}
	return task
}

// condition returns a condition as the operator writes them, for generation 2.
func condition(conditionType string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: conditionType, Status: status, Reason: reason, Message: message,
		ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
}

var _ = Describe("Argo CD health checks", func() {
	const (
		authFailed = "SWR answered 401 Unauthorized: the credentials in Secret swr-credentials were rejected"
		upstream   = "SWR answered 503 Service Unavailable"
		polling    = "polling SWR for generation 2"
		// The messages of a suspended ImageRepository, as controllers/outcome.go writes them:
		// Ready keeps the status of the last outcome, and the message quotes it.
		suspended          = "polling is suspended (spec.suspend); 2 sync tasks kept; before: Succeeded: 2 sync tasks"
		suspendedFailing   = "polling is suspended (spec.suspend); 2 sync tasks kept; before: AuthenticationFailed: " + authFailed
		suspendedNoOutcome = "polling is suspended (spec.suspend); 0 sync tasks kept; no outcome yet"
		// The messages of replication health and drift, as controllers/replication.go and
		// controllers/outcome.go write them.
		drift = "the sync policies differ from spec.expectedPolicies: no policy to af-south-1/test-dr; " +
			"the policy to cn-north-4/test-mirror has syncAuto false, expected true"
		replicationFailing = "1 of 2 sync tasks failing: nginx-102 (to ap-southeast-3/test-backup: 1.25.3)"
		jobsUnavailable    = "listing the sync jobs failed: SWR answered 503 Service Unavailable"
		noFailedTags       = "no failed tags in the newest 100 sync jobs"
		tagFailed          = "1 tag failed to sync to ap-southeast-3/test-backup: 1.25.3"
		tagInProgress      = "the sync job of tag 1.25.4 to ap-southeast-3/test-backup is running"
		tagSynced          = "tag 1.25.4 synced to cn-north-4/test-mirror"
		noJobs             = "none of the newest 100 sync jobs of the repository goes to cn-north-4/test-mirror"
		// The messages of an ImageOrganization, as controllers/imageorganization_status.go
		// writes them.
		discovered          = "42 repositories"
		nameTaken           = "42 repositories; not managed, their names are taken by ImageRepositories this ImageOrganization does not own: test-library-nginx-3d6726de"
		orgSuspended        = "discovery is suspended (spec.suspend); 42 ImageRepositories kept; before: Succeeded: 42 repositories"
		orgSuspendedFailing = "discovery is suspended (spec.suspend); 42 ImageRepositories kept; before: AuthenticationFailed: " + authFailed
	)

	DescribeTable("ImageRepository",
		func(obj map[string]any, wantStatus, wantMessage string) {
			status, message := runHealthScript(readScript("health.lua"), obj)
			Expect(status).To(Equal(wantStatus))
			Expect(message).To(Equal(wantMessage))
		},
		Entry("just created: no status yet", func() map[string]any {
			obj := asArgoSees(imageRepository(0))
			delete(obj, "status")
			return obj
		}(), "Progressing", "Waiting for the first poll"),
		Entry("status without conditions", asArgoSees(imageRepository(0)), "Progressing", "Waiting for the first poll"),
		Entry("first poll of a generation running",
			asArgoSees(imageRepository(1,
				condition(swrv1.ConditionReady, metav1.ConditionUnknown, swrv1.ReasonProgressing, polling),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonProgressing, polling))),
			"Progressing", polling),
		Entry("listing mirrored",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"))),
			"Healthy", "2 sync tasks"),
		Entry("transient failure being retried, observedGeneration held back",
			asArgoSees(imageRepository(1,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonUpstreamUnavailable, upstream),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after UpstreamUnavailable"))),
			"Progressing", upstream),
		Entry("transient failure after earlier successes",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonThrottled, "SWR answered 429 Too Many Requests"),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after Throttled"))),
			"Progressing", "SWR answered 429 Too Many Requests"),
		Entry("stalled until a person fixes the credentials",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed, authFailed),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonAuthenticationFailed, authFailed))),
			"Degraded", authFailed),
		Entry("stalled on an older spec that was changed since",
			asArgoSees(imageRepository(1,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonRepositoryNotFound, "SWR answered 404"),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonRepositoryNotFound, "SWR answered 404"))),
			"Progressing", "Waiting for the operator to poll generation 2"),
		Entry("ready on an older spec that was changed since",
			asArgoSees(imageRepository(1, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"))),
			"Progressing", "Waiting for the operator to poll generation 2"),
		Entry("suspended",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, suspended))),
			"Suspended", suspended),
		Entry("suspended while ready: Ready stays True",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSuspended, suspended))),
			"Suspended", suspended),
		Entry("suspended while failing: Ready stays False",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, suspendedFailing))),
			"Suspended", suspendedFailing),
		Entry("suspended before the first poll: Ready Unknown",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionUnknown, swrv1.ReasonSuspended, suspendedNoOutcome))),
			"Suspended", suspendedNoOutcome),
		Entry("unsuspended, the new generation not polled yet",
			asArgoSees(imageRepository(1, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSuspended, suspended))),
			"Progressing", "Waiting for the operator to poll generation 2"),
		Entry("not ready with nothing retrying (never written by the operator)",
			asArgoSees(imageRepository(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonMirrorFailed, "refused"))),
			"Degraded", "refused"),
		Entry("policies drifted from spec.expectedPolicies (tasks still mirrored)",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonPolicyDrift, drift),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonPolicyDrift, drift),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionTrue, swrv1.ReasonSucceeded, noFailedTags))),
			"Degraded", drift),
		Entry("drift and failing replication: the drift is named",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonPolicyDrift, drift),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonPolicyDrift, drift),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Degraded", drift),
		Entry("listing mirrored, replication healthy",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionTrue, swrv1.ReasonSucceeded, noFailedTags))),
			"Healthy", "2 sync tasks"),
		Entry("listing mirrored, but a policy's replication fails",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Degraded", replicationFailing),
		Entry("listing mirrored, the job listing failed: nothing known against replication",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionUnknown, swrv1.ReasonJobsUnavailable, jobsUnavailable))),
			"Healthy", "2 sync tasks"),
		Entry("failing replication while a transient failure is retried",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonUpstreamUnavailable, upstream),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after UpstreamUnavailable"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Progressing", upstream),
		Entry("suspended with failing replication from before",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, suspended),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Suspended", suspended),
		Entry("suspended while ready, with failing replication from before",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSuspended, suspended),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Suspended", suspended),
		Entry("failing replication on an older spec that was changed since",
			asArgoSees(imageRepository(1,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, replicationFailing))),
			"Progressing", "Waiting for the operator to poll generation 2"),
		Entry("failing replication with an empty message",
			asArgoSees(imageRepository(2,
				condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, "2 sync tasks"),
				condition(swrv1.ConditionReplicationHealthy, metav1.ConditionFalse, swrv1.ReasonSyncFailed, ""))),
			"Degraded", swrv1.ReasonSyncFailed),
	)

	DescribeTable("ImageOrganization",
		func(obj map[string]any, wantStatus, wantMessage string) {
			status, message := runHealthScript(readScript("health.lua"), obj)
			Expect(status).To(Equal(wantStatus))
			Expect(message).To(Equal(wantMessage))
		},
		Entry("just created: no status yet", func() map[string]any {
			obj := asArgoSees(imageOrganization(0))
			delete(obj, "status")
			return obj
		}(), "Progressing", "Waiting for the first discovery"),
		Entry("status without conditions", asArgoSees(imageOrganization(0)), "Progressing", "Waiting for the first discovery"),
		Entry("first discovery failed transiently, being retried",
			asArgoSees(imageOrganization(0,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonUpstreamUnavailable, upstream),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after UpstreamUnavailable"))),
			"Progressing", upstream),
		Entry("discovered",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, discovered))),
			"Healthy", discovered),
		Entry("discovered, a wanted name held by a foreign ImageRepository",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, nameTaken))),
			"Healthy", nameTaken),
		Entry("discovered on an older spec that was changed since",
			asArgoSees(imageOrganization(1, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSucceeded, discovered))),
			"Progressing", "Waiting for the operator to discover the repositories of generation 2"),
		Entry("transient failure after earlier discoveries",
			asArgoSees(imageOrganization(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonThrottled, "SWR answered 429 Too Many Requests"),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after Throttled"))),
			"Progressing", "SWR answered 429 Too Many Requests"),
		Entry("an ImageRepository write failed, being retried",
			asArgoSees(imageOrganization(1,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonMirrorFailed, "creating ImageRepository test-library-redis-40991926: timeout"),
				condition(swrv1.ConditionReconciling, metav1.ConditionTrue, swrv1.ReasonRetrying, "retrying after MirrorFailed"))),
			"Progressing", "creating ImageRepository test-library-redis-40991926: timeout"),
		Entry("stalled until a person fixes the credentials",
			asArgoSees(imageOrganization(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonAuthenticationFailed, authFailed),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonAuthenticationFailed, authFailed))),
			"Degraded", authFailed),
		Entry("stalled without a message",
			asArgoSees(imageOrganization(2,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonAccessDenied, ""),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonAccessDenied, ""))),
			"Degraded", swrv1.ReasonAccessDenied),
		Entry("stalled on an older spec that was changed since",
			asArgoSees(imageOrganization(1,
				condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonInvalidRequest, "spec.include[0] is not a valid pattern"),
				condition(swrv1.ConditionStalled, metav1.ConditionTrue, swrv1.ReasonInvalidRequest, "spec.include[0] is not a valid pattern"))),
			"Progressing", "Waiting for the operator to discover the repositories of generation 2"),
		Entry("suspended",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, orgSuspended))),
			"Suspended", orgSuspended),
		Entry("suspended while ready: Ready stays True",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionTrue, swrv1.ReasonSuspended, orgSuspended))),
			"Suspended", orgSuspended),
		Entry("suspended while failing: Ready stays False",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonSuspended, orgSuspendedFailing))),
			"Suspended", orgSuspendedFailing),
		Entry("not ready with nothing retrying (never written by the operator)",
			asArgoSees(imageOrganization(2, condition(swrv1.ConditionReady, metav1.ConditionFalse, swrv1.ReasonMirrorFailed, "refused"))),
			"Degraded", "refused"),
	)

	DescribeTable("SyncRepoTask",
		func(obj map[string]any, wantStatus, wantMessage string) {
			status, message := runHealthScript(readScript("health.lua"), obj)
			Expect(status).To(Equal(wantStatus))
			Expect(message).To(Equal(wantMessage))
		},
		Entry("a mirrored policy", asArgoSees(syncRepoTask()), "Healthy", "mirrors SWR policy 101"),
		Entry("an id beyond 32 bits", asArgoSees(&swrv1.SyncRepoTask{
			TypeMeta:   metav1.TypeMeta{APIVersion: swrv1.GroupVersion.String(), Kind: "SyncRepoTask"},
			ObjectMeta: metav1.ObjectMeta{Name: "nginx-8589934592", Namespace: "demo"},
			Status:     swrv1.SyncRepoTaskStatus{SyncRepoPolicy: swrv1.SyncRepoPolicy{ID: 8589934592}},
		}), "Healthy", "mirrors SWR policy 8589934592"),
		Entry("no status", map[string]any{
			"apiVersion": swrv1.GroupVersion.String(), "kind": "SyncRepoTask",
			"metadata": map[string]any{"name": "nginx-101", "namespace": "demo"},
		}, "Healthy", "mirrors an SWR policy"),
		Entry("replicated", asArgoSees(syncRepoTask(
			condition(swrv1.ConditionReplicated, metav1.ConditionTrue, swrv1.ReasonSucceeded, tagSynced))),
			"Healthy", "mirrors SWR policy 101"),
		Entry("a tag failed to sync", asArgoSees(syncRepoTask(
			condition(swrv1.ConditionReplicated, metav1.ConditionFalse, swrv1.ReasonSyncFailed, tagFailed))),
			"Degraded", tagFailed),
		Entry("a tag failed to sync, without a message", asArgoSees(syncRepoTask(
			condition(swrv1.ConditionReplicated, metav1.ConditionFalse, swrv1.ReasonSyncFailed, ""))),
			"Degraded", swrv1.ReasonSyncFailed),
		Entry("the newest job is running", asArgoSees(syncRepoTask(
			condition(swrv1.ConditionReplicated, metav1.ConditionUnknown, swrv1.ReasonSyncInProgress, tagInProgress))),
			"Progressing", tagInProgress),
		Entry("no job to the target among the newest", asArgoSees(syncRepoTask(
			condition(swrv1.ConditionReplicated, metav1.ConditionUnknown, swrv1.ReasonNoSyncJobs, noJobs))),
			"Healthy", "mirrors SWR policy 101"),
		Entry("another condition type is not read", asArgoSees(syncRepoTask(
			condition("Other", metav1.ConditionFalse, "Whatever", "ignored"))),
			"Healthy", "mirrors SWR policy 101"),
	)

	It("is Unknown for a kind of the group it has no check for", func() {
		status, message := runHealthScript(readScript("health.lua"), map[string]any{
			"apiVersion": swrv1.GroupVersion.String(), "kind": "ImageMirror",
			"metadata": map[string]any{"name": "nginx", "namespace": "demo"},
		})
		Expect(status).To(Equal("Unknown"))
		Expect(message).To(Equal("no health check for kind ImageMirror"))
	})

	Describe("argocd-cm-patch.yaml", func() {
		var cm corev1.ConfigMap

		BeforeEach(func() {
			data, err := os.ReadFile(filepath.Join(repoRoot, "config", "argocd", "argocd-cm-patch.yaml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(yaml.UnmarshalStrict(data, &cm)).To(Succeed())
		})

		It("holds exactly health.lua, under the keys Argo CD reads for each kind", func() {
			// resource.customizations.health.<group>_<kind>, as Argo CD documents it.
			Expect(cm.Data).To(Equal(map[string]string{
				"resource.customizations.health.swr.imagesync.io_ImageOrganization": readScript("health.lua"),
				"resource.customizations.health.swr.imagesync.io_ImageRepository":   readScript("health.lua"),
				"resource.customizations.health.swr.imagesync.io_SyncRepoTask":      readScript("health.lua"),
			}))
		})

		It("is a ConfigMap the kube-apiserver accepts as argocd-cm", func(ctx SpecContext) {
			Expect(cm.Name).To(Equal("argocd-cm"))
			Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cm.Namespace}})).To(Succeed())
			u := &unstructured.Unstructured{Object: asArgoSees(&cm)}
			Expect(apply(ctx, u, client.DryRunAll)).To(Succeed())
		})
	})
})
