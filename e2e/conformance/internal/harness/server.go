package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerOptions says how to start ConformanceServerMain.
type ServerOptions struct {
	// GRPCPort to listen on; 0 picks a free one (the restart test passes the previous one).
	GRPCPort int
	// HTTPPort for /healthz, /readyz and /metrics; 0 picks a free one.
	HTTPPort int
	// Noop serves a no-op router (for the bench) instead of the recording one.
	Noop bool
	// JVMArgs go before the main class, e.g. -Xmx256m.
	JVMArgs []string
	// Dir receives the ports file and the server's log; it must exist.
	Dir string
	// ReadyTimeout bounds the wait for /readyz (default 60 s: a cold JVM on a busy machine).
	ReadyTimeout time.Duration
	// MainClass is the Java main to run (default io.weighbridge.e2e.ConformanceServerMain);
	// io.weighbridge.e2e.EngineServerMain runs the real routing engine on a real kube-apiserver.
	MainClass string
	// WorkDir is the process's working directory (default Dir). EngineServerMain needs the
	// repository root: the testkit finds the control-plane build script and the CRDs' resolve.sh from there.
	WorkDir string
	// ServerArgs are more plugin-server flags (ServerConfig.parse). Without an --auth-mode among
	// them, --auth-mode=none is passed: these servers are called without tokens, and the default
	// would be tokenreview wherever a ServiceAccount token is mounted (a CI Pod).
	ServerArgs []string
}

// Server is a running ConformanceServerMain process.
type Server struct {
	Cmd         *exec.Cmd
	GRPCPort    int
	HTTPPort    int
	ControlPort int
	// LogPath holds the process's stdout and stderr.
	LogPath string
	// Started is when the process was started; Ready when /readyz first answered 200.
	Started, Ready time.Time
	// Kubeconfig, Namespace, HTTPRoute and GRPCRoute describe EngineServerMain's kube-apiserver and
	// fixtures (empty for ConformanceServerMain).
	Kubeconfig, Namespace, HTTPRoute, GRPCRoute string

	exited  chan struct{}
	waitErr error
	log     *os.File
}

// serverPorts is what ConformanceServerMain writes to its ports file.
type serverPorts struct {
	Pid         int    `json:"pid"`
	GRPCPort    int    `json:"grpcPort"`
	HTTPPort    int    `json:"httpPort"`
	ControlPort int    `json:"controlPort"`
	Kubeconfig  string `json:"kubeconfig"`
	Namespace   string `json:"namespace"`
	HTTPRoute   string `json:"httpRoute"`
	GRPCRoute   string `json:"grpcRoute"`
}

// StartServer starts ConformanceServerMain and returns once its /readyz answers 200.
func StartServer(env Env, opts ServerOptions) (*Server, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	f, err := os.CreateTemp(opts.Dir, "plugin-server-*.log")
	if err != nil {
		return nil, fmt.Errorf("create server log in %s: %w", opts.Dir, err)
	}
	portsFile := f.Name() + ".ports.json"
	args := append([]string{}, opts.JVMArgs...)
	if opts.MainClass == "" {
		opts.MainClass = "io.weighbridge.e2e.ConformanceServerMain"
	}
	if opts.WorkDir == "" {
		opts.WorkDir = opts.Dir
	}
	args = append(args, "-cp", env.Classpath, opts.MainClass,
		"--ports-file="+portsFile,
		"--grpc-port="+strconv.Itoa(opts.GRPCPort),
		"--http-port="+strconv.Itoa(opts.HTTPPort))
	if opts.Noop {
		args = append(args, "--noop")
	}
	args = append(args, opts.ServerArgs...)
	if !hasFlag(opts.ServerArgs, "--auth-mode") {
		args = append(args, "--auth-mode=none")
	}
	cmd := exec.Command(env.Java, args...)
	cmd.Dir = opts.WorkDir
	cmd.Stdout = f
	cmd.Stderr = f
	s := &Server{Cmd: cmd, LogPath: f.Name(), exited: make(chan struct{}), log: f}
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", env.Java, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		f.Close()
		close(s.exited)
	}()

	deadline := time.Now().Add(opts.ReadyTimeout)
	ports, err := s.awaitPorts(portsFile, opts.HTTPPort, deadline)
	if err != nil {
		s.Kill()
		return nil, err
	}
	s.GRPCPort, s.HTTPPort, s.ControlPort = ports.GRPCPort, ports.HTTPPort, ports.ControlPort
	s.Kubeconfig, s.Namespace, s.HTTPRoute, s.GRPCRoute = ports.Kubeconfig, ports.Namespace, ports.HTTPRoute, ports.GRPCRoute
	if err := s.awaitReady(deadline); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// awaitPorts polls the ports file. With a fixed HTTP port it also polls /readyz meanwhile, so that
