package swr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an error body may contribute to an Error, so that a misbehaving server cannot
// flood logs, events and status conditions.
const (
	maxMessageRunes = 200
	maxCodeRunes    = 64
)

// wireSyncRepo is SyncRepo as it arrives. The id stays raw so that a missing id, a null id and
// a non-integer id can each be refused instead of silently becoming 0.
type wireSyncRepo struct {
	ID              json.RawMessage `json:"id"`
	CreatedAt       string          `json:"createdAt"`
	UpdatedAt       string          `json:"updatedAt"`
	DomainID        string          `json:"domainID"`
	DomainName      string          `json:"domainName"`
	Namespace       string          `json:"namespace"`
	RepoName        string          `json:"repoName"`
	RemoteRegionID  string          `json:"remoteRegionId"`
	RemoteNamespace string          `json:"remoteNamespace"`
	Override        bool            `json:"override"`
	SyncAuto        bool            `json:"syncAuto"`
}

// decodeSyncRepos decodes a 200 body of the list call. Unknown fields are ignored, but anything
// that makes the listing untrustworthy is an error, because the caller deletes what the listing
// no longer shows: a body that is not a JSON array, an entry without an integer id, or two
// entries with the same id. An empty array yields an empty, non-nil slice.
func decodeSyncRepos(body []byte) ([]SyncRepo, error) {
	return decodeIDArray(body, func(w wireSyncRepo) json.RawMessage { return w.ID },
		func(id int64, w wireSyncRepo) SyncRepo {
			return SyncRepo{
				ID:              id,
				CreatedAt:       w.CreatedAt,
				UpdatedAt:       w.UpdatedAt,
				DomainID:        w.DomainID,
				DomainName:      w.DomainName,
				Namespace:       w.Namespace,
				RepoName:        w.RepoName,
				RemoteRegionID:  w.RemoteRegionID,
				RemoteNamespace: w.RemoteNamespace,
				Override:        w.Override,
				SyncAuto:        w.SyncAuto,
			}
		})
}

// wireSyncJob is SyncJob as it arrives, with the id raw for the same reason as wireSyncRepo's.
type wireSyncJob struct {
	ID               json.RawMessage `json:"id"`
	CreatedAt        string          `json:"createdAt"`
	UpdatedAt        string          `json:"updatedAt"`
	DomainID         string          `json:"domainID"`
	DomainName       string          `json:"domainName"`
	Namespace        string          `json:"namespace"`
	RepoName         string          `json:"repoName"`
	RemoteRegionID   string          `json:"remoteRegionId"`
	RemoteNamespace  string          `json:"remoteNamespace"`
	Override         bool            `json:"override"`
	Status           string          `json:"status"`
	SyncOperatorID   string          `json:"syncOperatorId"`
	SyncOperatorName string          `json:"syncOperatorName"`
	Tag              string          `json:"tag"`
}

// decodeSyncJobs decodes a 200 body of the sync_job call as strictly as decodeSyncRepos: a caller
// that attributes jobs to policies must not mistake a damaged page for a repository without
// jobs, nor count one job twice. The status is kept whatever its value.
func decodeSyncJobs(body []byte) ([]SyncJob, error) {
	return decodeIDArray(body, func(w wireSyncJob) json.RawMessage { return w.ID },
		func(id int64, w wireSyncJob) SyncJob {
			return SyncJob{
				ID:               id,
				CreatedAt:        w.CreatedAt,
				UpdatedAt:        w.UpdatedAt,
				DomainID:         w.DomainID,
				DomainName:       w.DomainName,
				Namespace:        w.Namespace,
				RepoName:         w.RepoName,
				RemoteRegionID:   w.RemoteRegionID,
				RemoteNamespace:  w.RemoteNamespace,
				Override:         w.Override,
				Status:           w.Status,
				SyncOperatorID:   w.SyncOperatorID,
				SyncOperatorName: w.SyncOperatorName,
				Tag:              w.Tag,
			}
		})
}

// decodeIDArray decodes body as a bare JSON array of W and converts each entry with its exactly
// parsed id. It refuses what makes a listing untrustworthy: a body that is not an array (null
// included), malformed or truncated JSON, an entry without an integer id, two entries with the
// same id. An empty array yields an empty, non-nil slice.
func decodeIDArray[W, T any](body []byte, rawID func(W) json.RawMessage, convert func(int64, W) T) ([]T, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body, expected a JSON array")
	}
	// json.Unmarshal would turn null into a nil slice without complaint; insist on an array.
	if trimmed[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %s", describeJSONStart(trimmed))
	}
	var wire []W
	if err := json.Unmarshal(trimmed, &wire); err != nil {
		return nil, describeJSONError(err)
	}
	out := make([]T, len(wire))
	seen := make(map[int64]int, len(wire))
	for i, w := range wire {
		id, err := parseID(rawID(w))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("entries %d and %d have the same id %d", first, i, id)
		}
		seen[id] = i
		out[i] = convert(id, w)
	}
	return out, nil
}

