package swr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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

// listedSyncRepo is a SyncRepo as the list call returns it: the SyncRepo, decoded under its own
// JSON names, and its id raw. Being less deeply nested, the raw id hides SyncRepo.ID from
// encoding/json, so that a missing id, a null id and a non-integer id can each be refused instead
// of silently becoming 0. SyncRepo must not have an UnmarshalJSON method: promoted, it would
// decode the whole entry.
type listedSyncRepo struct {
	SyncRepo
	ID json.RawMessage `json:"id"`
}

// decodeSyncRepos decodes a 200 body of the list call. Unknown fields are ignored, but anything
// that makes the listing untrustworthy is an error, because the caller deletes what the listing
// no longer shows: a body that is not a JSON array, an entry without an integer id, or two
// entries with the same id. An empty array yields an empty, non-nil slice.
func decodeSyncRepos(body []byte) ([]SyncRepo, error) {
	return decodeIDArray(body, func(e listedSyncRepo) json.RawMessage { return e.ID },
		func(id int64, e listedSyncRepo) SyncRepo { e.SyncRepo.ID = id; return e.SyncRepo })
}

// listedSyncJob is a SyncJob as the sync_job call returns it, its id raw for the same reason as
// listedSyncRepo's.
type listedSyncJob struct {
	SyncJob
	ID json.RawMessage `json:"id"`
}

// decodeSyncJobs decodes a 200 body of the sync_job call as strictly as decodeSyncRepos: a caller
// that attributes jobs to policies must not mistake a damaged page for a repository without
// jobs, nor count one job twice. The status is kept whatever its value.
func decodeSyncJobs(body []byte) ([]SyncJob, error) {
	return decodeIDArray(body, func(e listedSyncJob) json.RawMessage { return e.ID },
		func(id int64, e listedSyncJob) SyncJob { e.SyncJob.ID = id; return e.SyncJob })
}

// decodeIDArray decodes body as a bare JSON array of W and converts each entry with its exactly
// parsed id. It refuses what makes a listing untrustworthy: what decodeArray refuses, an entry
// without an integer id, two entries with the same id. An empty array yields an empty, non-nil
// slice.
func decodeIDArray[W, T any](body []byte, rawID func(W) json.RawMessage, convert func(int64, W) T) ([]T, error) {
	listed, err := decodeArray[W](body)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(listed))
	seen := make(map[int64]int, len(listed))
	for i, e := range listed {
		id, err := parseID(rawID(e))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("entries %d and %d have the same id %d", first, i, id)
		}
		seen[id] = i
		out[i] = convert(id, e)
	}
	return out, nil
}

// decodeArray decodes body as a bare JSON array of W, an entry embedding the object it carries.
// It refuses a body that is not an array (null included), malformed or truncated JSON, and an
// entry or a known field of the wrong type; unknown fields are ignored. An empty array yields an
// empty, non-nil slice.
func decodeArray[W any](body []byte) ([]W, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body, expected a JSON array")
	}
	// json.Unmarshal would turn null into a nil slice without complaint; insist on an array.
	if trimmed[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %s", describeJSONStart(trimmed))
	}
	var listed []W
	if err := json.Unmarshal(trimmed, &listed); err != nil {
		if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			// encoding/json puts the Go name of the embedded object in front of the field's JSON
			// name, and the body has no such name.
			typeErr.Field = strings.TrimPrefix(typeErr.Field, embeddedName[W]()+".")
		}
		return nil, describeJSONError(err)
	}
	return listed, nil
}

// embeddedName returns the name of the first struct W embeds, or "" if it embeds none.
func embeddedName[W any]() string {
	for _, f := range reflect.VisibleFields(reflect.TypeFor[W]()) {
		if f.Anonymous {
			return f.Name
		}
	}
	return ""
}

// listedRepository is a Repository as the repository listing returns it. The name stays raw,
// hiding Repository.Name as listedSyncRepo's id hides SyncRepo.ID, so that a missing, null,
// non-string or empty name can each be refused; total_range, which is not the repository's but
// the listing's, stays raw because it is only a hint for paging, and a malformed one must not
// spoil the page.
type listedRepository struct {
	Repository
	Name       json.RawMessage `json:"name"`
	TotalRange json.RawMessage `json:"total_range"`
}

// decodeRepositories decodes one 200 page of the repository listing. Unknown fields are ignored,
// but a page the caller cannot trust is refused: what decodeArray refuses, and an entry without
// a non-empty string name, since a caller that deletes what a listing no longer shows must not
// take an unnamed entry for nothing. Duplicate names are not refused here: the same name may
// belong to two organizations the fuzzy namespace filter matched.
//
// totalRange is the total the entries repeat in their total_range field, or -1 when none carries
// a non-negative integer one or they disagree. An empty array yields an empty, non-nil slice.
func decodeRepositories(body []byte) (repos []Repository, totalRange int64, err error) {
	listed, err := decodeArray[listedRepository](body)
	if err != nil {
		return nil, -1, err
	}
	repos = make([]Repository, len(listed))
	totalRange = -1
	for i, e := range listed {
		name, err := parseName(e.Name)
		if err != nil {
			return nil, -1, fmt.Errorf("entry %d: %w", i, err)
		}
		repos[i] = e.Repository
		repos[i].Name = name
		switch total := parseTotalRange(e.TotalRange); {
		case i == 0:
			totalRange = total
		case total != totalRange:
			totalRange = -1
		}
	}
	return repos, totalRange, nil
}

// parseName reads a repository name, which must be a non-empty JSON string.
func parseName(raw json.RawMessage) (string, error) {
	text := bytes.TrimSpace(raw)
	switch {
	case len(text) == 0:
		return "", errors.New("no name")
	case bytes.Equal(text, []byte("null")):
		return "", errors.New("name is null")
	case text[0] != '"':
		return "", errors.New("name is not a string")
	}
	var name string
	if err := json.Unmarshal(text, &name); err != nil {
		return "", describeJSONError(err) // not reached: the array decoded, so this is a valid string
	}
	if name == "" {
		return "", errors.New("name is empty")
	}
	return name, nil
}

// parseTotalRange reads an entry's total_range, or returns -1 when it is absent or not a
// non-negative integer.
func parseTotalRange(raw json.RawMessage) int64 {
	text := string(bytes.TrimSpace(raw))
	if !isDecimal(text) {
		return -1
	}
	total, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return -1
	}
	return total
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
