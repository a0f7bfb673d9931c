package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. Linux fixes it
// at 100 on every architecture Go supports (sysconf(_SC_CLK_TCK), which would need cgo).
const clockTicksPerSecond = 100

// procStat is what the benchmark reads from /proc/<pid>/stat.
type procStat struct {
	comm         string
	ppid         int
	utime, stime uint64 // clock ticks
}

// cpuSeconds is the user plus system CPU time.
func (s procStat) cpuSeconds() float64 {
	return float64(s.utime+s.stime) / clockTicksPerSecond
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat parses the one line of /proc/<pid>/stat. The command name is in parentheses and
// may itself hold spaces and parentheses, so the fields are counted from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	line := string(bytes.TrimSpace(data))
	open, closing := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	// After the name: state(3) ppid(4) ... utime(14) stime(15); fields[0] is state.
	fields := strings.Fields(line[closing+1:])
	if len(fields) < 13 {
		return procStat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	ppid, err1 := strconv.Atoi(fields[1])
	utime, err2 := strconv.ParseUint(fields[11], 10, 64)
	stime, err3 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	return procStat{comm: line[open+1 : closing], ppid: ppid, utime: utime, stime: stime}, nil
}

// readPeakRSS returns VmHWM, the peak resident set size, of a process in bytes.
func readPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(data)
}

// parseVmHWM finds "VmHWM:   123456 kB" in /proc/<pid>/status.
func parseVmHWM(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM line in /proc status")
}

// process is a running process.
type process struct {
	pid  int
	name string
}

// childProcesses lists the direct children of this process: envtest's kube-apiserver and etcd,
// and the manager. Processes that end while the list is read are skipped.
func childProcesses() []process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var children []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readProcStat(pid)
		if err != nil || s.ppid != self {
			continue
		}
		children = append(children, process{pid: pid, name: s.comm})
	}
	return children
}

// selfCPU returns the CPU seconds this process has used, e.g. the baseline client's.
func selfCPU() float64 {
	s, err := readProcStat(os.Getpid())
	if err != nil {
		return 0
	}
	return s.cpuSeconds()
}
