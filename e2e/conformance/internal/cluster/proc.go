package cluster

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proc is one process of the cluster (etcd+kube-apiserver's Java launcher, kube-controller-manager, KWOK,
// plugin-server, rollouts-controller), with its stdout and stderr in a log file of the cluster's directory.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// start runs name's command with its output appended to dir/<name>.log (appended, so a restarted process
// keeps the earlier run's log above its own).
func start(dir, name string, env []string, workDir string, argv ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	fmt.Fprintf(f, "=== %s: %q\n", time.Now().UTC().Format(time.RFC3339Nano), argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a Ctrl-C of `make e2e` reaches the harness, which stops everything in
	// order, rather than every process at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill ends the process at once (SIGKILL), as a crash or an OOM kill would, and waits until it is gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop asks the process to end (SIGTERM), waits up to grace, then kills it.
func (p *Proc) Stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// LogTail is the last max bytes of the process's log, for error messages.
func (p *Proc) LogTail(max int64) string {
	return tail(p.LogPath, max)
}

func tail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > max {
		_, _ = f.Seek(info.Size()-max, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

// dead returns an error with the log's end when the process has already exited, else nil.
func (p *Proc) dead() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited (%v); the end of its log %s:\n%s", p.Name, p.waitErr, p.LogPath, p.LogTail(3000))
	default:
		return nil
	}
}

// Running tells whether the process has not exited yet.
func (p *Proc) Running() bool { return p.dead() == nil }
