package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RSSKiB reads VmRSS (resident memory, KiB) of a process from /proc.
func RSSKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// Alive tells whether a process with this id exists (a zombie still counts: it has not been reaped).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on every Linux
// architecture Go supports (reading it properly needs sysconf, i.e. cgo).
const clockTicks = 100

// CPUTime reads the user+system CPU time a process has used so far from /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// ThreadCPUTimes sums the user+system CPU time of a process's live threads by thread name
// (/proc/<pid>/task/*/comm and stat), e.g. the JVM's "C2 CompilerThre" or "VM Thread". A thread
// that has ended is no longer listed: its time counts in CPUTime only.
func ThreadCPUTimes(pid int) (map[string]time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list threads of process %d: %w", pid, err)
	}
	out := map[string]time.Duration{}
	for _, t := range tasks {
		comm, err := os.ReadFile(dir + "/" + t.Name() + "/comm")
		if err != nil {
			continue // the thread ended meanwhile
		}
		d, err := statCPU(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue
		}
		out[strings.TrimSpace(string(comm))] += d
	}
	return out, nil
}

// statCPU reads utime+stime from a /proc stat file (a process's or a thread's).
func statCPU(path string) (time.Duration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	// The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s has %d fields after the command name, want at least 13", path, len(fields))
	}
	// utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after the command name.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: bad utime/stime %q %q", path, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
