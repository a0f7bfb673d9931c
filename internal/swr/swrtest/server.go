// Package swrtest runs an in-process SWR API for tests, the demo and benchmarks.
//
// The Server speaks the real wire format of the sync policy listing (sync_repo), of the sync
// job listing (sync_job, with its required filter parameter and Content-Range header) and of an
// organization's repository listing (/v2/manage/repos, with its fuzzy namespace match, limit and
// offset): the path with '$' standing for '/', the mandatory Content-Type header, bare JSON
// arrays on success, and both forms of SWR's error bodies. Faults (error statuses, odd bodies,
// hangs) can be injected per repository, or per organization for the repository listing, for
// each listing on its own.
//
// It authenticates requests the three ways SWR does: a static X-Auth-Token (SetToken), a token
// issued by its own IAM endpoint (POST /v3/auth/tokens on the same server, for users added with
// AddIAMUser), or an SDK-HMAC-SHA256 signature by an access key added with AddAccessKey. The
// signature check is written from the published algorithm, independently of the vendor SDK's
// signer, so that tests comparing the two catch a mistake in either. It is imported by tests and
// the demo, never by production code.
package swrtest

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagesync/swr-sync-operator/internal/swr"
)

// DefaultToken is the X-Auth-Token a new Server accepts.
const DefaultToken = "swrtest-token"

// Error codes the server answers with. They are SWR's own where SWR documents one.
const (
	CodeUnauthorized       = "SVCSTG.SWR.4010000" // token missing, invalid or expired
	CodeBadRequest         = "SVCSTG.SWR.4001000" // malformed request: a wrong Content-Type, a bad sync_job filter
	CodeNamespaceNotFound  = "SVCSTG.SWR.4040058" // unknown organization
	CodeRepositoryNotFound = "SVCSTG.SWR.4040010" // unknown repository
	CodeAPINotFound        = "APIG.0101"          // the gateway knows no such path
	CodeAKSKAuth           = "APIG.0301"          // AK/SK signature refused by the gateway
)

// Kinds of credentials a request carried, for RecordedRequest.AuthKind.
const (
	AuthKindToken    = "token"     // an X-Auth-Token that this server's IAM did not issue
	AuthKindIAMToken = "iam-token" // an X-Auth-Token this server's IAM issued (even if revoked)
	AuthKindAKSK     = "aksk"      // an SDK-HMAC-SHA256 Authorization header
	AuthKindNone     = "none"      // neither
)

// Kinds of requests, for RecordedRequest.Kind. A request for a path the server does not know has
// the kind "".
const (
	RequestKindSyncRepo = "sync_repo" // the policy listing's path, whatever the method
	RequestKindSyncJob  = "sync_job"  // the job listing's path, whatever the method
	RequestKindIAMToken = "iam_token" // POST /v3/auth/tokens, IAM's token endpoint
	// RequestKindRepositories is the repository listing, /v2/manage/repos, whatever the method.
	RequestKindRepositories = "repositories"
)

// Fault makes the server misbehave for some requests. Faults are checked after the path is
// recognized and before authentication, as a gateway in front of SWR would fail.
type Fault struct {
	// Status is the status to answer with, e.g. 500, 429 or 403. 0 or 200 answers 200 with
	// RawBody, or normally if RawBody is empty.
	Status int
	// Body is the raw body sent with a non-200 Status, e.g. an HTML page or the result of
	// OldErrorBody or NewErrorBody. "" sends no body. Its Content-Type is guessed unless Header
	// sets one.
	Body string
	// Header is added to the response, e.g. Retry-After or, with a 3xx Status, Location.
	Header http.Header
	// Hang accepts the request and never answers until the client gives up or the server is
	// closed. It wins over every other field.
	Hang bool
	// RawBody, with Status 0 or 200, is sent as the exact body of a 200 response, e.g.
	// malformed JSON, "null" or "{}".
	RawBody string
	// DripBody answers 200 with the listing the request would normally get (policies, or the
	// requested page of jobs) but sends its body one byte at a time, pausing DripBody between
	// bytes, as a congested or hostile server does. It ends when the client gives up.
	DripBody time.Duration
	// ResetMidBody answers 200, sends the first half of the listing the request would normally
	// get and then drops the connection, as a crashed proxy does.
	ResetMidBody bool
	// InflateTotal, for the repository listing only, is added to the total it reports (in
	// Content-Range and every entry's total_range) while the pages hold what they always hold,
	// as a server whose count is out of step with its pages: a client trusting the total keeps
	// asking for pages that come back empty. Alone it lets the normal answer through.
	InflateTotal int
}

