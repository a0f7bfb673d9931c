package main

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

const (
	// readyTimeout bounds the wait for the first mirror. It covers the manager's start (cache
	// sync) and one poll per ImageRepository, which take a few seconds.
	readyTimeout = 60 * time.Second
	// readyPollEvery is how often the ImageRepositories are checked while waiting.
	readyPollEvery = 250 * time.Millisecond
	// resourcesToShow is what the demo lists, with kubectl's resource names.
	resourcesToShow = "imagerepositories,syncrepotasks"
)

// waitUntilReady waits until every sample's ImageRepository is Ready=True for its current
// generation, i.e. the manager has polled the simulator and mirrored every policy. It fails at
// once if the manager exits, and after readyTimeout with what each repository last reported.
func (d *demo) waitUntilReady(ctx context.Context, samples []sample) error {
	d.step("Waiting up to %s for the ImageRepositories to become Ready", readyTimeout)
	started := time.Now()
	pending := map[string]string{} // name -> why it is not Ready yet, from the last check
	err := wait.PollUntilContextTimeout(ctx, readyPollEvery, readyTimeout, true, func(ctx context.Context) (bool, error) {
		if d.manager.exited() {
			return false, fmt.Errorf("%w (%v) before the ImageRepositories became Ready", errManagerExited, d.manager.exitErr)
		}
		clear(pending)
		for _, s := range samples {
			reason, err := d.notReadyReason(ctx, s.name())
			if err != nil {
				return false, err
			}
			if reason != "" {
				pending[s.name()] = reason
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil && ctx.Err() == nil && wait.Interrupted(err) {
		return fmt.Errorf("not Ready after %s: %s; see the manager log above", readyTimeout, describePending(pending))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "    all %d Ready after %s\n", len(samples), time.Since(started).Round(100*time.Millisecond))
	return nil
}

// notReadyReason returns why the named ImageRepository is not Ready, or "" if it is.
func (d *demo) notReadyReason(ctx context.Context, name string) (string, error) {
	var repo swrv1.ImageRepository
	if err := d.client.Get(ctx, types.NamespacedName{Namespace: demoNamespace, Name: name}, &repo); err != nil {
		return "", fmt.Errorf("reading ImageRepository %s/%s: %w", demoNamespace, name, err)
	}
	ready := meta.FindStatusCondition(repo.Status.Conditions, swrv1.ConditionReady)
	switch {
	case ready == nil || ready.ObservedGeneration != repo.Generation:
		return "not reconciled yet", nil
	case ready.Status != "True":
		return fmt.Sprintf("Ready=%s, %s: %s", ready.Status, ready.Reason, ready.Message), nil
	default:
		return "", nil
	}
}

// describePending renders the not-Ready repositories in one line.
func describePending(pending map[string]string) string {
	parts := make([]string, 0, len(pending))
	for _, name := range slices.Sorted(maps.Keys(pending)) {
		parts = append(parts, fmt.Sprintf("ImageRepository %s (%s)", name, pending[name]))
	}
	return strings.Join(parts, "; ")
}

// showResources lists the ImageRepositories and the mirrored SyncRepoTasks with the real
// kubectl, so that the user sees exactly what they will see themselves. Without a working
// kubectl it prints an equivalent table.
func (d *demo) showResources(ctx context.Context) {
	args := []string{"get", resourcesToShow, "-n", demoNamespace, "-o", "wide", "--kubeconfig", d.paths.kubeconfig}
	fmt.Fprintf(d.out, "\n$ kubectl get %s -n %s -o wide\n", resourcesToShow, demoNamespace)
	kubectl, err := exec.LookPath("kubectl")
	if err == nil {
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Stdout = d.out
		cmd.Stderr = d.errOut
		if err = cmd.Run(); err == nil {
			fmt.Fprintln(d.out)
			return
		}
		fmt.Fprintf(d.errOut, "demo: kubectl failed (%v); printing the table itself\n", err)
	} else {
		fmt.Fprintln(d.out, "(kubectl is not on PATH; the demo prints the table itself)")
	}
	if err := d.printTables(ctx); err != nil {
		fmt.Fprintf(d.errOut, "demo: listing the resources: %v\n", err)
	}
	fmt.Fprintln(d.out)
}

// printTables prints what `kubectl get imagerepositories,syncrepotasks -o wide` would, from the
// API.
func (d *demo) printTables(ctx context.Context) error {
	var repos swrv1.ImageRepositoryList
	if err := d.client.List(ctx, &repos, client.InNamespace(demoNamespace)); err != nil {
		return fmt.Errorf("listing ImageRepositories: %w", err)
	}
	var tasks swrv1.SyncRepoTaskList
	if err := d.client.List(ctx, &tasks, client.InNamespace(demoNamespace)); err != nil {
		return fmt.Errorf("listing SyncRepoTasks: %w", err)
	}

	w := tabwriter.NewWriter(d.out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "NAME\tORGANIZATION\tREPOSITORY\tTASKS\tREADY\tSTATUS")
	for _, r := range repos.Items {
		ready, message := "", ""
		if c := meta.FindStatusCondition(r.Status.Conditions, swrv1.ConditionReady); c != nil {
			ready, message = string(c.Status), c.Message
		}
		fmt.Fprintf(w, "imagerepository.%s/%s\t%s\t%s\t%d\t%s\t%s\n", swrv1.GroupVersion.Group, r.Name,
			r.Spec.Organization, r.Spec.Repository, r.Status.TaskCount, ready, message)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "NAME\tORGANIZATION\tREPOSITORY\tTARGET REGION\tTARGET ORGANIZATION\tAUTO SYNC\tOVERRIDE\tLAST SYNC\tID\tUPDATED\tLAST TAG")
	for _, t := range tasks.Items {
		s := t.Status
		lastSync, lastTag := "", ""
		if s.LastSyncJob != nil {
			lastSync, lastTag = s.LastSyncJob.Status, s.LastSyncJob.Tag
		}
		fmt.Fprintf(w, "syncrepotask.%s/%s\t%s\t%s\t%s\t%s\t%t\t%t\t%s\t%s\t%s\t%s\n", swrv1.GroupVersion.Group, t.Name,
			s.Namespace, s.RepoName, s.RemoteRegionID, s.RemoteNamespace, s.SyncAuto, s.Override, lastSync,
			strconv.FormatInt(s.ID, 10), s.UpdatedAt, lastTag)
	}
	return w.Flush()
}

// showReplication prints what the operator read from SWR's sync jobs: each ImageRepository's
// ReplicationHealthy condition and the Replicated condition and failed tags of its tasks.
func (d *demo) showReplication(ctx context.Context) error {
	var repos swrv1.ImageRepositoryList
	if err := d.client.List(ctx, &repos, client.InNamespace(demoNamespace)); err != nil {
		return fmt.Errorf("listing ImageRepositories: %w", err)
	}
	d.step("Replication, from SWR's sync jobs (spec.syncJobs.mode Observe, the default)")
	for _, r := range repos.Items {
		fmt.Fprintf(d.out, "    imagerepository %s: %s\n", r.Name, describeCondition(r.Status.Conditions, swrv1.ConditionReplicationHealthy))
		var tasks swrv1.SyncRepoTaskList
		if err := d.client.List(ctx, &tasks, client.InNamespace(demoNamespace),
			client.MatchingLabels{swrv1.ImageRepositoryLabel: r.Name}); err != nil {
			return fmt.Errorf("listing the SyncRepoTasks of %s: %w", r.Name, err)
		}
		for _, t := range tasks.Items {
			line := "      syncrepotask " + t.Name + ": " + describeCondition(t.Status.Conditions, swrv1.ConditionReplicated)
			if len(t.Status.FailedTags) > 0 {
				line += fmt.Sprintf(" (failedTags: %s)", strings.Join(t.Status.FailedTags, ", "))
			}
			fmt.Fprintln(d.out, line)
		}
	}
	fmt.Fprintln(d.out, "    Ready stays True while polling and mirroring work; ReplicationHealthy and Replicated say\n"+
		"    whether the images reach the policies' targets.")
	fmt.Fprintln(d.out)
	return nil
}

// describeCondition renders a condition as "Type=Status (Reason): message", or says it is absent.
func describeCondition(conditions []metav1.Condition, conditionType string) string {
	c := meta.FindStatusCondition(conditions, conditionType)
	if c == nil {
		return conditionType + " not set"
	}
	return fmt.Sprintf("%s=%s (%s): %s", c.Type, c.Status, c.Reason, c.Message)
}

// showNextSteps tells the user how to explore the running demo.
func (d *demo) showNextSteps() {
	lines := []string{
		"Next steps, in another terminal:",
		"",
		"  export KUBECONFIG=" + d.paths.kubeconfig,
		"  kubectl get swr -n " + demoNamespace + "                                 # everything the operator owns",
		"  kubectl describe swrrepo grpc-helloworld -n " + demoNamespace + "        # conditions and events",
		"  kubectl get srt -n " + demoNamespace + " -w                              # watch the mirrored sync policies",
		"  kubectl get srt -n " + demoNamespace + " -o wide                         # Last Sync and Last Tag: each target's newest sync job",
		fmt.Sprintf("  kubectl describe srt nginx-%d -n %s                  # failedTags and the Replicated condition", nginxPolicies[1].ID, demoNamespace),
		"  kubectl annotate swrrepo nginx -n " + demoNamespace + " " + swrv1.RequestedAtAnnotation + `="$(date +%s)" --overwrite   # poll now`,
		"",
		"The SWR simulator runs inside this process, so it cannot be changed from outside. Instead,",
		fmt.Sprintf("every %s the demo adds policy %d to %s/%s, then removes it again, so that",
			upstreamChangeEvery, livelyPolicy.ID, demoOrganization, nginxRepository),
		"`kubectl get srt -n " + demoNamespace + " -w` shows the operator following upstream changes. No sync job goes",
		fmt.Sprintf("to the target of policy %d, so its task's Replicated condition is Unknown (NoSyncJobs).", livelyPolicy.ID),
		"",
		"The manager's log: " + d.paths.managerLog,
	}
	if !d.once {
		lines = append(lines, "Press Ctrl-C to stop the demo and clean up.")
	}
	fmt.Fprintln(d.out, strings.Join(lines, "\n"))
	fmt.Fprintln(d.out)
}
