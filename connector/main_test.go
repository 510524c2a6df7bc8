package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/weighbridge/weighbridge/connector/internal/fakeserver"
	"github.com/weighbridge/weighbridge/connector/internal/fixture"
	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

const testVersion = "v0.0.0-processtest"

// binary is the connector built once for these tests, as `make connector` builds it.
var binary string

// argoHandshake and argoPlugins are written out as in Argo's rollout/trafficrouting/plugin/client (which
// keeps them private), so the test checks the connector against Argo's values rather than its own.
var (
	argoHandshake = goplugin.HandshakeConfig{
		ProtocolVersion:  1,
		MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
		MagicCookieValue: "trafficrouter",
	}
	argoPlugins = map[string]goplugin.Plugin{"RpcTrafficRouterPlugin": &rpc.RpcTrafficRouterPlugin{}}
)

func TestMain(m *testing.M) {
	if os.Getenv("WEIGHBRIDGE_TEST_ROLE") == "parent" {
		actAsParent()
		return
	}
	dir, err := os.MkdirTemp("", "weighbridge-connector-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "weighbridge-connector")
	build := exec.Command(goTool(), "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the connector:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// actAsParent plays the Argo controller for TestExitsWhenParentDies: it starts the connector the way
// go-plugin does, writes the connector's pid to a file, passes its handshake line on, and waits to be killed.
func actAsParent() {
	cmd := exec.Command(os.Getenv("WEIGHBRIDGE_TEST_BINARY"), "--server=127.0.0.1:1")
	cmd.Env = append(os.Environ(), "ARGO_ROLLOUTS_RPC_PLUGIN=trafficrouter", "PLUGIN_PROTOCOL_VERSIONS=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Getenv("WEIGHBRIDGE_TEST_PIDFILE"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = cmd.Wait()
	os.Exit(0)
}

// syncBuffer collects go-plugin's client log from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// launched is the connector started by a real go-plugin client, as Argo starts it.
type launched struct {
	client *goplugin.Client
	plugin rpc.TrafficRouterPlugin
	cmd    *exec.Cmd
	log    *syncBuffer
}

func launch(t *testing.T, args ...string) launched {
	t.Helper()
	cmd := exec.Command(binary, args...)
	log := &syncBuffer{}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: argoHandshake,
		Plugins:         argoPlugins,
		Cmd:             cmd,
		Logger:          hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: log, Level: hclog.Trace}),
	})
	t.Cleanup(func() {
		client.Kill()
		if t.Failed() {
			t.Logf("go-plugin client log:\n%s", log.String())
		}
	})
	rpcClient, err := client.Client()
	if err != nil {
		t.Fatalf("go-plugin could not start the connector: %v\n%s", err, log.String())
	}
	raw, err := rpcClient.Dispense("RpcTrafficRouterPlugin")
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	p, ok := raw.(rpc.TrafficRouterPlugin)
	if !ok {
		t.Fatalf("dispensed %T, not a TrafficRouterPlugin", raw)
	}
	return launched{client: client, plugin: p, cmd: cmd, log: log}
}

