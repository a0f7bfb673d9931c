package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

func TestNextPoll(t *testing.T) {
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	interval := 10 * time.Minute
	repoAt := func(mutate func(*swrv1.ImageRepository)) *swrv1.ImageRepository {
		repo := &swrv1.ImageRepository{
			ObjectMeta: metav1.ObjectMeta{UID: types.UID("uid-1"), Generation: 3},
			Spec:       swrv1.ImageRepositorySpec{Interval: &metav1.Duration{Duration: interval}},
			Status: swrv1.ImageRepositoryStatus{
				ObservedGeneration: 3,
				LastPollTime:       &metav1.Time{Time: last},
				Conditions: []metav1.Condition{{Type: swrv1.ConditionReady, Status: metav1.ConditionTrue,
					Reason: swrv1.ReasonSucceeded}},
			},
		}
		if mutate != nil {
			mutate(repo)
		}
		return repo
	}
	jittered := jitteredInterval(interval, "uid-1", last)

	tests := []struct {
		name    string
		repo    *swrv1.ImageRepository
		now     time.Time
		wantDue bool
		why     string
	}{
		{name: "just polled", repo: repoAt(nil), now: last.Add(time.Second)},
		{name: "one second before due", repo: repoAt(nil), now: last.Add(jittered - time.Second)},
		{name: "due exactly", repo: repoAt(nil), now: last.Add(jittered), wantDue: true, why: "interval elapsed"},
		{name: "new generation", repo: repoAt(func(r *swrv1.ImageRepository) { r.Generation = 4 }),
			now: last.Add(time.Second), wantDue: true, why: "new generation"},
		{name: "never polled", repo: repoAt(func(r *swrv1.ImageRepository) { r.Status.LastPollTime = nil }),
			now: last, wantDue: true, why: "never polled"},
		{name: "new requested-at", repo: repoAt(func(r *swrv1.ImageRepository) {
			r.Annotations = map[string]string{swrv1.RequestedAtAnnotation: "b"}
			r.Status.LastHandledReconcileAt = "a"
		}), now: last.Add(time.Second), wantDue: true, why: "requested by annotation"},
		{name: "handled requested-at", repo: repoAt(func(r *swrv1.ImageRepository) {
			r.Annotations = map[string]string{swrv1.RequestedAtAnnotation: "a"}
			r.Status.LastHandledReconcileAt = "a"
		}), now: last.Add(time.Second)},
		{name: "retrying a transient failure", repo: repoAt(func(r *swrv1.ImageRepository) {
			r.Status.Conditions = append(r.Status.Conditions, metav1.Condition{
				Type: swrv1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: swrv1.ReasonRetrying})
		}), now: last.Add(time.Second), wantDue: true, why: "retrying after a transient failure"},
		{name: "stalled waits for the interval", repo: repoAt(func(r *swrv1.ImageRepository) {
			r.Status.Conditions = []metav1.Condition{{Type: swrv1.ConditionStalled, Status: metav1.ConditionTrue,
				Reason: swrv1.ReasonAuthenticationFailed}}
		}), now: last.Add(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextPoll(tt.repo, tt.now, time.Second)
			if got.due != tt.wantDue || got.why != tt.why {
				t.Fatalf("nextPoll() = %+v, want due=%v why=%q", got, tt.wantDue, tt.why)
			}
			if !got.due && got.wait != last.Add(jittered).Sub(tt.now) {
				t.Fatalf("wait = %v, want %v", got.wait, last.Add(jittered).Sub(tt.now))
			}
		})
	}
}

