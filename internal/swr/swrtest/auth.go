package swrtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultTokenLifetime is how long tokens issued by the server's IAM endpoint live unless
// SetTokenLifetime says otherwise; it is IAM's own.
const DefaultTokenLifetime = 24 * time.Hour

// MaxSignatureAge is how far X-Sdk-Date may be from the server's clock, either way, for an
// AK/SK signature to be accepted.
const MaxSignatureAge = 15 * time.Minute

// Messages of the API gateway's AK/SK refusals (with CodeAKSKAuth).
const (
	MsgSignatureMismatch = "Incorrect IAM authentication information: verify aksk signature fail"
	MsgDateExpired       = "Incorrect IAM authentication information: x-sdk-date expired"
	MsgUnknownAccessKey  = "Incorrect IAM authentication information: ak not found"
)

const (
	iamTokensPath  = "/v3/auth/tokens" //nolint:gosec // G101: a URL path, not a credential
	maxRequestBody = 1 << 20
	// sdkAlgorithm names the signing scheme in the Authorization header and the string to sign.
	sdkAlgorithm = "SDK-HMAC-SHA256"
	// sdkDateFormat is the layout of X-Sdk-Date.
	sdkDateFormat = "20060102T150405Z"
	// iamTimeFormat is how IAM writes expires_at and issued_at.
	iamTimeFormat = "2006-01-02T15:04:05.000000Z"
)

// iamUser identifies an IAM user.
type iamUser struct{ domain, name string }

// issuedToken is the state of a token the IAM endpoint issued.
type issuedToken struct {
	expiresAt time.Time
	revoked   bool
}

// AddIAMUser makes the IAM endpoint accept the password credentials, scoped to any project.
// Adding the same user again changes the password; tokens issued before stay valid, as on the
// real IAM until RevokeIssuedTokens.
func (s *Server) AddIAMUser(domain, user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamUsers[iamUser{domain, user}] = password
}

// SetIAMFault makes every request to the IAM endpoint fail as f says until ClearIAMFault, e.g.
// Fault{Status: 503} or Fault{Hang: true}. A Fault with Status 201 and a Body answers exactly
// that, without an X-Subject-Token header.
func (s *Server) SetIAMFault(f Fault) {
	f.Header = f.Header.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamFault = &f
}

// ClearIAMFault removes the fault SetIAMFault set.
func (s *Server) ClearIAMFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamFault = nil
}

// SetTokenLifetime sets the lifetime of tokens issued from now on. Values below one second are
// ignored.
func (s *Server) SetTokenLifetime(d time.Duration) {
	if d < time.Second {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLifetime = d
}

// IAMRequestCount returns how many POST /v3/auth/tokens requests the server received, including
// those answered with a fault or refused.
func (s *Server) IAMRequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iamRequests
}

// RevokeIssuedTokens makes SWR refuse every token issued so far (401 SVCSTG.SWR.4010000), as a
// password change does on the real cloud. Tokens issued later are accepted.
func (s *Server) RevokeIssuedTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.issued {
		t.revoked = true
	}
}

// AddAccessKey makes the server accept signatures by the access key pair.
func (s *Server) AddAccessKey(accessKey, secretKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessKeys[accessKey] = secretKey
}

// SetClock replaces time.Now for issuing token expiries, checking whether a token has expired and
// checking the freshness of X-Sdk-Date. A nil now restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// authKindLocked names the kind of credentials r carries. The caller holds s.mu.
func (s *Server) authKindLocked(r *http.Request) string {
	if strings.HasPrefix(r.Header.Get("Authorization"), sdkAlgorithm+" ") {
		return AuthKindAKSK
	}
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		return AuthKindNone
	}
	if _, ok := s.issued[token]; ok {
		return AuthKindIAMToken
	}
	return AuthKindToken
}

// authenticate checks r's credentials and returns "" if they are good, or the body of the 401
// answer: the gateway's form for a refused signature, SWR's for a refused token.
func (s *Server) authenticate(r *http.Request, body []byte) string {
	if strings.HasPrefix(r.Header.Get("Authorization"), sdkAlgorithm+" ") {
		if msg := s.verifySignature(r, body); msg != "" {
			return gatewayErrorBody(CodeAKSKAuth, msg)
		}
		return ""
	}
	token := r.Header.Get("X-Auth-Token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) == 1 {
		return ""
	}
	if t, ok := s.issued[token]; ok && !t.revoked && s.clock().Before(t.expiresAt) {
		return ""
	}
	return NewErrorBody(CodeUnauthorized, "Authenticate Error: token missing, invalid or expired")
}

// gatewayErrorBody is the API gateway's error body, {"error_code":code,"error_msg":msg}.
func gatewayErrorBody(code, msg string) string {
	return mustJSON(struct {
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}{code, msg})
}

