//go:build !unix

package process

import "syscall"

// ownProcessGroup returns nil: process groups are a Unix notion, and elsewhere the caller stops
// the process by killing it.
func ownProcessGroup() *syscall.SysProcAttr {
	return nil
}
