package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestPollBackoff(t *testing.T) {
	state := newRepoState()
	b := state.backoff
	key := types.NamespacedName{Namespace: "ns", Name: "repo"}
	req := reconcile.Request{NamespacedName: key}
	state.setInterval(key, 10*time.Second)

	var got []time.Duration
	for range 7 {
		got = append(got, b.When(req))
	}
	s := time.Second
	want := []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s, 10 * s}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays = %v, want %v: doubling from 1s, capped at the 10s interval", got, want)
		}
	}

	state.setRetryAfter(key, 42*time.Second)
	if d := b.When(req); d != 42*time.Second {
		t.Fatalf("delay after Retry-After 42s = %v", d)
	}
	if d := b.When(req); d != 10*time.Second {
		t.Fatalf("Retry-After applied to more than one retry: %v", d)
	}

	b.Forget(req)
	if d := b.When(req); d != time.Second {
		t.Fatalf("after Forget the backoff restarts at 1s, got %v", d)
	}

	other := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "new"}}
	for range 20 {
		b.When(other)
	}
	if d := b.When(other); d != retryDefaultCap {
		t.Fatalf("an object whose interval is unknown is capped at %v, got %v", retryDefaultCap, d)
	}

	// A deleted object's limits go with it: its successor of the same name starts uncapped.
	state.forget(key)
	for range 20 {
		b.When(req)
	}
	if d := b.When(req); d != retryDefaultCap {
		t.Fatalf("a forgotten object is capped at %v, got %v", retryDefaultCap, d)
	}
}
