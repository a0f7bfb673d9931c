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

// mirror makes the SyncRepoTasks owned by repo match wanted exactly: it creates the missing
// ones, writes the ones that differ, deletes the ones SWR no longer lists, and writes nothing
// for the rest. It compares against the cache: should the cache not show a write of this process
// yet, the write is made again, which changes nothing on the apiserver. It carries on past a
// failed write so that one bad object does not hold back the others, and reports every failure.
func (r *ImageRepositoryReconciler) mirror(ctx context.Context, repo *swrv1.ImageRepository, wanted []swrv1.SyncRepoTaskStatus) (mirrorChanges, error) {
	var changes mirrorChanges
	existing, err := r.ownedTasks(ctx, repo)
	if err != nil {
		return changes, err
	}
	var errs []error
	for i := range wanted {
		want, err := mirroringTask(repo, wanted[i], r.Scheme())
		if err != nil {
			return changes, err
		}
		current, found := existing[want.Name]
		delete(existing, want.Name)
		var before *swrv1.SyncRepoTaskStatus // the status as it was, for the replication event
		var written *swrv1.SyncRepoTask
		switch {
		case !found:
			var created bool
			written, created, err = r.createTask(ctx, want)
			switch {
			case err != nil:
			case written == nil:
				continue // the cache did not show it yet; it is as wanted
			case created:
				changes.created++
			default:
				changes.updated++
			}
		case !taskUpToDate(current, want):
			before = &current.Status
			written, err = r.updateTask(ctx, current.DeepCopy(), want)
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
		r.recordReplicationEvent(before, written)
	}
	for _, stale := range existing {
		// The UID precondition keeps a task that was deleted and recreated meanwhile safe.
		err := r.Delete(ctx, stale.DeepCopy(), client.Preconditions{UID: &stale.UID})
		switch {
		case err == nil:
			changes.deleted++
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			errs = append(errs, fmt.Errorf("deleting SyncRepoTask %s: %w", stale.Name, err))
		}
	}
	return changes, errors.Join(errs...)
}

// recordReplicationEvent tells people on the task itself when its replication turns failed
// (Warning; again when other tags fail) and when it works again (Normal): transitions only.
// before is the task's status before the write, nil for a new task; written is the task as the
// apiserver returned it from the write, whose UID is what `kubectl describe` finds events by.
func (r *ImageRepositoryReconciler) recordReplicationEvent(before *swrv1.SyncRepoTaskStatus, written *swrv1.SyncRepoTask) {
	is := meta.FindStatusCondition(written.Status.Conditions, swrv1.ConditionReplicated)
	if is == nil || r.Recorder == nil {
		return
	}
	wasFalse, sameTags := false, false
	if before != nil {
		wasFalse = meta.IsStatusConditionFalse(before.Conditions, swrv1.ConditionReplicated)
		sameTags = slices.Equal(before.FailedTags, written.Status.FailedTags)
	}
	switch {
	case is.Status == metav1.ConditionFalse && (!wasFalse || !sameTags):
		r.Recorder.Eventf(written, nil, corev1.EventTypeWarning, is.Reason, "Replicate", "%s", is.Message)
	case is.Status == metav1.ConditionTrue && wasFalse:
		r.Recorder.Eventf(written, nil, corev1.EventTypeNormal, is.Reason, "Replicate", "%s", is.Message)
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

// ownedTasks lists, by name, the SyncRepoTasks that repo controls, as the cache holds them: the
// caller must not change them. It looks them up in the cache's owner index rather than by label:
// a label selector scans every task of the namespace, which profiling showed to be most of the
// manager's CPU at thousands of tasks. A task left by an earlier ImageRepository of the same name
// has another owner UID and is not ours: if it has a name we want, createTask adopts it;
// otherwise the garbage collector removes it.
func (r *ImageRepositoryReconciler) ownedTasks(ctx context.Context, repo *swrv1.ImageRepository) (map[string]*swrv1.SyncRepoTask, error) {
	list := &swrv1.SyncRepoTaskList{}
	// Read-only: the cache's own objects instead of copies; a task is copied before a write.
	if err := r.List(ctx, list, client.InNamespace(repo.Namespace),
		client.MatchingFields{TaskOwnerIndex: string(repo.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing SyncRepoTasks: %w", err)
	}
	owned := make(map[string]*swrv1.SyncRepoTask, len(list.Items))
	for i := range list.Items {
		owned[list.Items[i].Name] = &list.Items[i]
	}
	return owned, nil
}

// hasController reports whether obj's controller is the object with uid.
func hasController(obj metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == uid
}

// wantedStatuses are the statuses of the tasks that mirror the listed policies, with the
// replication state that the sync jobs show (see withReplication), given the tasks as they are.
func wantedStatuses(l listing, existing map[string]*swrv1.SyncRepoTask, repoName string, now time.Time) []swrv1.SyncRepoTaskStatus {
	statuses := make([]swrv1.SyncRepoTaskStatus, len(l.policies))
	for i, policy := range l.policies {
		statuses[i] = taskStatusFrom(policy)
		withReplication(&statuses[i], existing[TaskName(repoName, policy.ID)], l.jobs, now)
	}
	return statuses
}

// FirstMirrorTask is the SyncRepoTask a first poll writes for policy of repo when SWR lists jobs
// (the sync_job page, newest first, asked for with repo's spec.syncJobs.limit), as of now. It is
// exported so that the benchmark's baseline writes exactly the objects the operator writes, the
// replication state included.
func FirstMirrorTask(repo *swrv1.ImageRepository, policy swr.SyncRepo, jobs []swr.SyncJob, now time.Time, scheme *runtime.Scheme) (*swrv1.SyncRepoTask, error) {
	l := listing{policies: []swr.SyncRepo{policy}, jobs: syncJobs{observed: true, jobs: jobs, limit: repo.SyncJobsLimit()}}
	return mirroringTask(repo, wantedStatuses(l, nil, repo.Name, now)[0], scheme)
}

// mirroringTask builds the SyncRepoTask with status of repo: its name, label, controller
// reference and status.
func mirroringTask(repo *swrv1.ImageRepository, status swrv1.SyncRepoTaskStatus, scheme *runtime.Scheme) (*swrv1.SyncRepoTask, error) {
	task := &swrv1.SyncRepoTask{
		ObjectMeta: metav1.ObjectMeta{
			Name:      TaskName(repo.Name, status.ID),
			Namespace: repo.Namespace,
			Labels:    map[string]string{swrv1.ImageRepositoryLabel: ImageRepositoryLabelValue(repo.Name)},
		},
		Status: status,
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

// createTask creates want, then writes its status (the apiserver ignores the status of a create
// once a kind has a status subresource), and returns the task as the apiserver holds it, and
// whether it created it. When a task of that name exists already (the cache had not shown it
// yet, someone removed its label, or an earlier ImageRepository of the same name left it), the
// live object is brought to want instead; nil is returned when it was as wanted already.
func (r *ImageRepositoryReconciler) createTask(ctx context.Context, want *swrv1.SyncRepoTask) (written *swrv1.SyncRepoTask, created bool, err error) {
	fresh := want.DeepCopy()
	fresh.Status = swrv1.SyncRepoTaskStatus{}
	err = r.Create(ctx, fresh)
	switch {
	case err == nil:
		written, err = r.writeNewTaskStatus(ctx, fresh, want.Status)
		return written, true, err
	case !apierrors.IsAlreadyExists(err):
		return nil, false, fmt.Errorf("creating SyncRepoTask %s: %w", want.Name, err)
	}
	live := &swrv1.SyncRepoTask{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
		return nil, false, fmt.Errorf("reading SyncRepoTask %s: %w", want.Name, err)
	}
	if taskUpToDate(live, want) {
		return nil, false, nil
	}
	written, err = r.updateTask(ctx, live, want)
	return written, false, err
}

// updateTask brings current, a copy the caller owns, to want: its label and controller reference
// with a metadata patch when they differ, then its status. It returns the task as the apiserver
// holds it.
func (r *ImageRepositoryReconciler) updateTask(ctx context.Context, current, want *swrv1.SyncRepoTask) (*swrv1.SyncRepoTask, error) {
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
			return nil, fmt.Errorf("updating SyncRepoTask %s: %w", want.Name, err)
		}
		current = patched
		if equality.Semantic.DeepEqual(current.Status, want.Status) {
			return current, nil
		}
	}
	return r.writeTaskStatus(ctx, current, want.Status)
}

// writeTaskStatus writes status to task through the status subresource, and returns the task as
// the apiserver holds it. The merge patch holds every field of the status, not a difference
// against a copy that may be stale, and no resourceVersion: whatever version the apiserver has,
// the result is status.
func (r *ImageRepositoryReconciler) writeTaskStatus(ctx context.Context, task *swrv1.SyncRepoTask, status swrv1.SyncRepoTaskStatus) (*swrv1.SyncRepoTask, error) {
	patch, err := absoluteStatusPatch(status)
	if err != nil {
		return nil, fmt.Errorf("encoding the status of SyncRepoTask %s: %w", task.Name, err)
	}
	if err := r.Status().Patch(ctx, task, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return nil, fmt.Errorf("writing the status of SyncRepoTask %s: %w", task.Name, err)
	}
	return task, nil
}

// writeNewTaskStatus writes the status of a task this reconcile has just created. It replaces
// the status of exactly the version the create returned (an update with its resourceVersion),
// which costs the apiserver less than applying a patch; should anything have written the task in
// between, the update is refused as a conflict and the status is written as for any task.
func (r *ImageRepositoryReconciler) writeNewTaskStatus(ctx context.Context, created *swrv1.SyncRepoTask, status swrv1.SyncRepoTaskStatus) (*swrv1.SyncRepoTask, error) {
	created.Status = status
	err := r.Status().Update(ctx, created)
	switch {
	case err == nil:
		return created, nil
	case apierrors.IsConflict(err):
		return r.writeTaskStatus(ctx, created, status)
	}
	return nil, fmt.Errorf("writing the status of SyncRepoTask %s: %w", created.Name, err)
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
