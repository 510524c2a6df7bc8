//go:build e2enode

package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
)

// startPrometheus runs Debian's Prometheus as a process of the node (on NodeIP:9090, which plugin-server's pod
// reaches) scraping Traefik's pod every second.
func startPrometheus(t *testing.T, traefikPod string) *exec.Cmd {
	t.Helper()
	dir := filepath.Join(workDir, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"+
		"scrape_configs:\n- job_name: traefik\n  static_configs: [{targets: ['%s:8080']}]\n", traefikPod)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(workDir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+cluster.NodeIP+":9090")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start /usr/bin/prometheus (apt-get install prometheus): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + cluster.NodeIP + ":9090/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus not ready within a minute (%v); see %s", err, logFile.Name())
		}
	}
}

// When the chart is upgraded with a Prometheus URL (the analyzer on) and a version that fails half its requests is
// released, then Traefik's metrics show it, Weighbridge's analyzer aborts the canary and Argo sends every request
// back to the stable version.
func TestBadVersionRevertedByAnalyzer(t *testing.T) {
	if !installed {
		t.Fatal("TestInstallAsUsersDo did not install Argo and Weighbridge: see its failure")
	}
	ctx := context.Background()
	pods, err := node.Kube.CoreV1().Pods("traefik").List(ctx, metav1.ListOptions{LabelSelector: "app=traefik"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("no Traefik pod (TestPromotionThroughTraefik installs it): %v", err)
	}
	startPrometheus(t, pods.Items[0].Status.PodIP)
	logf("revert: Prometheus scraping Traefik at %s:8080", pods.Items[0].Status.PodIP)
	helm := exec.Command(node.HelmBin, "upgrade", "weighbridge", filepath.Join(root, "charts", "weighbridge"),
		"--namespace", "weighbridge", "--kubeconfig", node.Kubeconfig, "--reuse-values",
		"--set", "server.prometheusUrl=http://"+cluster.NodeIP+":9090", "--wait", "--timeout", "5m")
	if out, err := helm.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade: %v\n%s\n%s", err, out, describe("weighbridge"))
	}
	logf("revert: helm upgrade --set server.prometheusUrl: plugin-server Ready with the analyzer")

	app := followShop(t, "revert")
	svc, err := node.Kube.CoreV1().Services("traefik").Get(ctx, "traefik", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The stable version, which the revert must bring every request back to.
	before := split(t, svc.Spec.ClusterIP, 20)
	stable := ""
	for v, n := range before {
		if n == 20 {
			stable = v
		}
	}
	if stable == "" {
		t.Fatalf("before the release, 20 requests through Traefik: %v: want one stable version", before)
	}
	// Steady load through Traefik while the canary runs (bounded: it stops with the test, at most 20000 requests).
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sent.Load() < 20000 {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			split(t, svc.Spec.ClusterIP, 1)
			sent.Add(1)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// The analysis settings go into the plugin config, and the bad version (ERROR_RATE 0.5) is released, in one patch.
	patch := `[{"op":"add","path":"/spec/strategy/canary/trafficRouting/plugins/weighbridge~1gateway-api/analysis",
	  "value":{"enabled":true,"successRate":{"maxErrorRate":0.01},"latency":{"enabled":false},"sensitivity":"medium","minSampleSize":20}},
	 {"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"v3"},
	 {"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"ERROR_RATE","value":"0.5"}}]`
	released := time.Now()
	if _, err := node.Kubectl("-n", "shop", "patch", "rollout", "checkout", "--type=json", "-p", patch); err != nil {
		t.Fatal(err)
	}
	app.TL.Note("released v3 (fails 50%% of requests) with the analyzer configured")
	ro, err := app.AwaitRollout(ctx, 5*time.Minute, "aborted", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort })
	if err != nil {
		t.Fatalf("%v\nplugin-server's log:\n%s", err, podLog("weighbridge", "deployment/weighbridge"))
	}
	app.TL.Note("Argo aborted %v after the release: %s", time.Since(released).Round(time.Millisecond), ro.Status.Message)
	if err := app.AwaitWeights(ctx, 0, 100, time.Minute); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		got := split(t, svc.Spec.ClusterIP, 100)
		if got[stable] == 100 {
			app.TL.Note("after the revert, 100 requests through Traefik: %v", got)
			logf("revert: analyzer aborted the canary; 100 of 100 requests answer %s again (%d requests sent meanwhile)", stable, sent.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the revert: %v, want all 100 on the stable %s", got, stable)
		}
	}
}

func podLog(ns, target string) string {
	out, _ := node.Kubectl("-n", ns, "logs", target, "--tail=60")
	return out
}