// RecordedRequest is what the server saw of one request. No credential (token, password,
// signature, key) is ever stored.
type RecordedRequest struct {
	// Kind says which call the path is: RequestKindSyncRepo, RequestKindSyncJob,
	// RequestKindRepositories, RequestKindIAMToken, or "" for a path the server does not know.
	// The policy and the job listing both name an organization and a repository, so code that
	// counts policy polls must look at Kind.
	Kind string
	// Method is the HTTP method.
	Method string
	// Path is the escaped path as it went over the wire, e.g.
	// /v2/manage/namespaces/acme/repos/library$nginx/sync_repo.
	Path string
	// Query is the query as it went over the wire, still escaped, e.g.
	// filter=limit%3A%3A10%7Coffset%3A%3A0%7Corder%3A%3Adesc.
	Query string
	// Organization is the organization the path names, or for the repository listing the first
	// namespace parameter as sent (SWR matches it fuzzily), or "".
	Organization string
	// Repository is the decoded repository the path names ('$' turned back into '/'), or "".
	Repository string
	// ContentType is the Content-Type header.
	ContentType string
	// Accept is the Accept header.
	Accept string
	// UserAgent is the User-Agent header.
	UserAgent string
	// HasToken says whether an X-Auth-Token header was present (with any value).
	HasToken bool
	// AuthKind is the kind of credentials the request carried, valid or not: AuthKindToken,
	// AuthKindIAMToken, AuthKindAKSK or AuthKindNone. An AK/SK signature wins over a token.
	AuthKind string
	// Time is when the request arrived.
	Time time.Time
}

// repoKey identifies a repository; an empty field in a fault key is a wildcard.
type repoKey struct{ organization, repository string }

// repoState is what the server holds for one repository. Its slices are replaced, never
// modified, so a copy of the struct taken under Server.mu can be read after unlocking.
type repoState struct {
	policies []swr.SyncRepo // in id order, never nil
	jobs     []swr.SyncJob  // newest first, never nil
}

// Server is an in-process SWR API. It is safe for concurrent use.
type Server struct {
	srv *httptest.Server

	// closing is closed by Close so that hanging handlers return and httptest.Server.Close,
	// which waits for every handler, does not block.
	closing   chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	token string
	orgs  map[string]map[string]repoState // organization -> repository name -> its state
	// faults apply to the policy listing, syncJobFaults to the job listing, so that one can fail
	// while the other works, as with a credential allowed one IAM action but not the other.
	faults        map[repoKey]Fault
	syncJobFaults map[repoKey]Fault
	// repositoryLists holds each organization's repository listing (SetRepositories), in name
	// order; repositoryListFaults its faults, by the namespace a listing asks for.
	repositoryLists      map[string][]swr.Repository
	repositoryListFaults map[string]Fault

	requests []RecordedRequest
	clock    func() time.Time

	// IAM and AK/SK state; see auth.go.
	iamUsers      map[iamUser]string // -> password
	iamFault      *Fault
	iamRequests   int
	tokenLifetime time.Duration
	issued        map[string]*issuedToken // token -> its state
	accessKeys    map[string]string       // access key -> secret key
}

// NewServer starts a Server on plain http at a loopback address.
func NewServer() *Server {
	s := newServer()
	s.srv.Start()
	return s
}

// NewTLSServer starts a Server on https with a self-signed certificate; Client returns an
// http.Client that trusts it.
func NewTLSServer() *Server {
	s := newServer()
	s.srv.StartTLS()
	return s
}

// NewPrivateCAServer starts a Server on https with a certificate of its own, made at start:
// unlike NewTLSServer, whose certificate every httptest server shares, it is trusted by no other
// client, as an endpoint behind a company CA is. CertificatePEM returns the certificate to trust.
func NewPrivateCAServer() *Server {
	s := newServer()
	cert, err := selfSignedCertificate()
	if err != nil {
		panic("swrtest: cannot make a certificate: " + err.Error())
	}
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.StartTLS()
	return s
}

// selfSignedCertificate makes a CA certificate for the loopback addresses, valid for a day.
func selfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "swrtest private CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func newServer() *Server {
	s := &Server{
		closing: make(chan struct{}),
		token:   DefaultToken,
		orgs:    make(map[string]map[string]repoState),
		faults:  make(map[repoKey]Fault),
		clock:   time.Now,

		syncJobFaults: make(map[repoKey]Fault),

		repositoryLists:      make(map[string][]swr.Repository),
		repositoryListFaults: make(map[string]Fault),

		iamUsers:      make(map[iamUser]string),
		tokenLifetime: DefaultTokenLifetime,
		issued:        make(map[string]*issuedToken),
		accessKeys:    make(map[string]string),
	}
	s.srv = httptest.NewUnstartedServer(s)
	// Tests provoke handshake failures on purpose (an untrusting client); the server's log lines
	// about them would only clutter test and demo output.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return s
}

