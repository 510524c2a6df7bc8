//go:build e2enode

// Package node is the real-node end-to-end suite (make e2e-node): a single-node cluster from parts (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet on containerd + runc with the CNI bridge,
// kube-proxy; internal/cluster's Node) inside a network namespace the test binary makes for itself, running real
// pods from images built here with buildah. It needs root and Debian's containerd, runc, containernetworking-plugins,
// buildah, iptables and iproute2 (.ci/run installs them). Nothing here skips: a missing part fails the run with
// what to install or build.
package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

var (
	node    *cluster.Node
	workDir string
	root    string
	// timeline narrates the run: every line is stamped with the time since the start.
	started time.Time
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e-node %7.1fs: %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func TestMain(m *testing.M) {
	if reexeced, code := cluster.InNodeNamespaces(); reexeced {
		os.Exit(code)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	started = time.Now()
	// go test runs in e2e/conformance/node.
	root = os.Getenv("WEIGHBRIDGE_ROOT")
	if root == "" {
		root, _ = filepath.Abs(filepath.Join("..", "..", ".."))
	}
	var err error
	workDir, err = os.MkdirTemp("", "weighbridge-e2e-node-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: create a work directory: %v\n", err)
		return 1
	}
	logf("logs, configs and state of every process in %s (kept when a test fails)", workDir)
	node, err = cluster.StartNode(context.Background(), cluster.NodeOptions{Root: root, Dir: workDir, Logf: logf})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start the node: %v\n(logs in %s)\n", err, workDir)
		return 1
	}
	logf("node ready")
	code := m.Run()
	stopping := time.Now()
	node.Stop()
	logf("node stopped in %v", time.Since(stopping).Round(time.Millisecond))
	if code == 0 {
		if err := cluster.RemoveNodeDir(workDir); err != nil {
			logf("could not remove %s: %v", workDir, err)
		}
	} else {
		logf("logs kept in %s", workDir)
	}
	return code
}

// goBuild builds a static binary of package pkg (relative to e2e/conformance) into the work directory.
func goBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	out := filepath.Join(workDir, "bin", name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = filepath.Join(root, "e2e", "conformance")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
