package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestMetric is the apiserver's counter of handled requests.
const requestMetric = "apiserver_request_total"

// requestKey is one series of apiserver_request_total, reduced to the labels the report uses.
type requestKey struct {
	verb        string // GET, LIST, WATCH, POST, PUT, PATCH, DELETE, ...
	resource    schema.GroupResource
	subresource string
	code        string
}

// requestCounts are apiserver_request_total values at one moment. The difference of two
// snapshots counts exactly the requests the apiserver completed in between, which is how the
// report splits an operator's traffic into creates, patches, reads and events.
type requestCounts map[requestKey]float64

// parseRequestCounts reads the apiserver_request_total series from a /metrics page in the
// Prometheus text format. Only that family is parsed: the page holds megabytes of histograms.
func parseRequestCounts(page []byte) (requestCounts, error) {
	counts := requestCounts{}
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), requestMetric+"{")
		if !ok {
			continue
		}
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("malformed %s line %q", requestMetric, sc.Text())
		}
		labels, err := parseLabels(rest[:end])
		if err != nil {
			return nil, fmt.Errorf("malformed %s line %q: %w", requestMetric, sc.Text(), err)
		}
		valueField := strings.Fields(rest[end+1:])
		if len(valueField) == 0 {
			return nil, fmt.Errorf("malformed %s line %q: no value", requestMetric, sc.Text())
		}
		value, err := strconv.ParseFloat(valueField[0], 64)
		if err != nil {
			return nil, fmt.Errorf("malformed %s line %q: %w", requestMetric, sc.Text(), err)
		}
		key := requestKey{
			verb:        labels["verb"],
			resource:    schema.GroupResource{Group: labels["group"], Resource: labels["resource"]},
			subresource: labels["subresource"],
			code:        labels["code"],
		}
		counts[key] += value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /metrics: %w", err)
	}
	return counts, nil
}

// parseLabels reads `a="x",b="y \"quoted\""` into a map.
func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(rest, `"`) {
			return nil, fmt.Errorf("label without a quoted value at %q", s)
		}
		// Find the closing quote, skipping escaped characters.
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
			}
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("unterminated label value at %q", rest)
		}
		value, err := strconv.Unquote(rest[:i+1])
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", name, err)
		}
		labels[strings.TrimSpace(name)] = value
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest[i+1:]), ","))
	}
	return labels, nil
}

// minus returns the requests counted in c but not yet in earlier.
func (c requestCounts) minus(earlier requestCounts) requestCounts {
	diff := requestCounts{}
	for k, v := range c {
		if d := v - earlier[k]; d > 0 {
			diff[k] = d
		}
	}
	return diff
}

// sum adds the series that match.
func (c requestCounts) sum(match func(requestKey) bool) int {
	total := 0.0
	for k, v := range c {
		if match(k) {
			total += v
		}
	}
	return int(total)
}

// isWrite reports whether verb changes state.
func isWrite(verb string) bool {
	switch verb {
	case "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY":
		return true
	}
	return false
}

// trafficSummary is the apiserver traffic of one phase, in the categories the report shows.
type trafficSummary struct {
	taskCreates        int // SyncRepoTask POSTs that succeeded
	taskCreateFailures int // SyncRepoTask POSTs refused, e.g. 409 AlreadyExists
	taskOtherWrites    int // SyncRepoTask PUT, PATCH, DELETE
	statusPatches      int // ImageRepository status writes
	otherRepoWrites    int // ImageRepository writes other than status
	gets               int // GETs of single objects of any resource (not of /metrics)
	secretGets         int // of which GETs of Secrets
	lists              int // LISTs of any resource
	events             int // Event writes (core and events.k8s.io)
	writes             int // every write of any resource
}

// summarize sorts a snapshot difference into the report's categories.
func summarize(c requestCounts) trafficSummary {
	var t trafficSummary
	for k, v := range c {
		n := int(v)
		switch {
		case k.resource == syncRepoTasks && k.verb == "POST" && strings.HasPrefix(k.code, "2"):
			t.taskCreates += n
		case k.resource == syncRepoTasks && k.verb == "POST":
			t.taskCreateFailures += n
		case k.resource == syncRepoTasks && isWrite(k.verb):
			t.taskOtherWrites += n
		case k.resource == imageRepositories && k.subresource == "status" && isWrite(k.verb):
			t.statusPatches += n
		case k.resource == imageRepositories && isWrite(k.verb):
			t.otherRepoWrites += n
		case k.resource.Resource == "events" && isWrite(k.verb):
			t.events += n
		}
		switch {
		case k.verb == "GET" && k.resource.Resource != "":
			t.gets += n
			if k.resource.Resource == "secrets" {
				t.secretGets += n
			}
		case k.verb == "LIST":
			t.lists += n
		case isWrite(k.verb):
			t.writes += n
		}
	}
	return t
}