// CertificatePEM returns the PEM certificate of a TLS server, to trust it as a private CA; nil
// for a plain http server.
func (s *Server) CertificatePEM() []byte {
	cert := s.srv.Certificate()
	if cert == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// URL returns the base URL, for swr.Target.Endpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an http.Client that trusts the server's certificate (for a TLS server).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases hanging requests, then shuts the server down and waits for every handler.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// SetToken sets the static X-Auth-Token the server accepts. Requests without it, or with another
// that its IAM did not issue, are answered 401; after SetToken("") only IAM tokens and AK/SK
// signatures are accepted.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetPolicies makes the repository (decoded, with '/') and its organization exist and replaces
// its policies with a copy of policies, stored exactly as given. With no policies the listing
// answers []. The repository's sync jobs stay as they are.
func (s *Server) SetPolicies(organization, repository string, policies ...swr.SyncRepo) {
	stored := slices.Clone(policies)
	if stored == nil {
		stored = []swr.SyncRepo{}
	}
	slices.SortStableFunc(stored, func(a, b swr.SyncRepo) int { return cmp.Compare(a.ID, b.ID) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateRepositoryLocked(organization, repository, func(r *repoState) { r.policies = stored })
}

// updateRepositoryLocked makes the repository and its organization exist and applies change to
// its state. The caller holds s.mu.
func (s *Server) updateRepositoryLocked(organization, name string, change func(*repoState)) {
	repos := s.orgs[organization]
	if repos == nil {
		repos = make(map[string]repoState)
		s.orgs[organization] = repos
	}
	r, ok := repos[name]
	if !ok {
		r = repoState{policies: []swr.SyncRepo{}, jobs: []swr.SyncJob{}}
	}
	change(&r)
	repos[name] = r
}

// DeleteRepository removes the repository with its policies and jobs; later listings answer 404,
// and the organization's repository listing no longer shows it. The organization stays.
func (s *Server) DeleteRepository(organization, repository string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orgs[organization], repository)
	if list, ok := s.repositoryLists[organization]; ok {
		s.repositoryLists[organization] = slices.DeleteFunc(slices.Clone(list),
			func(r swr.Repository) bool { return r.Name == repository })
	}
}

// Policies returns a copy of the repository's policies in id order, or nil if the repository
// does not exist.
func (s *Server) Policies(organization, repository string) []swr.SyncRepo {
	return slices.Clone(s.repositoryState(organization, repository).policies)
}

// repositoryState returns what the server holds for the repository, the zero repoState if it does
// not exist. Its slices are never modified, so the caller may read them without holding s.mu.
func (s *Server) repositoryState(organization, repository string) repoState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orgs[organization][repository]
}

// SetFault makes policy listings (sync_repo) for the repository fail as f says until ClearFault;
// job listings have SetSyncJobFault. An empty repository applies to every repository of the
// organization; an empty organization and repository apply to every policy listing. The most
// specific fault wins.
func (s *Server) SetFault(organization, repository string, f Fault) {
	setFault(s, s.faults, repoKey{organization, repository}, f)
}

// ClearFault removes the fault SetFault set for exactly this organization and repository.
func (s *Server) ClearFault(organization, repository string) {
	clearFault(s, s.faults, repoKey{organization, repository})
}

// setFault stores f in faults, one of the Server's fault maps, under key. The header is copied
// so that the caller may go on changing its own.
func setFault[K comparable](s *Server, faults map[K]Fault, key K, f Fault) {
	f.Header = f.Header.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	faults[key] = f
}

// clearFault removes the fault setFault stored in faults under exactly key.
func clearFault[K comparable](s *Server, faults map[K]Fault, key K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(faults, key)
}

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount returns how many policy listing requests (sync_repo, any method) named the
// organization and (decoded) repository. Job listings are counted by SyncJobRequestCount.
func (s *Server) RequestCount(organization, repository string) int {
	return s.countRequests(RequestKindSyncRepo, organization, repository)
}

// countRequests returns how many requests of the kind named the organization and repository.
func (s *Server) countRequests(kind, organization, repository string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Kind == kind && r.Organization == organization && r.Repository == repository {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// OldErrorBody returns an error body in SWR's old form:
// [{"errorCode":code,"errorMessage":msg,"detail":""}].
func OldErrorBody(code, msg string) string {
	return mustJSON([]oldError{{ErrorCode: code, ErrorMessage: msg}})
}

// NewErrorBody returns an error body in SWR's new form:
// {"error_code":code,"error_msg":msg,"errors":[{"errorCode":code,"errorMessage":msg,"detail":""}]}.
func NewErrorBody(code, msg string) string {
	return mustJSON(newError{
		ErrorCode: code,
		ErrorMsg:  msg,
		Errors:    []oldError{{ErrorCode: code, ErrorMessage: msg}},
	})
}

type oldError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	Detail       string `json:"detail"`
}

type newError struct {
	ErrorCode string     `json:"error_code"`
	ErrorMsg  string     `json:"error_msg"`
	Errors    []oldError `json:"errors"`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed struct types reach here
	}
	return string(b)
}

// ServeHTTP answers one request as SWR (or, for POST /v3/auth/tokens, IAM) would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.EscapedPath() {
	case iamTokensPath:
		s.serveIAM(w, r)
		return
	case repositoriesPath:
		s.serveRepositories(w, r)
		return
	}
	kind, org, repo, ok := parseRepositoryPath(r.URL.EscapedPath())
	s.record(r, kind, org, repo)
	if !ok {
		writeBody(w, http.StatusNotFound, "application/json",
			NewErrorBody(CodeAPINotFound, "The API does not exist or has not been published in the environment"))
		return
	}
	body, ok := readGET(w, r)
	if !ok {
		return
	}

	s.mu.Lock()
	faults := s.faults
	if kind == RequestKindSyncJob {
		faults = s.syncJobFaults
	}
	fault, faulty := faultFor(faults, org, repo)
	repos, orgExists := s.orgs[org]
	stored, repoExists := repos[repo]
	s.mu.Unlock()

	// A bad filter is answered only after faults and authentication, as SWR behind its gateway
	// would; a drip or reset fault sends the page the filter asks for (none if it is bad).
	var filter syncJobFilter
	var filterProblem string
	if kind == RequestKindSyncJob {
		filter, filterProblem = parseSyncJobFilter(r.URL.Query()["filter"])
	}
	listing := func() []byte {
		if kind == RequestKindSyncJob {
			jobs, _ := filter.page(stored.jobs)
			return []byte(mustJSON(jobs))
		}
		return []byte(mustJSON(stored.policies))
	}
	if faulty && s.serveFault(w, r, fault, listing) {
		return
	}
	if !s.admitted(w, r, body) {
		return
	}
	switch {
	case kind == RequestKindSyncJob && filterProblem != "":
		writeBody(w, http.StatusBadRequest, "application/json", NewErrorBody(CodeBadRequest, filterProblem))
	case !orgExists:
		writeBody(w, http.StatusNotFound, "application/json", NewErrorBody(CodeNamespaceNotFound, "namespace not found"))
	case !repoExists:
		writeBody(w, http.StatusNotFound, "application/json", NewErrorBody(CodeRepositoryNotFound, "image not found"))
	case kind == RequestKindSyncJob:
		jobs, total := filter.page(stored.jobs)
		// A header-only fault may have set its own Content-Range, to test a garbled one.
		if w.Header().Get("Content-Range") == "" {
			w.Header().Set("Content-Range", contentRange(filter.offset, len(jobs), total))
		}
		writeBody(w, http.StatusOK, "application/json", mustJSON(jobs))
	default:
		writeBody(w, http.StatusOK, "application/json", mustJSON(stored.policies))
	}
}

