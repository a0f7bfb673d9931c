package controllers

import (
	"cmp"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// pollSlots gives every object a fixed phase inside its interval, so that objects created
// together (a cold start, an ImageOrganization discovering 600 repositories) poll SWR evenly
// spread from their second poll on, and forever after, instead of as the crowd they started as.
//
// The objects that share an interval are ordered by a hash of their UID, and the k-th of n gets
// the phase k/n of the interval: evenly spaced, which independent hashed phases (as Prometheus
// spreads scrape targets) are not: 200 random phases in a minute put 7 or more polls into some
// second where the mean is 3.3. The phase depends only on the set of objects, not on when this
// process saw them, so a restarted process computes the same schedule from status once it has
// reconciled every object. When objects come or go, the others' phases move by 1/n of the
// interval at most per change. The zero value is ready to use.
type pollSlots struct {
	mu sync.Mutex
	// groups holds, per interval, its members sorted by slotKey.
	groups map[time.Duration][]slotKey
	// members says which group and key each object has, to move or drop it.
	members map[types.NamespacedName]slotMember
	// seeded is set once every object the cache held was registered (see seed).
	seeded bool
}

// slotObject is what places an object in its group.
type slotObject struct {
	key      types.NamespacedName
	uid      types.UID
	interval time.Duration
}

// seed registers every object load returns, once: the objects the cache holds when the first
// reconcile runs. Without it the first objects reconciled after a start would get phases among
// the few registered so far, and poll twice within an interval once the others had joined. A
// failed load is tried again at the next call.
func (s *pollSlots) seed(load func() ([]slotObject, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seeded {
		return
	}
	objects, err := load()
	if err != nil {
		return
	}
	for _, o := range objects {
		s.registerLocked(o)
	}
	s.seeded = true
}

// slotKey orders the members of a group: by hash, then by name, which breaks the rare tie.
type slotKey struct {
	hash uint64
	name types.NamespacedName
}

func compareSlotKeys(a, b slotKey) int {
	if c := cmp.Compare(a.hash, b.hash); c != 0 {
		return c
	}
	if c := cmp.Compare(a.name.Namespace, b.name.Namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.name.Name, b.name.Name)
}

type slotMember struct {
	interval time.Duration
	key      slotKey
}

// phase returns the phase of the object key (with uid) among the objects polled every interval,
// registering it, or moving it when its UID or interval changed.
func (s *pollSlots) phase(key types.NamespacedName, uid types.UID, interval time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	rank, n := s.registerLocked(slotObject{key: key, uid: uid, interval: interval})
	return time.Duration(int64(interval) / int64(n) * int64(rank))
}

// registerLocked places o in its group and returns its rank there and the group's size. The
// caller holds s.mu.
func (s *pollSlots) registerLocked(o slotObject) (rank, n int) {
	if s.groups == nil {
		s.groups, s.members = map[time.Duration][]slotKey{}, map[types.NamespacedName]slotMember{}
	}
	want := slotMember{interval: o.interval, key: slotKey{hash: uidHash(o.uid), name: o.key}}
	if have, ok := s.members[o.key]; ok && have != want {
		s.removeLocked(have)
	}
	group := s.groups[o.interval]
	rank, found := slices.BinarySearchFunc(group, want.key, compareSlotKeys)
	if !found {
		group = slices.Insert(group, rank, want.key)
		s.groups[o.interval] = group
		s.members[o.key] = want
	}
	return rank, len(group)
}

// forget drops a deleted object, so that the others close the gap.
func (s *pollSlots) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := s.members[key]; ok {
		s.removeLocked(have)
		delete(s.members, key)
	}
}

func (s *pollSlots) removeLocked(m slotMember) {
	group := s.groups[m.interval]
	if i, found := slices.BinarySearchFunc(group, m.key, compareSlotKeys); found {
		group = slices.Delete(group, i, i+1)
	}
	if len(group) == 0 {
		delete(s.groups, m.interval)
		return
	}
	s.groups[m.interval] = group
}

func uidHash(uid types.UID) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return h.Sum64()
}

// nextSlot returns when an object with phase, polled last at lastPoll, is next due: the first
// instant of its grid (phase + k·interval since the Unix epoch) at least three quarters of an
// interval after lastPoll. From the second poll on that is exactly one interval after the
// previous slot, as long as a poll starts within a quarter interval of its slot (lastPollTime is
// the reconcile's start, in whole seconds). The first poll of an object happens whenever it is
// created, so the gap after it is between 0.75 and 1.75 intervals: long enough that a cold start
// of thousands of objects is over before any of them polls again.
func nextSlot(lastPoll time.Time, interval, phase time.Duration) time.Time {
	earliest := lastPoll.Add(interval * 3 / 4)
	offset := (earliest.UnixNano() - int64(phase)) % int64(interval)
	if offset < 0 {
		offset += int64(interval)
	}
	if offset == 0 {
		return earliest
	}
	return earliest.Add(interval - time.Duration(offset))
}