// parseID reads an id exactly. Going through float64 would round ids above 2^53, and two
// distinct policies could then share an id.
func parseID(raw json.RawMessage) (int64, error) {
	text := string(bytes.TrimSpace(raw))
	switch {
	case text == "":
		return 0, errors.New("no id")
	case text == "null":
		return 0, errors.New("id is null")
	case text[0] == '"':
		return 0, errors.New("id is a string, expected an integer")
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("id does not fit in a 64-bit integer")
	}
	if err != nil {
		return 0, errors.New("id is not an integer")
	}
	return id, nil
}

// describeJSONStart names the kind of JSON value that begins b, for "expected X, got Y".
func describeJSONStart(b []byte) string {
	switch {
	case b[0] == '{':
		return "an object"
	case b[0] == '"':
		return "a string"
	case bytes.Equal(b, []byte("null")):
		return "null"
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		return "a boolean"
	case b[0] == '-' || '0' <= b[0] && b[0] <= '9':
		return "a number"
	default:
		return "something that is not JSON"
	}
}

// describeJSONError turns an encoding/json error into a short message. Its messages quote at
// most a character or a Go type, never the body, so they are safe to pass on.
func describeJSONError(err error) error {
	if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if typeErr.Field != "" {
			return fmt.Errorf("field %q is a JSON %s, expected %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return fmt.Errorf("an entry is a JSON %s, expected an object", typeErr.Value)
	}
	// A body that stops early most likely met a cut connection or a truncating proxy, which is
	// worth saying plainly. encoding/json has no sentinel for it, only this message.
	if syntaxErr, ok := errors.AsType[*json.SyntaxError](err); ok && syntaxErr.Error() == "unexpected end of JSON input" {
		return errors.New("truncated JSON")
	}
	return fmt.Errorf("malformed JSON: %s", sanitize(err.Error(), maxMessageRunes))
}

// oldErrorEntry is one entry of the old error body form,
// [{"errorCode":"SVCSTG.SWR.4001048","errorMessage":"...","detail":""}], which also appears
// inside the "errors" list of the new form.
type oldErrorEntry struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// newErrorBody is the new error body form,
// {"error_code":"...","error_msg":"...","errors":[...]}, which the API gateway also uses
// ({"error_code":"APIG.0308","error_msg":"..."}). Some services put the old field names at the
// top level of an object; those are read too.
type newErrorBody struct {
	ErrorCode string          `json:"error_code"`
	ErrorMsg  string          `json:"error_msg"`
	Errors    []oldErrorEntry `json:"errors"`
	oldErrorEntry
}

// parseErrorBody extracts SWR's error code and message from a non-2xx body in either form. A
// body that is neither (an HTML page from a proxy, an empty body) yields "", "": its text is
// not something to show a person. Both results are sanitized and shortened.
func parseErrorBody(body []byte) (code, message string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", ""
	}
	switch trimmed[0] {
	case '[':
		var entries []oldErrorEntry
		if !unmarshalLenient(trimmed, &entries) {
			return "", ""
		}
		for _, e := range entries {
			if e.ErrorCode != "" || e.ErrorMessage != "" {
				code, message = e.ErrorCode, e.ErrorMessage
				break
			}
		}
	case '{':
		var b newErrorBody
		if !unmarshalLenient(trimmed, &b) {
			return "", ""
		}
		code, message = b.ErrorCode, b.ErrorMsg
		for _, e := range append(b.Errors, b.oldErrorEntry) {
			if code == "" {
				code = e.ErrorCode
			}
			if message == "" {
				message = e.ErrorMessage
			}
		}
	default:
		return "", ""
	}
	return sanitize(code, maxCodeRunes), sanitize(message, maxMessageRunes)
}

// unmarshalLenient decodes body into v and reports whether the result is usable. A field of an
// unexpected type (say, a numeric error_code) does not spoil the fields that did decode.
func unmarshalLenient(body []byte, v any) bool {
	err := json.Unmarshal(body, v)
	if err == nil {
		return true
	}
	_, typeErr := errors.AsType[*json.UnmarshalTypeError](err)
	return typeErr
}

// sanitize makes text from the server fit for a log line or a status condition: invalid UTF-8
// is replaced, control and format characters (newlines, escape sequences, bidi overrides) become
// spaces, runs of spaces collapse, and the result is cut to at most limit runes plus an ellipsis.
func sanitize(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return strings.TrimSpace(string(runes[:limit])) + "…"
}
