package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// hashSuffixLength is how many hex digits of a SHA-256 keep shortened names unique.
const hashSuffixLength = 8

// TaskName returns the name of the SyncRepoTask mirroring policy id of the ImageRepository
// named repoName: "<repoName>-<id>". Kubernetes names may be 253 characters, so for the longest
// ImageRepository names the prefix is shortened and a hash of the full name keeps it unique.
func TaskName(repoName string, id int64) string {
	suffix := "-" + strconv.FormatInt(id, 10)
	if len(repoName)+len(suffix) <= validation.DNS1123SubdomainMaxLength {
		return repoName + suffix
	}
	keep := validation.DNS1123SubdomainMaxLength - len(suffix) - 1 - hashSuffixLength
	return shorten(repoName, keep) + suffix
}

// ImageRepositoryLabelValue returns the value of the swr.imagesync.io/image-repository label for
// an ImageRepository named repoName: the name itself whenever it fits in a label value (63
// characters), otherwise a shortened form with a hash suffix.
func ImageRepositoryLabelValue(repoName string) string {
	if len(repoName) <= validation.LabelValueMaxLength {
		return repoName
	}
	return shorten(repoName, validation.LabelValueMaxLength-1-hashSuffixLength)
}

// shorten cuts name to at most keep characters, trims separators that may not end a name and
// appends "-<hash of the full name>".
func shorten(name string, keep int) string {
	return withHashOf(name[:min(keep, len(name))], name)
}

// withHashOf returns prefix, trimmed of separators that may not end a name, and
// "-<hash of original>", which keeps names derived from different originals apart.
func withHashOf(prefix, original string) string {
	sum := sha256.Sum256([]byte(original))
	return strings.TrimRight(prefix, ".-") + "-" + hex.EncodeToString(sum[:])[:hashSuffixLength]
}

// taskStatusFrom converts an SWR policy to the mirrored status. The conversion is by type: the
// compiler refuses it if the two structs ever stop having the same fields.
func taskStatusFrom(p swr.SyncRepo) swrv1.SyncRepoTaskStatus {
	return swrv1.SyncRepoTaskStatus{SyncRepoPolicy: swrv1.SyncRepoPolicy(p)}
}

// mirrorChanges counts the writes one mirror pass made.
type mirrorChanges struct {
	created, updated, deleted int
}

func (c mirrorChanges) any() bool { return c.created+c.updated+c.deleted > 0 }

func (c mirrorChanges) String() string {
	return fmt.Sprintf("created %d, updated %d, deleted %d sync tasks", c.created, c.updated, c.deleted)
}

