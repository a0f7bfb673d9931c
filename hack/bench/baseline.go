package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/controllers"
	"github.com/imagesync/swr-sync-operator/internal/devenv/process"
)

// unusedEndpoint is spec.endpoint of the baseline's ImageRepositories, which nothing polls.
const unusedEndpoint = "http://127.0.0.1:9"

// baselineResult is the bare client's time for the writes an operator cannot avoid.
type baselineResult struct {
	duration time.Duration
	traffic  trafficSummary
	cpu      phaseCPU
}

// phaseCPU is the CPU seconds each party used during a phase.
type phaseCPU struct {
	apiserver, etcd float64
	client          float64 // the bare client (this process) or the manager
}

func (c phaseCPU) total() float64 { return c.apiserver + c.etcd + c.client }

// runBaseline creates the workload's ImageRepositories (untimed) and then times a bare client
// that writes what the operator's cold mirror writes: every SyncRepoTask in one create (the same
// name, labels and owner) and one status write (the same status, with the replication state the
// workload's sync jobs give: the status subresource ignores it on create), a Warning event on
// each task whose replication failed (as the manager tells of a task that turns
// Replicated=False), and per ImageRepository one status patch saying it is Ready, with its
// ReplicationHealthy condition, and the one Ready event the manager sends for a first mirror,
// through the same kind of recorder. It uses the manager's client QPS and burst, and as many
// writers as the manager has workers (-concurrent, main.go's --concurrent default unless set),
// each handling one ImageRepository at a time, tasks first and status last, as a reconcile does.
// The operator's run checks that it wrote the same tasks and ImageRepository conditions
// (checkMirror).
//
// With watched, it also watches the SyncRepoTasks with an informer, as the manager's cache does:
// the floor of an operator that notices hand edits and deletes of what it mirrors.
func (b *bench) runBaseline(ctx context.Context, s size, watched bool) (res *baselineResult, err error) {
	kind := "baseline"
	if watched {
		kind = "watched baseline"
	}
	b.stepf("%s %s: a bare client writes %d SyncRepoTasks (create + status), %d status patches and their events (%d writers, %s), on a fresh control plane",
		s, kind, s.tasks(), s.repos, b.opts.concurrent, qpsText(b.opts.kubeAPIQPS, b.opts.kubeAPIBurst))
	p, err := b.startPhase(ctx, s, "baseline", unusedEndpoint, b.opts.interval)
	defer b.stopPhase(p)
	if err != nil {
		return nil, err
	}
	cp, repos := p.cp, p.repos
	if watched {
		stopTaskWatch, err := watchSyncRepoTasks(ctx, cp)
		if err != nil {
			return nil, err
		}
		defer stopTaskWatch()
	}
	eventsClient, err := eventsv1client.NewForConfig(cp.cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the events client: %w", err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: eventsClient})
	broadcaster.StartRecordingToSink(ctx.Done())
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(cp.scheme, "swr-sync-operator")

	cfg := rest.CopyConfig(cp.cfg)
	cfg.QPS, cfg.Burst = float32(b.opts.kubeAPIQPS), b.opts.kubeAPIBurst
	bare, err := client.New(cfg, client.Options{Scheme: cp.scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the bare client: %w", err)
	}
	countsBefore, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	cpuBefore, selfBefore := cp.processCPU(), process.SelfCPU()

	phase := s.String() + "-baseline"
	if watched {
		phase = s.String() + "-watched"
	}
	defer b.profileAPIServer(ctx, cp, phase)()
	start := time.Now()
	err = forEach(ctx, s.repos, b.opts.concurrent, func(ctx context.Context, i int) error {
		repo := repos[i]
		policies := policiesFor(i, s.policies)
		jobs := jobsFor(i, policies)
		tasks := make([]*swrv1.SyncRepoTask, 0, len(policies))
		for _, p := range policies {
			task, err := controllers.FirstMirrorTask(repo, p, jobs, time.Now(), cp.scheme)
			if err != nil {
				return err
			}
			status := task.Status
			if err := bare.Create(ctx, task); err != nil {
				return fmt.Errorf("creating SyncRepoTask %s: %w", task.Name, err)
			}
			// The status subresource ignores the status of a create: it takes a second write.
			task.Status = status
			if err := bare.Status().Update(ctx, task); err != nil {
				return fmt.Errorf("writing the status of SyncRepoTask %s: %w", task.Name, err)
			}
			if replicated := meta.FindStatusCondition(task.Status.Conditions, swrv1.ConditionReplicated); replicated != nil &&
				replicated.Status == metav1.ConditionFalse {
				recorder.Eventf(task, nil, corev1.EventTypeWarning, replicated.Reason, "Replicate", "%s", replicated.Message)
			}
			tasks = append(tasks, task)
		}
		before := repo.DeepCopy()
		markReady(repo, tasks, time.Now())
		if err := bare.Status().Patch(ctx, repo, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("patching the status of ImageRepository %s: %w", repo.Name, err)
		}
		ready := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
		recorder.Eventf(repo, nil, corev1.EventTypeNormal, ready.Reason, "Poll", "%s; created %d, updated 0, deleted 0 sync tasks", ready.Message, len(tasks))
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return nil, err
	}
	cpuAfter, selfAfter := cp.processCPU(), process.SelfCPU()
	countsAfter, err := cp.requestCounts(ctx)
	if err != nil {
		return nil, err
	}
	res = &baselineResult{
		duration: elapsed,
		traffic:  summarize(countsAfter.minus(countsBefore)),
		cpu: phaseCPU{
			apiserver: cpuAfter["kube-apiserver"] - cpuBefore["kube-apiserver"],
			etcd:      cpuAfter["etcd"] - cpuBefore["etcd"],
			client:    selfAfter - selfBefore,
		},
	}
	b.detailf("%s for %d writes (%.0f writes/s)", elapsed.Round(10*time.Millisecond), res.traffic.writes,
		float64(res.traffic.writes)/elapsed.Seconds())
	return res, nil
}

// markReady sets the status a successful first poll that mirrored tasks leaves (see
// controllers/outcome.go's applyOutcome): Ready, and ReplicationHealthy over the tasks' Replicated
// conditions, as controllers/replication.go's replicationHealth says it.
func markReady(repo *swrv1.ImageRepository, tasks []*swrv1.SyncRepoTask, now time.Time) {
	polled := metav1.NewTime(now.Truncate(time.Second))
	repo.Status.ObservedGeneration = repo.Generation
	repo.Status.LastPollTime = &polled
	repo.Status.LastSuccessfulPollTime = &polled
	repo.Status.TaskCount = int32(len(tasks))
	meta.SetStatusCondition(&repo.Status.Conditions, metav1.Condition{
		Type:               swrv1.ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             swrv1.ReasonSucceeded,
		Message:            plural(len(tasks), "sync task"),
		ObservedGeneration: repo.Generation,
		LastTransitionTime: metav1.NewTime(now),
	})
	health := metav1.Condition{
		Type:               swrv1.ConditionReplicationHealthy,
		Status:             metav1.ConditionTrue,
		Reason:             swrv1.ReasonSucceeded,
		Message:            fmt.Sprintf("no failed tags in the newest %d sync jobs", repo.SyncJobsLimit()),
		ObservedGeneration: repo.Generation,
		LastTransitionTime: metav1.NewTime(now),
	}
	var failing []string
	for _, task := range tasks {
		if meta.IsStatusConditionFalse(task.Status.Conditions, swrv1.ConditionReplicated) {
			failing = append(failing, fmt.Sprintf("%s (to %s/%s: %s)", task.Name, task.Status.RemoteRegionID,
				task.Status.RemoteNamespace, strings.Join(task.Status.FailedTags, ", ")))
		}
	}
	if len(failing) > 0 {
		slices.Sort(failing)
		health.Status, health.Reason = metav1.ConditionFalse, swrv1.ReasonSyncFailed
		health.Message = fmt.Sprintf("%d of %s failing: %s", len(failing), plural(len(tasks), "sync task"), strings.Join(failing, "; "))
	}
	meta.SetStatusCondition(&repo.Status.Conditions, health)
}

// plural returns "1 sync task", "2 sync tasks", as the manager's messages say it.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// qpsText describes a client-side rate limit.
func qpsText(qps float64, burst int) string {
	if qps < 0 {
		return "no client-side QPS limit"
	}
	return fmt.Sprintf("QPS %g, burst %d", qps, burst)
}

// warnIf reports a cleanup failure without failing the run.
func (b *bench) warnIf(what string, err error) {
	if err != nil {
		fmt.Fprintf(b.log, "bench: %s: %v\n", what, err)
	}
}
