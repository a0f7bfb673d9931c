package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. Linux fixes it
// at 100 on every architecture Go supports (sysconf(_SC_CLK_TCK), which would need cgo).
const clockTicksPerSecond = 100

// Stat is what is read from /proc/<pid>/stat.
type Stat struct {
	Comm         string // the command name
	PPID         int
	UTime, STime uint64 // clock ticks
}

// CPUSeconds is the user plus system CPU time.
func (s Stat) CPUSeconds() float64 {
	return float64(s.UTime+s.STime) / clockTicksPerSecond
}

// procFile is the path of /proc/<pid>/<name>.
func procFile(pid int, name string) string {
	return fmt.Sprintf("/proc/%d/%s", pid, name)
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	data, err := os.ReadFile(procFile(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(data)
}

// parseStat parses the one line of /proc/<pid>/stat. The command name is in parentheses and
// may itself hold spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(data []byte) (Stat, error) {
	line := string(bytes.TrimSpace(data))
	open, closing := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || closing < open {
		return Stat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	// After the name: state(3) ppid(4) ... utime(14) stime(15); fields[0] is state.
	fields := strings.Fields(line[closing+1:])
	if len(fields) < 13 {
		return Stat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	ppid, err1 := strconv.Atoi(fields[1])
	utime, err2 := strconv.ParseUint(fields[11], 10, 64)
	stime, err3 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Stat{}, fmt.Errorf("unexpected /proc stat line %q", line)
	}
	return Stat{Comm: line[open+1 : closing], PPID: ppid, UTime: utime, STime: stime}, nil
}

// ReadPeakRSS returns VmHWM, the peak resident set size, of a process in bytes.
func ReadPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(procFile(pid, "status"))
	if err != nil {
		return 0, err
	}
	return parseVMHWM(data)
}

// parseVMHWM finds "VmHWM:   123456 kB" in /proc/<pid>/status.
func parseVMHWM(data []byte) (int64, error) {
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
	return 0, errors.New("no VmHWM line in /proc status")
}

// Child is a running child process.
type Child struct {
	PID  int
	Name string
}

// Children lists the direct children of this process, e.g. envtest's kube-apiserver and etcd,
// and the manager. Processes that end while the list is read are skipped.
func Children() []Child {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var children []Child
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := ReadStat(pid)
		if err != nil || s.PPID != self {
			continue
		}
		children = append(children, Child{PID: pid, Name: s.Comm})
	}
	return children
}

// SelfCPU returns the CPU seconds this process has used, 0 if /proc cannot tell.
func SelfCPU() float64 {
	s, err := ReadStat(os.Getpid())
	if err != nil {
		return 0
	}
	return s.CPUSeconds()
}
