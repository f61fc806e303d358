package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// the kernel reports them in 1/100 s on every architecture we run on,
// whatever its internal HZ.
const clockTicks = 100.0

// procStat is what the harness reads from /proc/PID/stat.
type procStat struct {
	comm    string
	ticks   int64 // utime + stime
	kthread bool
}

// readStat parses /proc/PID/stat. The command name sits in parentheses and
// may hold spaces or parentheses itself, so the fields are counted from the
// last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); flags is field 9, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	flags, err1 := strconv.ParseUint(f[6], 10, 64)
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("stat: bad numbers")
	}
	const pfKthread = 0x00200000
	return procStat{comm: string(b[open+1 : end]), ticks: ut + st, kthread: flags&pfKthread != 0}, nil
}

// tree returns pid and all its descendants (nginx's workers, for one), read
// from /proc/PID/task/TID/children.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, s := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(s); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// cpuTicks is the CPU time, in clock ticks, the processes have used; a
// process that has gone counts nothing.
func cpuTicks(pids []int) int64 {
	var t int64
	for _, p := range pids {
		if s, err := readStat(p); err == nil {
			t += s.ticks
		}
	}
	return t
}

// resetPeakRSS resets VmHWM of each process (writing 5 to clear_refs,
// Linux 4.0+), so the next peakRSS covers one run only.
func resetPeakRSS(pids []int) {
	for _, p := range pids {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
}

// peakRSS is the sum of the processes' VmHWM, in bytes.
func peakRSS(pids []int) int64 {
	var total int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		total += statusKB(b, "VmHWM:") * 1024
	}
	return total
}

// statusKB finds "Key:   N kB" in a /proc status file.
func statusKB(b []byte, key string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// snapshot is the CPU ticks of every user-space process on the machine, to
// tell afterwards which ones other than ours were busy during a run.
type snapshot map[int]procStat

func takeSnapshot() snapshot {
	s := snapshot{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && !st.kthread {
			s[pid] = st
		}
	}
	return s
}

// foreign returns the ticks used between before and after by processes not
// in ours, and the busiest of them ("name(pid)"), for the disturbed flag.
func foreign(before, after snapshot, ours map[int]bool) (int64, string) {
	var total, top int64
	var who string
	for pid, a := range after {
		if ours[pid] {
			continue
		}
		d := a.ticks - before[pid].ticks // a process born during the run counts from 0
		if d <= 0 {
			continue
		}
		total += d
		if d > top {
			top, who = d, fmt.Sprintf("%s(%d)", a.comm, pid)
		}
	}
	return total, who
}
