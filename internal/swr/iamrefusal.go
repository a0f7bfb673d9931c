package swr

import "time"

// Backoff after IAM refuses credentials (401 or 403). IAM lockout policies lock a user after a
// few wrong passwords within minutes, for the people sharing that user too, so a refused password
// must not be asked again at every poll of every repository that uses it.
const (
	// DefaultIAMRefusalBackoff is the first wait after a refusal when PasswordAuth is not given
	// WithRefusalBackoff.
	DefaultIAMRefusalBackoff = 5 * time.Minute
	// MaxIAMRefusalBackoff caps the wait, which doubles with every further refusal, so that a
	// password fixed in IAM alone (without touching the Secret) is noticed within an hour.
	MaxIAMRefusalBackoff = time.Hour
)

// WithRefusalBackoff sets how long IAM is not asked again after it first refused the
// credentials; the wait doubles with every further refusal, up to MaxIAMRefusalBackoff. A poll
// interval is a good value: a wrong password is then asked about at most once per poll, and less
// and less often. Values <= 0 mean DefaultIAMRefusalBackoff. Callers with the same credential
// values share the backoff; each refusal's wait is counted from the base of the caller whose
// request IAM refused.
func WithRefusalBackoff(initial time.Duration) PasswordAuthOption {
	return func(o *passwordAuthOptions) { o.refusalBackoff = initial }
}

// isRefusal reports whether IAM refused the credentials themselves, as opposed to failing to
// answer (throttling, 5xx, network errors, timeouts), which says nothing about them.
func isRefusal(err *Error) bool {
	return err.Class == ClassUnauthorized || err.Class == ClassForbidden
}

// rememberRefusalLocked records a refusal of e's credentials at now and returns the error to
// hand out until the backoff ends: the refusal, its message naming when IAM will next be asked.
// base is the first wait of the caller whose request was refused. The caller holds c.mu.
func rememberRefusalLocked(e *tokenEntry, refusal *Error, base time.Duration, now time.Time) *Error {
	e.refusals++
	until := now.Add(refusalBackoff(base, e.refusals))
	// Whole seconds, rounded up, so that the time in the message is never earlier than the real
	// end of the wait.
	if whole := until.Truncate(time.Second); whole.Before(until) {
		until = whole.Add(time.Second)
	}
	remembered := *refusal
	note := "not asking IAM again with these credentials before " + until.UTC().Format(time.RFC3339) +
		" unless the Secret changes"
	if remembered.Message != "" {
		remembered.Message += "; " + note
	} else {
		remembered.Message = note
	}
	e.refusal, e.refusedUntil = &remembered, until
	return &remembered
}

// refusalBackoff returns the wait after the given number of consecutive refusals: base, doubled
// for every refusal after the first, at most MaxIAMRefusalBackoff, and at least a second, the
// resolution of the time in the message.
func refusalBackoff(base time.Duration, refusals int) time.Duration {
	wait := min(max(base, time.Second), MaxIAMRefusalBackoff)
	for i := 1; i < refusals && wait < MaxIAMRefusalBackoff; i++ {
		wait *= 2
	}
	return min(wait, MaxIAMRefusalBackoff)
}