// keystoneErrorBody is IAM's error body, {"error":{"code":status,"message":msg,"title":...}}.
func keystoneErrorBody(status int, msg string) string {
	type inner struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
	}
	return mustJSON(struct {
		Error inner `json:"error"`
	}{inner{status, msg, http.StatusText(status)}})
}

// tokenRequest is the body of POST /v3/auth/tokens, with pointers where absence must be told
// from an empty value.
type tokenRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   *struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				Name string `json:"name"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

// checkTokenRequest returns what is wrong with the structure of a token request, or "".
func checkTokenRequest(req *tokenRequest) string {
	switch a := req.Auth; {
	case a == nil || a.Identity == nil:
		return "auth.identity is required"
	case !slices.Equal(a.Identity.Methods, []string{"password"}):
		return `auth.identity.methods must be ["password"]`
	case a.Identity.Password == nil || a.Identity.Password.User == nil:
		return "auth.identity.password.user is required"
	case a.Identity.Password.User.Name == "" || a.Identity.Password.User.Password == "":
		return "the user name and password are required"
	case a.Identity.Password.User.Domain == nil || a.Identity.Password.User.Domain.Name == "":
		return "auth.identity.password.user.domain.name is required"
	case a.Scope == nil || a.Scope.Project == nil || a.Scope.Project.Name == "":
		return "auth.scope.project.name is required"
	}
	return ""
}

// serveIAM answers POST /v3/auth/tokens as IAM does for password credentials: 201 with the token
// in X-Subject-Token, or a Keystone-style error.
func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	s.record(r, RequestKindIAMToken, "", "")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeBody(w, http.StatusMethodNotAllowed, "application/json", keystoneErrorBody(http.StatusMethodNotAllowed, "method not allowed"))
		return
	}
	// Reading the body before anything else, as a real server does, also lets net/http notice
	// a client that gives up on a hanging fault.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		return // the client went away
	}
	s.mu.Lock()
	s.iamRequests++
	fault := s.iamFault
	s.mu.Unlock()
	if fault != nil && s.serveFault(w, r, *fault, noListing) {
		return
	}

	if !isJSONContentType(r.Header.Get("Content-Type")) {
		writeBody(w, http.StatusBadRequest, "application/json", keystoneErrorBody(http.StatusBadRequest, "Content-Type must be application/json"))
		return
	}
	var req tokenRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeBody(w, http.StatusBadRequest, "application/json", keystoneErrorBody(http.StatusBadRequest, "The request body is not valid JSON."))
		return
	}
	if problem := checkTokenRequest(&req); problem != "" {
		writeBody(w, http.StatusBadRequest, "application/json", keystoneErrorBody(http.StatusBadRequest, "Invalid request: "+problem))
		return
	}
	user := req.Auth.Identity.Password.User
	project := req.Auth.Scope.Project.Name

	s.mu.Lock()
	want, known := s.iamUsers[iamUser{user.Domain.Name, user.Name}]
	good := known && subtle.ConstantTimeCompare([]byte(user.Password), []byte(want)) == 1
	var token string
	var issuedAt, expiresAt time.Time
	if good {
		token = newToken()
		issuedAt = s.clock().UTC()
		expiresAt = issuedAt.Add(s.tokenLifetime)
		s.issued[token] = &issuedToken{expiresAt: expiresAt}
	}
	s.mu.Unlock()
	if !good {
		writeBody(w, http.StatusUnauthorized, "application/json", keystoneErrorBody(http.StatusUnauthorized, "The username or password is wrong."))
		return
	}

	type named struct {
		Name string `json:"name"`
	}
	type userInfo struct {
		Name   string `json:"name"`
		Domain named  `json:"domain"`
	}
	type tokenInfo struct {
		ExpiresAt string   `json:"expires_at"`
		IssuedAt  string   `json:"issued_at"`
		Methods   []string `json:"methods"`
		Project   named    `json:"project"`
		User      userInfo `json:"user"`
	}
	w.Header().Set("X-Subject-Token", token)
	writeBody(w, http.StatusCreated, "application/json", mustJSON(struct {
		Token tokenInfo `json:"token"`
	}{tokenInfo{
		ExpiresAt: expiresAt.Format(iamTimeFormat),
		IssuedAt:  issuedAt.Format(iamTimeFormat),
		Methods:   []string{"password"},
		Project:   named{project},
		User:      userInfo{Name: user.Name, Domain: named{user.Domain.Name}},
	}}))
}

// noListing is the body IAM's DripBody and ResetMidBody faults send: IAM has no listing, and
// "null" is what those faults have always sent there.
func noListing() []byte { return []byte("null") }

// newToken returns a random opaque token, long like IAM's.
func newToken() string {
	return "MIIswrtest" + rand.Text() + rand.Text()
}

// sdkAuthorization is a parsed "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=..."
// header.
type sdkAuthorization struct {
	accessKey     string
	signedHeaders []string
	signature     []byte
}

// parseSDKAuthorization parses an Authorization header of the SDK-HMAC-SHA256 scheme.
func parseSDKAuthorization(value string) (sdkAuthorization, bool) {
	rest, ok := strings.CutPrefix(value, sdkAlgorithm+" ")
	if !ok {
		return sdkAuthorization{}, false
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return sdkAuthorization{}, false
		}
		params[k] = v
	}
	sig, err := hex.DecodeString(params["Signature"])
	if err != nil || len(sig) != sha256.Size || params["Access"] == "" || params["SignedHeaders"] == "" {
		return sdkAuthorization{}, false
	}
	return sdkAuthorization{
		accessKey:     params["Access"],
		signedHeaders: strings.Split(params["SignedHeaders"], ";"),
		signature:     sig,
	}, true
}

// verifySignature checks an SDK-HMAC-SHA256 signature and returns "" if it is good, or the
// gateway's message for the refusal.
func (s *Server) verifySignature(r *http.Request, body []byte) string {
	auth, ok := parseSDKAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return MsgSignatureMismatch
	}
	s.mu.Lock()
	secretKey, known := s.accessKeys[auth.accessKey]
	now := s.clock()
	s.mu.Unlock()
	if !known {
		return MsgUnknownAccessKey
	}
	date := r.Header.Get("X-Sdk-Date")
	signedAt, err := time.Parse(sdkDateFormat, date)
	if err != nil {
		return MsgSignatureMismatch
	}
	if age := now.Sub(signedAt); age > MaxSignatureAge || age < -MaxSignatureAge {
		return MsgDateExpired
	}
	// The host must be signed, or the signature could be replayed against another host; a
	// security token must be signed, or it could be swapped for another.
	if !slices.Contains(auth.signedHeaders, "host") ||
		r.Header.Get("X-Security-Token") != "" && !slices.Contains(auth.signedHeaders, "x-security-token") {
		return MsgSignatureMismatch
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return MsgSignatureMismatch // no signer can have signed what it cannot parse
	}
	canonical := canonicalRequest(r.Method, r.URL.Path, query, auth.signedHeaders, headerValues(r), body)
	want := sign(secretKey, date, canonical)
	if !hmac.Equal(want, auth.signature) {
		return MsgSignatureMismatch
	}
	return ""
}

// headerValues returns a function giving the values of a header as the server received it; the
// host, which net/http moves out of the header map, included.
func headerValues(r *http.Request) func(name string) []string {
	return func(name string) []string {
		if name == "host" {
			return []string{r.Host}
		}
		return r.Header.Values(name)
	}
}

// canonicalRequest builds the canonical request of the SDK-HMAC-SHA256 scheme:
//
//	METHOD\nCANONICAL_URI\nCANONICAL_QUERY\nHEADER_LINES\n\nSIGNED_HEADERS\nhex(sha256(body))
//
// where HEADER_LINES are "name:trimmed value" for each signed header in the order signed (a
// header with several values gives one line per value, sorted). path is the decoded path; the
// query is re-escaped.
func canonicalRequest(method, path string, query url.Values, signed []string, values func(string) []string, body []byte) string {
	var lines []string
	for _, name := range signed {
		vs := slices.Clone(values(name))
		for i := range vs {
			vs[i] = strings.TrimSpace(vs[i])
		}
		slices.Sort(vs)
		for _, v := range vs {
			lines = append(lines, name+":"+v)
		}
	}
	bodyHash := sha256.Sum256(body)
	return strings.Join([]string{
		method,
		canonicalURI(path),
		canonicalQuery(query),
		strings.Join(lines, "\n") + "\n",
		strings.Join(signed, ";"),
		hex.EncodeToString(bodyHash[:]),
	}, "\n")
}

// canonicalURI escapes each segment of the decoded path so that only A-Za-z0-9_-~. stay
// literal, and ends the result with '/'.
func canonicalURI(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		segments[i] = sdkEscape(seg)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri
}

// canonicalQuery renders the decoded query with keys sorted, each key's values sorted, and keys
// and values escaped as path segments are.
func canonicalQuery(query url.Values) string {
	var pairs []string
	for _, key := range slices.Sorted(maps.Keys(query)) {
		vs := slices.Clone(query[key])
		slices.Sort(vs)
		for _, v := range vs {
			pairs = append(pairs, sdkEscape(key)+"="+sdkEscape(v))
		}
	}
	return strings.Join(pairs, "&")
}

// sdkEscape percent-encodes every byte except A-Za-z0-9 and _-~. with upper-case hex digits.
func sdkEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_-~.", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// sign returns HMAC-SHA256(secretKey, stringToSign) for the canonical request, where the string
// to sign is "SDK-HMAC-SHA256\n<X-Sdk-Date>\nhex(sha256(canonical request))".
func sign(secretKey, date, canonical string) []byte {
	crHash := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(sdkAlgorithm + "\n" + date + "\n" + hex.EncodeToString(crHash[:])))
	return mac.Sum(nil)
}