// readGET answers 405 to every method but GET and otherwise reads the request body, which an
// AK/SK signature covers, so it is read before anything else; a listing has none. It reports
// whether to go on.
func readGET(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeBody(w, http.StatusMethodNotAllowed, "application/json", NewErrorBody("", "method not allowed"))
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		return nil, false // the client went away
	}
	return body, true
}

// admitted checks what SWR checks of every call once the gateway's faults are through: the
// credentials, then the mandatory Content-Type. It answers a refusal itself and reports whether
// the request may go on.
func (s *Server) admitted(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if refusal := s.authenticate(r, body); refusal != "" {
		writeBody(w, http.StatusUnauthorized, "application/json", refusal)
		return false
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		writeBody(w, http.StatusBadRequest, "application/json",
			OldErrorBody(CodeBadRequest, "Content-Type must be application/json"))
		return false
	}
	return true
}

// record appends the request to the log, with the kind of its credentials but not their values.
func (s *Server) record(r *http.Request, kind, org, repo string) {
	rec := RecordedRequest{
		Kind:         kind,
		Method:       r.Method,
		Path:         r.URL.EscapedPath(),
		Query:        r.URL.RawQuery,
		Organization: org,
		Repository:   repo,
		ContentType:  r.Header.Get("Content-Type"),
		Accept:       r.Header.Get("Accept"),
		UserAgent:    r.Header.Get("User-Agent"),
		HasToken:     r.Header.Get("X-Auth-Token") != "",
		Time:         time.Now(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.AuthKind = s.authKindLocked(r)
	s.requests = append(s.requests, rec)
}

// faultFor returns the most specific of faults for the repository. The caller holds s.mu.
func faultFor(faults map[repoKey]Fault, org, repo string) (Fault, bool) {
	for _, k := range []repoKey{{org, repo}, {org, ""}, {"", ""}} {
		if f, ok := faults[k]; ok {
			return f, true
		}
	}
	return Fault{}, false
}

// serveFault answers as f says and reports whether it did; a Fault with nothing but headers
// lets the normal answer through (with the headers added). listing returns the body of the
// normal answer, which DripBody and ResetMidBody send.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, listing func() []byte) bool {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return true
	case f.DripBody > 0:
		s.drip(w, r, listing(), f.DripBody)
		return true
	case f.ResetMidBody:
		s.resetMidBody(w, listing())
		return true
	case f.Status == 0 || f.Status == http.StatusOK:
		if f.RawBody == "" {
			return false
		}
		writeBody(w, http.StatusOK, "application/json", f.RawBody)
		return true
	default:
		writeBody(w, f.Status, guessContentType(f.Body), f.Body)
		return true
	}
}

