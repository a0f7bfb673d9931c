package main

import (
	"context"
	"fmt"
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
// that writes what the operator's cold mirror must write: every SyncRepoTask in one create (the
// same name, labels and owner) and one status write (the same status, with the replication state
// the workload's sync jobs give: the status subresource ignores it on create), and one status
// patch per ImageRepository saying it is Ready. It uses the manager's client QPS and burst, and
// -concurrent writers that each handle one ImageRepository at a time, tasks first and status
// last, as a reconcile does. The operator's run checks that it wrote the same tasks (checkTasks).
//
// With allowed, it also does what the targets allow an operator beyond those writes: an informer
// watches the SyncRepoTasks' metadata, as the manager's cache does, and each ImageRepository gets
// its one event, the Ready event the manager sends for a first mirror, through the same kind of
// recorder. That is the floor of an operator that notices hand edits and deletes of what it
// mirrors and tells of its first mirror.
func (b *bench) runBaseline(ctx context.Context, s size, allowed bool) (res *baselineResult, err error) {
	b.stepf("%s baseline: a bare client writes %d SyncRepoTasks (create + status) and %d status patches (%d writers, %s), on a fresh control plane",
		s, s.tasks(), s.repos, b.opts.concurrent, qpsText(b.opts.kubeAPIQPS, b.opts.kubeAPIBurst))
	p, err := b.startPhase(ctx, s, "baseline", unusedEndpoint, b.opts.interval)
	defer b.stopPhase(p)
	if err != nil {
		return nil, err
	}
	cp, repos := p.cp, p.repos
	var recorder events.EventRecorder
	if allowed {
		stopTaskWatch, err := watchSyncRepoTasks(ctx, cp)
		if err != nil {
			return nil, err
		}
		defer stopTaskWatch()
		eventsClient, err := eventsv1client.NewForConfig(cp.cfg)
		if err != nil {
			return nil, fmt.Errorf("creating the events client: %w", err)
		}
		broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: eventsClient})
		broadcaster.StartRecordingToSink(ctx.Done())
		defer broadcaster.Shutdown()
		recorder = broadcaster.NewRecorder(cp.scheme, "swr-sync-operator")
	}

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
	if allowed {
		phase = s.String() + "-allowed"
	}
	defer b.profileAPIServer(ctx, cp, phase)()
	start := time.Now()
	err = forEach(ctx, s.repos, b.opts.concurrent, func(ctx context.Context, i int) error {
		repo := repos[i]
		policies := policiesFor(i, s.policies)
		jobs := jobsFor(policies)
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
		}
		before := repo.DeepCopy()
		markReady(repo, s.policies, time.Now())
		if err := bare.Status().Patch(ctx, repo, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("patching the status of ImageRepository %s: %w", repo.Name, err)
		}
		if recorder != nil {
			ready := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
			recorder.Eventf(repo, nil, corev1.EventTypeNormal, ready.Reason, "Poll", "%s; created %d, updated 0, deleted 0 sync tasks", ready.Message, s.policies)
		}
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

// markReady sets the status a successful first poll leaves (see controllers/outcome.go).
func markReady(repo *swrv1.ImageRepository, tasks int, now time.Time) {
	polled := metav1.NewTime(now.Truncate(time.Second))
	repo.Status.ObservedGeneration = repo.Generation
	repo.Status.LastPollTime = &polled
	repo.Status.LastSuccessfulPollTime = &polled
	repo.Status.TaskCount = int32(tasks)
	meta.SetStatusCondition(&repo.Status.Conditions, metav1.Condition{
		Type:               swrv1.ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             swrv1.ReasonSucceeded,
		Message:            fmt.Sprintf("%d sync tasks", tasks),
		ObservedGeneration: repo.Generation,
		LastTransitionTime: metav1.NewTime(now),
	})
	// As controllers/replication.go's replicationHealth says it when no task's jobs failed.
	meta.SetStatusCondition(&repo.Status.Conditions, metav1.Condition{
		Type:               swrv1.ConditionReplicationHealthy,
		Status:             metav1.ConditionTrue,
		Reason:             swrv1.ReasonSucceeded,
		Message:            fmt.Sprintf("no failed tags in the newest %d sync jobs", repo.SyncJobsLimit()),
		ObservedGeneration: repo.Generation,
		LastTransitionTime: metav1.NewTime(now),
	})
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
