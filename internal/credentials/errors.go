package credentials

import "fmt"

// Problem says what a person must fix about an object's credentials or endpoint.
type Problem int

const (
	// NotFound means the Secret named by spec.secretRef does not exist.
	NotFound Problem = iota + 1
	// Invalid means that Secret holds no usable credentials.
	Invalid
	// CertificateInvalid means spec.certSecretRef names no usable CA bundle.
	CertificateInvalid
	// EndpointRefused means an endpoint is malformed or not one the EndpointPolicy lets credentials
	// go to.
	EndpointRefused
)

// Error is a missing or unusable Secret or endpoint that a person must fix. Its message names
// the Secret and its keys, never their values.
type Error struct {
	Problem Problem
	msg     string
}

func (e *Error) Error() string { return e.msg }

func newError(p Problem, format string, args ...any) *Error {
	return &Error{Problem: p, msg: fmt.Sprintf(format, args...)}
}

func endpointError(msg string) *Error { return &Error{Problem: EndpointRefused, msg: msg} }
