package perf

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuSample is a snapshot of the machine's and our processes' CPU time, in clock ticks.
type cpuSample struct {
	total, busy, own uint64
}

// sampleCPU reads /proc/stat (machine) and /proc/<pid>/stat (this process and extra pids;
// children already reaped count too). Processes that vanished are skipped.
func sampleCPU(extra []int) (cpuSample, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuSample{}, fmt.Errorf("%w: %w", errNoProc, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuSample{}, fmt.Errorf("reading /proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuSample{}, fmt.Errorf("reading /proc/stat: unexpected first line %q", sc.Text())
	}
	var s cpuSample
	// user nice system idle iowait irq softirq steal (guest time is already in user).
	for i, v := range fields[1:] {
		if i >= 8 {
			break
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuSample{}, fmt.Errorf("reading /proc/stat: field %d: %w", i+1, err)
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	pids := append([]int{os.Getpid()}, extra...)
	for _, pid := range pids {
		if t, err := procTicks(pid); err == nil {
			s.own += t
		}
	}
	return s, nil
}

// procTicks returns utime+stime+cutime+cstime of a process.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after the last ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime..cstime are fields 14-17.
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var t uint64
	for _, v := range f[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		if n > 0 {
			t += uint64(n)
		}
	}
	return t, nil
}

// since fills e's CPU shares from the difference between two samples.
func (s cpuSample) since(prev cpuSample, e *Environment) {
	total := float64(s.total - prev.total)
	if total <= 0 || s.total < prev.total {
		return
	}
	busy := float64(s.busy - prev.busy)
	own := float64(s.own) - float64(prev.own)
	e.CPUSampled = true
	e.MachineBusyPercent = round1(100 * busy / total)
	e.OwnPercent = round1(100 * own / total)
	other := e.MachineBusyPercent - e.OwnPercent
	if other < 0 {
		other = 0
	}
	e.OtherTenantsPercent = round1(other)
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
