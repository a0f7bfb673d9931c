package controllers

import (
	"fmt"
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
	phase := 3*time.Minute + 7*time.Second
	next := nextSlot(last, interval, phase)

	tests := []struct {
		name    string
		repo    *swrv1.ImageRepository
		now     time.Time
		wantDue bool
		why     string
	}{
		{name: "just polled", repo: repoAt(nil), now: last.Add(time.Second)},
		{name: "one second before due", repo: repoAt(nil), now: next.Add(-time.Second)},
		{name: "due exactly", repo: repoAt(nil), now: next, wantDue: true, why: "interval elapsed"},
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
			got := nextPoll(tt.repo, tt.now, time.Second, phase)
			if got.due != tt.wantDue || got.why != tt.why {
				t.Fatalf("nextPoll() = %+v, want due=%v why=%q", got, tt.wantDue, tt.why)
			}
			if !got.due && got.wait != next.Sub(tt.now) {
				t.Fatalf("wait = %v, want %v", got.wait, next.Sub(tt.now))
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
	got := nextPoll(repo, last.Add(10*time.Second), 30*time.Second, 0)
	if got.due {
		t.Fatalf("a 1s interval under a 30s minimum was due after 10s")
	}
	// The first slot of the 30s grid at least 22.5s after 03:04:05 is 03:04:30: 15s after now.
	if got.wait != 15*time.Second {
		t.Fatalf("wait = %v, want 15s (the 30s grid's slot at 03:04:30)", got.wait)
	}
}

func TestNextSlot(t *testing.T) {
	interval := 5 * time.Minute
	phase := 97 * time.Second
	onGrid := func(at time.Time) bool {
		return (at.UnixNano()-int64(phase))%int64(interval) == 0
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for offset := time.Duration(0); offset < interval; offset += 7 * time.Second {
		first := created.Add(offset)
		second := nextSlot(first, interval, phase)
		if !onGrid(second) {
			t.Fatalf("after a first poll at +%v: %v is not on the grid of phase %v", offset, second, phase)
		}
		// The first gap depends on when the object was created: from 0.75 to 1.75 intervals.
		if gap := second.Sub(first); gap < interval*3/4 || gap >= interval*7/4 {
			t.Fatalf("after a first poll at +%v: first gap %v, want [%v, %v)", offset, gap, interval*3/4, interval*7/4)
		}
		// From then on the gap is exactly the interval, even though lastPollTime keeps only
		// whole seconds of a poll that ran a little after its slot.
		last := second
		for range 5 {
			polledAt := last.Add(700 * time.Millisecond).Truncate(time.Second)
			next := nextSlot(polledAt, interval, phase)
			if next.Sub(last) != interval {
				t.Fatalf("steady gap %v after the slot %v, want %v", next.Sub(last), last, interval)
			}
			last = next
		}
	}
}

func TestPollSlotsSpreadEvenly(t *testing.T) {
	interval := time.Minute
	const objects = 200
	var slots pollSlots
	key := func(i int) types.NamespacedName {
		return types.NamespacedName{Namespace: "team", Name: fmt.Sprintf("repo-%03d", i)}
	}
	uid := func(i int) types.UID { return types.UID(fmt.Sprintf("5f0c1d2e-%04d-4b8a-9c61-0e2f5d8b7a14", i)) }
	for i := range objects {
		slots.phase(key(i), uid(i), interval)
	}
	perSecond := map[time.Duration]int{}
	phases := map[time.Duration]bool{}
	for i := range objects {
		p := slots.phase(key(i), uid(i), interval)
		if p < 0 || p >= interval {
			t.Fatalf("phase %v outside [0, %v)", p, interval)
		}
		phases[p] = true
		perSecond[p/time.Second]++
	}
	if len(phases) != objects {
		t.Fatalf("%d distinct phases for %d objects", len(phases), objects)
	}
	// Evenly spaced: 200 polls a minute are 3 or 4 in every second, where independent random
	// phases put 7 or more into some second.
	for second, n := range perSecond {
		if n > 4 {
			t.Fatalf("%d polls in second %v of the interval, want at most 4", n, second)
		}
	}

	// Another process that meets the same objects in another order computes the same phases.
	var restarted pollSlots
	for i := objects - 1; i >= 0; i-- {
		restarted.phase(key(i), uid(i), interval)
	}
	for i := range objects {
		if a, b := slots.phase(key(i), uid(i), interval), restarted.phase(key(i), uid(i), interval); a != b {
			t.Fatalf("object %d: phase %v, but %v after a restart", i, a, b)
		}
	}

	// A deleted object leaves no hole, and the others move by one slot at most.
	before := slots.phase(key(7), uid(7), interval)
	slots.forget(key(3))
	after := slots.phase(key(7), uid(7), interval)
	if diff := (before - after).Abs(); diff > interval/objects+time.Millisecond {
		t.Fatalf("forgetting one object moved another's phase by %v", diff)
	}
	// An object whose interval changes leaves its old group, and a recreated object (new UID)
	// takes a new place instead of a second one.
	slots.phase(key(8), uid(8), 2*interval)
	slots.phase(key(9), "recreated", interval)
	if n := len(slots.groups[interval]); n != objects-2 {
		t.Fatalf("the 1m group has %d members, want %d", n, objects-2)
	}
	if n := len(slots.groups[2*interval]); n != 1 {
		t.Fatalf("the 2m group has %d members, want 1", n)
	}
}