func startServer(t *testing.T) *fakeserver.Server {
	t.Helper()
	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func TestArgoClientDrivesTheConnector(t *testing.T) {
	srv := startServer(t)
	l := launch(t, "--server="+srv.Addr, "--plugin-name=argoproj-labs/gatewayAPI", "--log-level=debug")
	wantCaller := &pb.Caller{PluginName: "argoproj-labs/gatewayAPI", ConnectorVersion: testVersion}

	if err := l.plugin.InitPlugin(); err.HasError() {
		t.Fatalf("InitPlugin: %s", err.ErrorString)
	}
	if got := l.plugin.Type(); got != "Weighbridge" {
		t.Errorf("Type() = %q", got)
	}

	t.Run("SetWeight arrives intact after Argo's gob encoding", func(t *testing.T) {
		ro := fixture.Rollout()
		if err := l.plugin.SetWeight(ro, 250, fixture.Destinations()); err.HasError() {
			t.Fatalf("SetWeight: %s", err.ErrorString)
		}
		c, _ := srv.Last("SetWeight")
		got := c.Request.(*pb.SetWeightRequest)
		var decoded v1alpha1.Rollout
		if err := json.Unmarshal(got.GetRollout().GetJson(), &decoded); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(&decoded, ro) {
			t.Errorf("Rollout JSON differs from the Rollout Argo sent:\nsent %+v\ngot  %+v", ro, &decoded)
		}
		got.Rollout.Json = nil
		want := &pb.SetWeightRequest{
			Caller: wantCaller,
			Rollout: &pb.Rollout{Namespace: fixture.Namespace, Name: fixture.Name, Uid: fixture.UID,
				Generation: fixture.Generation, ResourceVersion: fixture.ResourceVersion},
			DesiredWeight: 250,
			AdditionalDestinations: []*pb.WeightDestination{
				{ServiceName: "checkout-exp-a", PodTemplateHash: "aaaa1111", Weight: 5},
				{ServiceName: "checkout-exp-b", PodTemplateHash: "bbbb2222", Weight: 0},
			},
		}
		if !proto.Equal(got, want) {
			t.Errorf("SetWeight request\ngot  %v\nwant %v", got, want)
		}
	})

	t.Run("SetMirrorRoute keeps its optional parts through gob", func(t *testing.T) {
		if err := l.plugin.SetMirrorRoute(fixture.Rollout(), fixture.MirrorRoute()); err.HasError() {
			t.Fatalf("SetMirrorRoute: %s", err.ErrorString)
		}
		c, _ := srv.Last("SetMirrorRoute")
		got := c.Request.(*pb.SetMirrorRouteRequest).GetMirrorRoute()
		if got.GetPercentage() != 35 || len(got.GetMatch()) != 2 || got.GetMatch()[1].GetMethod() != nil ||
			got.GetMatch()[0].GetHeaders()["x-tenant"].GetRegex() != "t-.*" {
			t.Errorf("mirror route arrived as %v", got)
		}
	})

	t.Run("VerifyWeight answers map to Argo's values", func(t *testing.T) {
		for _, c := range []struct {
			answer pb.Verification
			want   types.RpcVerified
		}{
			{pb.Verification_VERIFICATION_NOT_VERIFIED, types.NotVerified},
			{pb.Verification_VERIFICATION_VERIFIED, types.Verified},
			{pb.Verification_VERIFICATION_NOT_IMPLEMENTED, types.NotImplemented},
		} {
			srv.SetHandler(func(context.Context, string, proto.Message) (proto.Message, error) {
				return &pb.VerifyWeightResponse{Verification: c.answer, Reason: "test"}, nil
			})
			got, err := l.plugin.VerifyWeight(fixture.Rollout(), 250, nil)
			if got != c.want || err.HasError() {
				t.Errorf("answer %v: got %v, %q; want %v", c.answer, got, err.ErrorString, c.want)
			}
		}
		c, _ := srv.Last("VerifyWeight")
		if w := c.Request.(*pb.VerifyWeightRequest).GetDesiredWeight(); w != 250 {
			t.Errorf("desired weight arrived as %d", w)
		}
	})

	t.Run("server errors reach Argo as RpcError", func(t *testing.T) {
		srv.SetHandler(func(context.Context, string, proto.Message) (proto.Message, error) {
			return nil, status.Error(codes.NotFound, "HTTPRoute shop/checkout not found; create it or fix httpRoute")
		})
		err := l.plugin.SetWeight(fixture.Rollout(), 10, nil)
		if err.ErrorString != "HTTPRoute shop/checkout not found; create it or fix httpRoute" {
			t.Errorf("got %q", err.ErrorString)
		}
		srv.SetHandler(nil)
	})

	t.Run("exits by itself on Kill", func(t *testing.T) {
		// go-plugin waits 2 s for a graceful exit, then force-kills and logs so: the log and the exit
		// status tell, not the time (a loaded machine may take longer to schedule a clean exit).
		l.client.Kill()
		if strings.Contains(l.log.String(), "plugin failed to exit gracefully") {
			t.Errorf("go-plugin force-killed the connector")
		}
		if st := l.cmd.ProcessState; st == nil || !st.Success() {
			t.Errorf("connector did not exit cleanly: %v", st)
		}
	})

	if strings.Contains(l.log.String(), `"@level":"error"`) {
		t.Errorf("connector logged an error:\n%s", l.log.String())
	}
}

func TestUnreachableServerThroughArgoClient(t *testing.T) {
	srv := startServer(t)
	srv.Stop() // a free, closed port
	l := launch(t, "--server="+srv.Addr, "--call-timeout=2s")
	if got := l.plugin.Type(); got != "Weighbridge (plugin-server unreachable)" {
		t.Errorf("Type() = %q", got)
	}
	verified, err := l.plugin.VerifyWeight(fixture.Rollout(), 10, nil)
	if verified != types.NotVerified || !strings.HasPrefix(err.ErrorString, "plugin-server at "+srv.Addr+" unreachable: ") {
		t.Errorf("VerifyWeight = %v, %q", verified, err.ErrorString)
	}
}

func TestExitsOnSignal(t *testing.T) {
	srv := startServer(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			l := launch(t, "--server="+srv.Addr)
			if err := l.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 2*time.Second, l.client.Exited)
		})
	}
}

func TestExitsWhenParentDies(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(self, "-test.run=^$")
	parent.Env = append(os.Environ(), "WEIGHBRIDGE_TEST_ROLE=parent", "WEIGHBRIDGE_TEST_BINARY="+binary,
		"WEIGHBRIDGE_TEST_PIDFILE="+pidFile)
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })

	// The handshake line shows that the connector is up and serving.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "1|1|") {
		t.Fatalf("no go-plugin handshake from the connector: %q, %v", line, err)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// A bound, not a speed check: the connector notices its parent's death within a poll interval.
	waitUntil(t, 15*time.Second, func() bool { return !running(pid) })
}

// running tells whether pid is a live process (a zombie that nobody reaped has exited).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func TestInvalidFlagsExitNonZeroWithoutStdout(t *testing.T) {
	cmd := exec.Command(binary, "--call-timeout=soon")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("want exit code 2, got %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("wrote to stdout, which belongs to the go-plugin handshake: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), `--call-timeout="soon": not a duration`) {
		t.Errorf("stderr does not explain the problem: %q", stderr.String())
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != testVersion {
		t.Errorf("--version printed %q, %v", out, err)
	}
}

// TestBinaryIsStatic checks what the distroless controller image needs: no ELF interpreter, no shared libraries.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary asks for a dynamic loader")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v (%v)", libs, err)
	}
}

// waitUntil polls cond until it holds or the limit passes.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		<-tick.C
	}
}