// mirror makes the SyncRepoTasks owned by repo match policies exactly: it creates the missing
// ones, writes the ones that differ, deletes the ones SWR no longer lists, and writes nothing
// for the rest. It compares against what the apiserver holds as far as this process knows (the
// cache, or its own last write where the cache does not show it yet), so that the reconcile a
// task's own write triggers does not write it again. It carries on past a failed write so that
// one bad object does not hold back the others, and reports every failure.
func (r *ImageRepositoryReconciler) mirror(ctx context.Context, repo *swrv1.ImageRepository, l listing) (mirrored, error) {
	var out mirrored
	changes := &out.changes
	cached, err := r.ownedTasks(ctx, repo)
	if err != nil {
		return out, err
	}
	now := r.Clock.Now()
	existing, unknown := r.state.believedTasks(repo, cached, now)
	if len(unknown) > 0 {
		if err := r.readTasks(ctx, repo, unknown, cached, existing); err != nil {
			return out, err
		}
	}
	var errs []error
	for _, policy := range l.policies {
		name := TaskName(repo.Name, policy.ID)
		current, found := existing[name]
		delete(existing, name)
		want, err := r.desiredTask(repo, policy, current, l.jobs, now)
		if err != nil {
			return out, err
		}
		out.tasks = append(out.tasks, want)
		var before *swrv1.SyncRepoTaskStatus // the status as it was, for the replication event
		switch {
		case !found:
			err = r.createTask(ctx, repo, want)
			if err == nil {
				changes.created++
			}
		case !taskUpToDate(current, want):
			before = current.Status.DeepCopy() // updateTask reads the written object into current
			err = r.updateTask(ctx, repo, current, want)
			if err == nil {
				changes.updated++
			}
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.recordReplicationEvent(before, want)
	}
	for _, stale := range existing {
		// The UID precondition keeps a task that was deleted and recreated meanwhile safe.
		err := r.Delete(ctx, stale, client.Preconditions{UID: &stale.UID})
		switch {
		case err == nil:
			changes.deleted++
			r.state.rememberDelete(repo, stale.Name, stale.UID)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			errs = append(errs, fmt.Errorf("deleting SyncRepoTask %s: %w", stale.Name, err))
		}
	}
	return out, errors.Join(errs...)
}

// mirrored is what one mirror pass did: its writes, and the tasks it wanted, whether or not
// every write succeeded.
type mirrored struct {
	changes mirrorChanges
	tasks   []*swrv1.SyncRepoTask
}

// recordReplicationEvent tells people on the task itself when its replication turns failed
// (Warning; again when other tags fail) and when it works again (Normal): transitions only.
// before is the task's status before the write, nil for a new task.
func (r *ImageRepositoryReconciler) recordReplicationEvent(before *swrv1.SyncRepoTaskStatus, want *swrv1.SyncRepoTask) {
	is := meta.FindStatusCondition(want.Status.Conditions, swrv1.ConditionReplicated)
	if is == nil || r.Recorder == nil {
		return
	}
	wasFalse, sameTags := false, false
	if before != nil {
		wasFalse = meta.IsStatusConditionFalse(before.Conditions, swrv1.ConditionReplicated)
		sameTags = slices.Equal(before.FailedTags, want.Status.FailedTags)
	}
	switch {
	case is.Status == metav1.ConditionFalse && (!wasFalse || !sameTags):
		r.Recorder.Eventf(want, nil, corev1.EventTypeWarning, is.Reason, "Replicate", "%s", is.Message)
	case is.Status == metav1.ConditionTrue && wasFalse:
		r.Recorder.Eventf(want, nil, corev1.EventTypeNormal, is.Reason, "Replicate", "%s", is.Message)
	}
}

// TaskOwnerIndex indexes SyncRepoTasks by the UID of the ImageRepository that controls them.
const TaskOwnerIndex = ".metadata.ownerReferences.controller.uid"

// TaskOwnerUIDs is the indexer function of TaskOwnerIndex.
func TaskOwnerUIDs(obj client.Object) []string {
	if owner := metav1.GetControllerOf(obj); owner != nil && owner.Kind == "ImageRepository" {
		return []string{string(owner.UID)}
	}
	return nil
}

// ownedTasks lists, by name, the metadata of the SyncRepoTasks that repo controls. It looks them
// up in the cache's owner index rather than by label: a label selector scans every task of the
// namespace, which profiling showed to be most of the manager's CPU at thousands of tasks. A task
// left by an earlier ImageRepository of the same name has another owner UID and is not ours: if
// it has a name we want, createTask adopts it; otherwise the garbage collector removes it.
func (r *ImageRepositoryReconciler) ownedTasks(ctx context.Context, repo *swrv1.ImageRepository) (map[string]*metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(swrv1.GroupVersion.WithKind("SyncRepoTaskList"))
	// Read-only: believedTasks and readTasks only read the metadata, so the cache's own objects
	// do instead of copies.
	if err := r.List(ctx, list, client.InNamespace(repo.Namespace),
		client.MatchingFields{TaskOwnerIndex: string(repo.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing SyncRepoTasks: %w", err)
	}
	owned := make(map[string]*metav1.PartialObjectMetadata, len(list.Items))
	for i := range list.Items {
		owned[list.Items[i].Name] = &list.Items[i]
	}
	return owned, nil
}

// readTasks reads the tasks named unknown, whose content this process does not know (after a
// restart, or when someone else wrote them), into existing, and remembers them: with one list of
// repo's label for all of them, and a read of each task that someone relabelled. A task deleted
// meanwhile is left out, and so created again.
func (r *ImageRepositoryReconciler) readTasks(ctx context.Context, repo *swrv1.ImageRepository, unknown []string,
	cached map[string]*metav1.PartialObjectMetadata, existing map[string]*swrv1.SyncRepoTask) error {
	wanted := make(map[string]bool, len(unknown))
	for _, name := range unknown {
		wanted[name] = true
	}
	list := &swrv1.SyncRepoTaskList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(repo.Namespace),
		client.MatchingLabels{swrv1.ImageRepositoryLabel: ImageRepositoryLabelValue(repo.Name)}); err != nil {
		return fmt.Errorf("reading SyncRepoTasks: %w", err)
	}
	found := func(task *swrv1.SyncRepoTask) {
		delete(wanted, task.Name)
		if !hasController(task, repo.UID) {
			return // no longer ours: the cache will drop it
		}
		existing[task.Name] = task
		shown := cached[task.Name]
		r.state.rememberRead(repo, task, shown != nil && shown.UID == task.UID, r.Clock.Now())
	}
	for i := range list.Items {
		if wanted[list.Items[i].Name] {
			found(&list.Items[i])
		}
	}
	for name := range wanted {
		task := &swrv1.SyncRepoTask{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: repo.Namespace, Name: name}, task)
		switch {
		case err == nil:
			found(task)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading SyncRepoTask %s: %w", name, err)
		}
	}
	return nil
}

// hasController reports whether obj's controller is the object with uid.
func hasController(obj metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == uid
}

// desiredTask builds the SyncRepoTask that mirrors policy, with the replication state that the
// sync jobs show (see withReplication); current is the task as it is, nil when there is none.
func (r *ImageRepositoryReconciler) desiredTask(repo *swrv1.ImageRepository, policy swr.SyncRepo, current *swrv1.SyncRepoTask,
	jobs syncJobs, now time.Time) (*swrv1.SyncRepoTask, error) {
	task, err := mirroringTask(repo, policy, r.Scheme())
	if err != nil {
		return nil, err
	}
	withReplication(&task.Status, current, jobs, now)
	return task, nil
}

// FirstMirrorTask is the SyncRepoTask a first poll writes for policy of repo when SWR lists jobs
// (the sync_job page, newest first, asked for with repo's spec.syncJobs.limit), as of now. It is
// exported so that the benchmark's baseline writes exactly the objects the operator writes, the
// replication state included.
func FirstMirrorTask(repo *swrv1.ImageRepository, policy swr.SyncRepo, jobs []swr.SyncJob, now time.Time, scheme *runtime.Scheme) (*swrv1.SyncRepoTask, error) {
	task, err := mirroringTask(repo, policy, scheme)
	if err != nil {
		return nil, err
	}
	withReplication(&task.Status, nil, syncJobs{observed: true, jobs: jobs, limit: repo.SyncJobsLimit()}, now)
	return task, nil
}

// mirroringTask builds the SyncRepoTask that mirrors policy of repo: its name, label, controller
// reference and the policy in its status.
func mirroringTask(repo *swrv1.ImageRepository, policy swr.SyncRepo, scheme *runtime.Scheme) (*swrv1.SyncRepoTask, error) {
	task := &swrv1.SyncRepoTask{
		ObjectMeta: metav1.ObjectMeta{
			Name:      TaskName(repo.Name, policy.ID),
			Namespace: repo.Namespace,
			Labels:    map[string]string{swrv1.ImageRepositoryLabel: ImageRepositoryLabelValue(repo.Name)},
		},
		Status: taskStatusFrom(policy),
	}
	if err := controllerutil.SetControllerReference(repo, task, scheme); err != nil {
		return nil, fmt.Errorf("setting the owner of SyncRepoTask %s: %w", task.Name, err)
	}
	return task, nil
}

// taskUpToDate reports whether current already holds everything want sets. Labels and owners
// that someone else added are left alone.
func taskUpToDate(current, want *swrv1.SyncRepoTask) bool {
	return equality.Semantic.DeepEqual(current.Status, want.Status) && taskMetadataUpToDate(current, want)
}

// taskMetadataUpToDate reports whether current has want's label and controller reference.
func taskMetadataUpToDate(current, want *swrv1.SyncRepoTask) bool {
	return current.Labels[swrv1.ImageRepositoryLabel] == want.Labels[swrv1.ImageRepositoryLabel] &&
		hasControllerRef(current, want)
}

func hasControllerRef(current, want *swrv1.SyncRepoTask) bool {
	return hasController(current, metav1.GetControllerOf(want).UID)
}

// createTask creates want, then writes its status: the apiserver ignores the status of a create
// once a kind has a status subresource. When a task of that name exists already (the cache had
// not seen it yet, someone removed its label, or an earlier ImageRepository of the same name left
// it), the live object is brought to want instead.
func (r *ImageRepositoryReconciler) createTask(ctx context.Context, repo *swrv1.ImageRepository, want *swrv1.SyncRepoTask) error {
	created := want.DeepCopy()
	created.Status = swrv1.SyncRepoTaskStatus{}
	err := r.Create(ctx, created)
	switch {
	case err == nil:
		return r.writeNewTaskStatus(ctx, repo, created, want.Status)
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("creating SyncRepoTask %s: %w", want.Name, err)
	}
	live := &swrv1.SyncRepoTask{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: want.Namespace, Name: want.Name}, live); err != nil {
		return fmt.Errorf("reading SyncRepoTask %s: %w", want.Name, err)
	}
	if taskUpToDate(live, want) {
		return nil
	}
	return r.updateTask(ctx, repo, live, want)
}

