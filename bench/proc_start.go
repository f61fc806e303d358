package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// process is one program the harness started and will stop, by its PID.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set when done closes
}

// startProcess starts argv with its output appended to logPath. With cpus
// set ("0", "1"), it runs under taskset, which execs the program in place,
// so the PID is the program's. If the harness dies, the kernel sends the
// process SIGTERM (Pdeathsig), so nothing outlives a killed harness.
func startProcess(name, logPath, cpus string, argv ...string) (*process, error) {
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process's PID.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 5 s, then SIGKILL.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitListening waits until addr accepts connections, failing early with
// the log's last line if the process exits first.
func (p *process) waitListening(addr, logPath string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v): %s", p.name, p.err, lastLine(logPath))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listens on %s after 15 s: %s", p.name, addr, lastLine(logPath))
}

// lastLine is the last non-empty line of a log file, for error messages.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// ensureTools installs the Debian packages of the commands that are
// missing (command:package pairs), as root with apt-get, or says what to
// install. nginx and haproxy live in /usr/sbin, which a user's PATH may
// lack: it is added, so that what is found here is also what runs.
func ensureTools(pairs ...string) error {
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if !slices.Contains(filepath.SplitList(os.Getenv("PATH")), dir) {
			os.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+dir)
		}
	}
	var need []string
	for _, p := range pairs {
		c, pkg, _ := strings.Cut(p, ":")
		if _, err := exec.LookPath(c); err != nil {
			need = append(need, pkg)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("bench needs %s: apt-get install %s", strings.Join(need, ", "), strings.Join(need, " "))
	}
	fmt.Fprintf(os.Stderr, "bench: installing %s\n", strings.Join(need, " "))
	up := exec.Command("apt-get", "update", "-qq")
	up.Stdout, up.Stderr = os.Stderr, os.Stderr
	if err := up.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	inst := exec.Command("apt-get", append([]string{"install", "-y", "-qq"}, need...)...)
	inst.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	inst.Stdout, inst.Stderr = os.Stderr, os.Stderr
	if err := inst.Run(); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(need, " "), err)
	}
	return nil
}

// raiseNoFile lifts the open-file limit to its hard maximum; the processes
// the harness starts inherit it (1000 connections need more than 1024).
func raiseNoFile() error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return err
		}
	}
	if r.Cur < 4096 {
		return errors.New("open-file limit below 4096: raise it (ulimit -n) for the 1000-connection scenario")
	}
	return nil
}