// drip sends body one byte per pause until the client or the server gives up.
func (s *Server) drip(w http.ResponseWriter, r *http.Request, body []byte, pause time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	ticker := time.NewTicker(pause)
	defer ticker.Stop()
	for i := range body {
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ticker.C:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// resetMidBody promises the whole body, sends half of it and closes the connection.
func (s *Server) resetMidBody(w http.ResponseWriter, body []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	defer func() { _ = conn.Close() }()
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}

// writeBody sends a complete response; an explicit Content-Type already set wins.
func writeBody(w http.ResponseWriter, status int, contentType, body string) {
	if body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	// G705 (XSS): the fake answers JSON, or a fault's body as its caller set it, to the API
	// clients of the tests, the demo and the benchmark, never to a browser.
	_, _ = w.Write([]byte(body)) //nolint:gosec // see above
}

// guessContentType labels a fault body the way a real server would likely label it.
func guessContentType(body string) string {
	switch t := strings.TrimSpace(body); {
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		return "application/json"
	case strings.HasPrefix(t, "<"):
		return "text/html; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}

// isJSONContentType accepts application/json with or without parameters, and also the odd
// "charset=utf-8 application/json" the vendor documents as a valid value.
func isJSONContentType(value string) bool {
	if mediaType, _, err := mime.ParseMediaType(value); err == nil && mediaType == "application/json" {
		return true
	}
	return strings.EqualFold(strings.TrimSpace(value), "charset=utf-8 application/json")
}

// parseRepositoryPath recognizes /v2/manage/namespaces/{ns}/repos/{repo}/sync_repo and
// .../sync_job in their escaped form and returns the kind of request, the organization and the
// decoded repository. The repository must be a single segment: a client that sends
// "library/nginx" without encoding it as "library$nginx" does not match, as on the real API. Only
// %24 is decoded in the repository segment (some clients escape '$'); a %2F is not a slash in
// SWR's eyes either.
func parseRepositoryPath(escaped string) (kind, org, repo string, ok bool) {
	parts := strings.Split(escaped, "/")
	if len(parts) != 8 || parts[0] != "" || parts[1] != "v2" || parts[2] != "manage" ||
		parts[3] != "namespaces" || parts[5] != "repos" || parts[4] == "" || parts[6] == "" {
		return "", "", "", false
	}
	switch parts[7] {
	case "sync_repo":
		kind = RequestKindSyncRepo
	case "sync_job":
		kind = RequestKindSyncJob
	default:
		return "", "", "", false
	}
	org, err := url.PathUnescape(parts[4])
	if err != nil {
		return "", "", "", false
	}
	encoded := strings.ReplaceAll(parts[6], "%24", "$")
	return kind, org, strings.ReplaceAll(encoded, "$", "/"), true
}