func TestNextPollRaisesShortIntervalsToTheMinimum(t *testing.T) {
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	repo := &swrv1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{UID: "uid", Generation: 1},
		Spec:       swrv1.ImageRepositorySpec{Interval: &metav1.Duration{Duration: time.Second}},
		Status:     swrv1.ImageRepositoryStatus{ObservedGeneration: 1, LastPollTime: &metav1.Time{Time: last}},
	}
	got := nextPoll(repo, last.Add(10*time.Second), 30*time.Second)
	if got.due {
		t.Fatalf("a 1s interval under a 30s minimum was due after 10s")
	}
	if got.wait < 17*time.Second || got.wait > 23*time.Second {
		t.Fatalf("wait = %v, want about 20s (30s +-10%% minus 10s)", got.wait)
	}
}

func TestJitteredInterval(t *testing.T) {
	interval := 5 * time.Minute
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var low, high int
	seen := map[time.Duration]bool{}
	for i := range 2000 {
		uid := types.UID("object-" + string(rune('a'+i%26)) + time.Duration(i).String())
		got := jitteredInterval(interval, string(uid), start.Add(time.Duration(i)*time.Second))
		if got < interval*9/10 || got >= interval*11/10 {
			t.Fatalf("jitteredInterval = %v, outside [4m30s, 5m30s)", got)
		}
		if got < interval {
			low++
		} else {
			high++
		}
		seen[got] = true
	}
	// Spread, not a constant: both halves used, and nearly every object gets its own offset.
	if low < 800 || high < 800 || len(seen) < 1900 {
		t.Fatalf("poor spread: %d below, %d above the interval, %d distinct values", low, high, len(seen))
	}
}

// TestJitteredIntervalIsPinned pins the schedule of fixed objects. A restarted operator must
// compute the very same next poll from the status alone, so any change to the hash, its inputs or
// the scaling shows up here: a new formula would move every repository's schedule once, and a
// random draw would move it on every restart. The literals were computed once from the current
// formula.
func TestJitteredIntervalIsPinned(t *testing.T) {
	const (
		uidA = "3f1c9a52-7d4e-4b8a-9c61-0e2f5d8b7a14"
		uidB = "b7e2d0c4-1a9f-4e3b-8d57-6c0a2f9e1b83"
	)
	interval := 5 * time.Minute
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		uid      string
		lastPoll time.Time
		want     time.Duration
	}{
		{name: "object A, first round", uid: uidA, lastPoll: start, want: 287620719216},
		{name: "object A, next round", uid: uidA, lastPoll: start.Add(interval), want: 320929781932},
		// lastPollTime is stored with whole seconds: the fraction a live clock has must not move
		// the schedule once the status has been read back.
		{name: "object A, first round, sub-second last poll", uid: uidA, lastPoll: start.Add(500 * time.Millisecond), want: 287620719216},
		{name: "object B, first round", uid: uidB, lastPoll: start, want: 325918361913},
		{name: "object B, next round", uid: uidB, lastPoll: start.Add(interval), want: 292211044803},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jitteredInterval(interval, tt.uid, tt.lastPoll)
			if got != tt.want {
				t.Fatalf("jitteredInterval(%v, %q, %v) = %v (%d), want %v (%d)",
					interval, tt.uid, tt.lastPoll, got, int64(got), tt.want, int64(tt.want))
			}
			// The pinned values themselves must respect the documented +-10% bound.
			if got < interval*9/10 || got >= interval*11/10 {
				t.Fatalf("jitteredInterval = %v, outside [4m30s, 5m30s)", got)
			}
		})
	}
	// Objects and rounds must differ, or repositories created together would poll together.
	a0, a1 := jitteredInterval(interval, uidA, start), jitteredInterval(interval, uidA, start.Add(interval))
	b0 := jitteredInterval(interval, uidB, start)
	if a0 == b0 || a0 == a1 {
		t.Fatalf("schedules do not differ: A %v then %v, B %v", a0, a1, b0)
	}
	// The factor scales with the interval: an hour gives the same factor as five minutes.
	if got, want := jitteredInterval(time.Hour, uidA, start), time.Duration(3451448630603); got != want {
		t.Fatalf("jitteredInterval(1h, A, start) = %v (%d), want %v", got, int64(got), want)
	}
}
