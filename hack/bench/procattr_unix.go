//go:build unix

package main

import "syscall"

// ownProcessGroup puts a child in a process group of its own, so that the SIGINT the terminal
// sends to its foreground group on Ctrl-C reaches the benchmark only, which then stops the
// manager before the control plane. envtest starts kube-apiserver and etcd the same way.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