// updateTask brings current to want: its label and controller reference with a metadata patch
// when they differ, then its status.
func (r *ImageRepositoryReconciler) updateTask(ctx context.Context, repo *swrv1.ImageRepository, current, want *swrv1.SyncRepoTask) error {
	if !taskMetadataUpToDate(current, want) {
		patched := current.DeepCopy()
		if patched.Labels == nil {
			patched.Labels = map[string]string{}
		}
		patched.Labels[swrv1.ImageRepositoryLabel] = want.Labels[swrv1.ImageRepositoryLabel]
		owners := []metav1.OwnerReference{*metav1.GetControllerOf(want)}
		for _, ref := range current.OwnerReferences {
			if ref.Controller == nil || !*ref.Controller {
				owners = append(owners, ref)
			}
		}
		patched.OwnerReferences = owners
		// The patch sets absolute values (a label, the whole ownerReferences list) and carries no
		// resourceVersion: applied over a newer version than current, it is still right.
		if err := r.Patch(ctx, patched, client.MergeFrom(current)); err != nil {
			return fmt.Errorf("updating SyncRepoTask %s: %w", want.Name, err)
		}
		current = patched
		if equality.Semantic.DeepEqual(current.Status, want.Status) {
			r.state.rememberWrite(repo, current, r.Clock.Now())
			return nil
		}
	}
	return r.writeTaskStatus(ctx, repo, current, want.Status)
}

