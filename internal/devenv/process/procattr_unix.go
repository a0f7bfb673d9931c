//go:build unix

package process

import "syscall"

// ownProcessGroup puts a child in a process group of its own (see Options.OwnProcessGroup).
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
