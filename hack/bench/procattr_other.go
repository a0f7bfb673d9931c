//go:build !unix

package main

import "syscall"

// ownProcessGroup returns nil: process groups are a Unix notion (and the benchmark refuses to
// run off Linux anyway, for want of /proc).
func ownProcessGroup() *syscall.SysProcAttr {
	return nil
}
