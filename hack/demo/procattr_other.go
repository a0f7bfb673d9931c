//go:build !unix

package main

import "syscall"

// ownProcessGroup returns nil: process groups are a Unix notion, and elsewhere the demo stops
// the manager by killing it.
func ownProcessGroup() *syscall.SysProcAttr {
	return nil
}