// time-to-ready is measured from process start, not from when the ports file was written.
func (s *Server) awaitPorts(portsFile string, httpPort int, deadline time.Time) (serverPorts, error) {
	var ports serverPorts
	for {
		if httpPort != 0 && s.Ready.IsZero() && readyz(httpPort) {
			s.Ready = time.Now()
		}
		data, err := os.ReadFile(portsFile)
		if err == nil {
			if err := json.Unmarshal(data, &ports); err != nil {
				return ports, fmt.Errorf("ports file %s is not JSON (%q): %w", portsFile, data, err)
			}
			return ports, nil
		}
		if err := s.pollWait(deadline, "write its ports file "+portsFile); err != nil {
			return ports, err
		}
	}
}

func (s *Server) awaitReady(deadline time.Time) error {
	for s.Ready.IsZero() {
		if readyz(s.HTTPPort) {
			s.Ready = time.Now()
			return nil
		}
		if err := s.pollWait(deadline, fmt.Sprintf("answer 200 on http://127.0.0.1:%d/readyz", s.HTTPPort)); err != nil {
			return err
		}
	}
	return nil
}

// pollWait waits one poll interval, or fails when the process died or the deadline passed.
func (s *Server) pollWait(deadline time.Time, what string) error {
	select {
	case <-s.exited:
		return fmt.Errorf("plugin-server exited (%v) before it would %s; its log:\n%s", s.waitErr, what, s.LogTail(4000))
	case <-time.After(20 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("plugin-server did not %s in time; its log:\n%s", what, s.LogTail(4000))
	}
	return nil
}

var probeClient = &http.Client{Timeout: 2 * time.Second}

func readyz(port int) bool {
	resp, err := probeClient.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Pid is the JVM's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Exited is closed when the process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Kill ends the process at once (SIGKILL), as a crash would, and waits until it is gone.
func (s *Server) Kill() {
	_ = s.Cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// Stop asks the process to shut down gracefully (SIGTERM) and waits up to timeout, then kills it.
func (s *Server) Stop(timeout time.Duration) error {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("plugin-server did not stop within %s of SIGTERM; killed it", timeout)
	}
}

// LogTail is the last max bytes of the server's log.
func (s *Server) LogTail(max int) string {
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.LogPath, err)
	}
	if len(data) > max {
		data = append([]byte("..."), data[len(data)-max:]...)
	}
	return string(data)
}

// GRPCAddress is host:port of the gRPC contract service.
func (s *Server) GRPCAddress() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.GRPCPort))
}

// FreePort asks the kernel for a free loopback port. The port can be taken by someone else before it
// is used: only the bench uses this, to poll /readyz from the very start of the process.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// control talks to the server's ControlEndpoint.
func (s *Server) control(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	if s.ControlPort == 0 {
		return nil, errors.New("this plugin-server has no control endpoint (started with Noop)")
	}
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", s.ControlPort, path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("control endpoint %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("control endpoint %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("control endpoint %s %s answered %s: %s", method, path, resp.Status, data)
	}
	return data, nil
}