// writeTaskStatus writes status to task through the status subresource. The merge patch holds
// every field of the status, not a difference against a copy that may be stale, and no
// resourceVersion: whatever version the apiserver has, the result is status. The object the
// apiserver returns is remembered, so that the event of this write is known as the operator's own.
func (r *ImageRepositoryReconciler) writeTaskStatus(ctx context.Context, repo *swrv1.ImageRepository, task *swrv1.SyncRepoTask, status swrv1.SyncRepoTaskStatus) error {
	patch, err := absoluteStatusPatch(status)
	if err != nil {
		return fmt.Errorf("encoding the status of SyncRepoTask %s: %w", task.Name, err)
	}
	if err := r.Status().Patch(ctx, task, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("writing the status of SyncRepoTask %s: %w", task.Name, err)
	}
	r.state.rememberWrite(repo, task, r.Clock.Now())
	return nil
}

// writeNewTaskStatus writes the status of a task this reconcile has just created. It replaces
// the status of exactly the version the create returned (an update with its resourceVersion),
// which costs the apiserver less than applying a patch; should anything have written the task in
// between, the update is refused and the status is written as for any task.
func (r *ImageRepositoryReconciler) writeNewTaskStatus(ctx context.Context, repo *swrv1.ImageRepository, created *swrv1.SyncRepoTask, status swrv1.SyncRepoTaskStatus) error {
	created.Status = status
	err := r.Status().Update(ctx, created)
	switch {
	case err == nil:
		r.state.rememberWrite(repo, created, r.Clock.Now())
		return nil
	case apierrors.IsConflict(err):
		return r.writeTaskStatus(ctx, repo, created, status)
	}
	return fmt.Errorf("writing the status of SyncRepoTask %s: %w", created.Name, err)
}

// absoluteStatusPatch is a JSON merge patch that sets the whole of status: every field it has,
// and null for each optional (omitempty) field it lacks, so that the result does not depend on
// what the apiserver held before. The status is encoded once and the nulls appended to that
// object, rather than decoded and encoded again: this runs for every task write.
func absoluteStatusPatch(status swrv1.SyncRepoTaskStatus) ([]byte, error) {
	encoded, err := json.Marshal(status)
	if err != nil {
		return nil, err
	}
	var absent []string
	if status.LastSyncJob == nil {
		absent = append(absent, "lastSyncJob")
	}
	if len(status.FailedTags) == 0 {
		absent = append(absent, "failedTags")
	}
	if len(status.Conditions) == 0 {
		absent = append(absent, "conditions")
	}
	var patch bytes.Buffer
	patch.Grow(len(encoded) + 64)
	patch.WriteString(`{"status":`)
	patch.Write(encoded[:len(encoded)-1]) // the object without its closing brace
	for i, field := range absent {
		if i > 0 || len(encoded) > len("{}") {
			patch.WriteByte(',')
		}
		patch.WriteString(`"` + field + `":null`)
	}
	patch.WriteString("}}")
	return patch.Bytes(), nil
}
