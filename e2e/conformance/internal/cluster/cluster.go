// Package cluster starts the local control plane of the end-to-end tests, every part a real upstream
// program built from Go modules (testkit/controlplane/build.sh e2e) or our real jar:
//
//	etcd + kube-apiserver   (the testkit, via io.weighbridge.e2e.ControlPlaneMain; Gateway API + Argo CRDs)
//	kube-controller-manager (Deployments/ReplicaSets create Pods, ServiceAccounts, garbage collection)
//	KWOK                    (one fake node; Pods bound to it become Running and Ready)
//	plugin-server           (the real jar, real routing engine, talking to the API server)
//	rollouts-controller     (Argo Rollouts v1.9.1, or v1.10.2 with make e2e-argo110; argo-rollouts-config registering our connector
//	                         by file:// location and sha256, as a user would)
//	Traefik v3.6.12         (testkit/traefik/build.sh; the real north/south gateway: its Kubernetes Gateway
//	                         provider reads the routes, EndpointSlices and Services, writes the routes' status
//	                         and sends the traffic to the pods' IPs by the weights Weighbridge wrote)
//	pod server              (internal/podserver: answers at every pod IP as that pod's version)
//	Prometheus              (/usr/bin/prometheus: scrapes Traefik's real metrics and the simulated Linkerd ones)
//
// All of it runs inside one network namespace (scripts/in-netns, see InNetns): Traefik listens on GatewayIP,
// and KWOK's pod CIDR is local there, so the pod server answers at each pod's own IP.
//
// East/west stays simulated: Linkerd's proxy is not available to build here, so a route-status writer plays
// Linkerd's controller for the Service-parented (GAMMA) routes (status.parents Accepted=True at the route's
// generation, which Weighbridge's default verifyWeight=status waits for) and DataPlane writes Linkerd-shaped
// metrics for them. The north/south route's status is Traefik's own.
package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	argoclient "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// PluginName is the name the connector is registered under in argo-rollouts-config.
const PluginName = "weighbridge/gateway-api"

// ArgoNamespace holds argo-rollouts-config (the controller's POD_NAMESPACE).
const ArgoNamespace = "argo-rollouts"

// NodeName is KWOK's fake node; the tests' pod templates name it (there is no scheduler).
const NodeName = "kwok-node-0"

// Options says where the parts are.
type Options struct {
	// Root is the repository root (for testkit/controlplane/build.sh and testkit/upstream/resolve.sh).
	Root string
	// Java runs ControlPlaneMain and the plugin-server jar.
	Java string
	// Classpath runs io.weighbridge.e2e.ControlPlaneMain (e2e's test classpath).
	Classpath string
	// ServerJar is plugin-server's executable jar.
	ServerJar string
	// Connector is the connector binary Argo downloads (file://) and execs.
	Connector string
	// Dir receives every process's log and work files; it must exist.
	Dir string
	// Bin, when set, holds prebuilt binaries (etcd, kube-apiserver, kube-controller-manager, kwok,
	// kwok-stages.yaml, rollouts-controller); otherwise build.sh e2e builds or finds them.
	Bin string
	// RolloutsController, when set, is the rollouts-controller binary to run instead of Bin's (v1.9.1): make
	// e2e-argo110 passes v1.10.2 (build.sh rollouts-v1.10).
	RolloutsController string
	// Traefik, when set, is the traefik binary; otherwise testkit/traefik/build.sh builds or finds it.
	Traefik string
	// Logf narrates progress (to the test log).
	Logf func(format string, args ...any)
}

// Cluster is the running control plane.
type Cluster struct {
	opts       Options
	traefikBin string // found by binaries(), run by startTraefik
	Bin        string
	Kubeconfig string
	Config     *rest.Config
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Argo       argoclient.Interface

	ControlPlane, ControllerManager, KWOK, Server, Rollouts *Proc
	// Traefik is the north/south gateway; PodServer answers at the pods' IPs.
	Traefik   *Traefik
	PodServer *Proc

	// GRPCPort and HTTPPort are plugin-server's (fixed, so that a restarted server is where the connector's
	// --server points).
	GRPCPort, HTTPPort int
	// ArgoMetricsPort serves the rollouts-controller's /metrics.
	ArgoMetricsPort int
	// Startup records how long each part took to become ready.
	Startup []Step

	// DataPlane and Prometheus serve the analyzer (nil when Prometheus is not installed: see NoAnalyzer).
	DataPlane  *DataPlane
	Prometheus *Prometheus
	// NoAnalyzer says why plugin-server runs without its canary analyzer ("" when it runs with it).
	NoAnalyzer string
	// PluginLocation is the location argo-rollouts-config gives for the connector: plugin-server's
	// http://.../connector/linux-amd64 when it serves the connector (--connector-dir), else file://.
	PluginLocation string
	serverArgs     []string
	serverHelp     []byte

	stopStatus context.CancelFunc
}

// Step is one timed part of the startup.
type Step struct {
	What string
	Took time.Duration
}

// startStep is one part of a startup (the local control plane's or the real node's), to be timed.
type startStep struct {
	what string
	f    func() error
}

// run runs the step; when it succeeds, its time is added to record and logged as "<who>: <what> in <time>".
func (s startStep) run(who string, logf func(string, ...any), record *[]Step) error {
	began := time.Now()
	if err := s.f(); err != nil {
		return err
	}
	took := time.Since(began)
	*record = append(*record, Step{s.what, took})
	logf("%s: %s in %v", who, s.what, took.Round(time.Millisecond))
	return nil
}

// Start builds what is missing and starts everything; on error, what was started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c = &Cluster{opts: opts}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	steps := []startStep{
		{"in the network namespace; control-plane and Traefik binaries found or built", c.binaries},
		{"etcd + kube-apiserver with CRDs ready", c.startAPIServer},
		{"kube-controller-manager started", c.startControllerManager},
		{"KWOK node Ready", func() error { return c.startKWOK(ctx) }},
		{"Traefik accepted the GatewayClass", func() error { return c.startTraefik(ctx) }},
		{"pod server answering at the pods' IPs", c.startPodServer},
		{"plugin-server features read (--help); data plane + Prometheus ready if it has the analyzer", c.startAnalyzerBackends},
		{"plugin-server ready", c.startServer},
		{"rollouts-controller healthy with the connector registered", func() error { return c.startRollouts(ctx) }},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil { // interrupted (Ctrl-C of the demo): stop between steps
			return c, fmt.Errorf("start interrupted before %q: %w", s.what, err)
		}
		if err := s.run("cluster", opts.Logf, &c.Startup); err != nil {
			return c, err
		}
	}
	statusCtx, cancel := context.WithCancel(context.Background())
	c.stopStatus = cancel
	go c.acceptRoutes(statusCtx)
	return c, nil
}

// StartAPIServer starts only etcd and kube-apiserver with the CRDs (ControlPlaneMain), as the first
// step of Start does: for the bench, which drives plugin-server itself. Stop ends it.
func StartAPIServer(opts Options) (*Cluster, error) {
	c := &Cluster{opts: opts}
	if err := c.startAPIServer(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) binaries() error {
	if err := InNetns(); err != nil {
		return err
	}
	var err error
	if c.traefikBin, err = c.traefikBinary(); err != nil {
		return err
	}
	if c.opts.Bin != "" {
		c.Bin = c.opts.Bin
	} else if c.Bin, err = TestkitBuild(c.opts.Root, "controlplane", "e2e"); err != nil {
		return err
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kwok", "kwok-stages.yaml", "rollouts-controller"} {
		if _, err := os.Stat(filepath.Join(c.Bin, b)); err != nil {
			return fmt.Errorf("control-plane directory %s has no %s: run testkit/controlplane/build.sh e2e (or unset the prebuilt directory)", c.Bin, b)
		}
	}
	return nil
}

func (c *Cluster) startAPIServer() error {
	ready := filepath.Join(c.opts.Dir, "controlplane.json")
	p, err := start(c.opts.Dir, "controlplane", []string{"WEIGHBRIDGE_CONTROLPLANE_BIN=" + c.Bin}, c.opts.Root,
		c.opts.Java, "-cp", c.opts.Classpath, "io.weighbridge.e2e.ControlPlaneMain", "--ready-file="+ready)
	if err != nil {
		return err
	}
	c.ControlPlane = p
	var info struct {
		Kubeconfig string `json:"kubeconfig"`
	}
	if err := awaitFile(p, ready, 3*time.Minute, &info); err != nil {
		return err
	}
	c.Kubeconfig = info.Kubeconfig
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", c.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	if c.Argo, err = argoclient.NewForConfig(cfg); err != nil {
		return fmt.Errorf("argo client: %w", err)
	}
	return nil
}

func (c *Cluster) startControllerManager() error {
	p, err := start(c.opts.Dir, "kube-controller-manager", nil, c.opts.Dir,
		filepath.Join(c.Bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		// What Rollouts need: ReplicaSets create Pods, namespaces get their default ServiceAccount (the
		// ServiceAccount admission plugin refuses Pods without it), old ReplicaSets' Pods are collected.
		// EndpointSlices for the pods' IPs are what Traefik sends the north/south traffic to.
		"--controllers=replicaset-controller,deployment-controller,serviceaccount-controller,garbage-collector-controller,endpointslice-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--concurrent-replicaset-syncs=10",
		"-v=1")
	if err != nil {
		return err
	}
	c.ControllerManager = p
	return nil
}

func (c *Cluster) startKWOK(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName},
		},
		Status: corev1.NodeStatus{Allocatable: capacity(), Capacity: capacity()},
	}
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create node %s: %w", NodeName, err)
	}
	p, err := start(c.opts.Dir, "kwok", nil, c.opts.Dir,
		filepath.Join(c.Bin, "kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+filepath.Join(c.Bin, "kwok-stages.yaml"),
		"--manage-single-node="+NodeName,
		"--cidr="+PodCIDR,
		"--node-ip=127.0.0.1",
		"--node-port=0") // no kubelet API server: nothing execs into these Pods
	if err != nil {
		return err
	}
	c.KWOK = p
	return poll(p, time.Minute, "node "+NodeName+" Ready", func() (bool, error) {
		return nodeReady(ctx, c.Kube, NodeName), nil
	})
}

// nodeReady tells whether node name exists and its Ready condition is True.
func nodeReady(ctx context.Context, kube kubernetes.Interface, name string) bool {
	node, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func capacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("500"),
	}
}

// startServer starts the plugin-server jar on the ports chosen on its first start.
func (c *Cluster) startServer() error {
	if c.GRPCPort == 0 {
		var err error
		if c.GRPCPort, err = freePort(); err != nil {
			return err
		}
		if c.HTTPPort, err = freePort(); err != nil {
			return err
		}
	}
	argv := append([]string{},
		c.opts.Java, "-Xmx512m", "-jar", c.opts.ServerJar,
		"--kubeconfig="+c.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--grpc-port="+strconv.Itoa(c.GRPCPort),
		"--http-port="+strconv.Itoa(c.HTTPPort))
	p, err := start(c.opts.Dir, "plugin-server", nil, c.opts.Dir, append(argv, c.serverArgs...)...)
	if err != nil {
		return err
	}
	c.Server = p
	return poll(p, 2*time.Minute, fmt.Sprintf("plugin-server answer 200 on :%d/readyz", c.HTTPPort), func() (bool, error) {
		return httpOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", c.HTTPPort)), nil
	})
}

// startAnalyzerBackends starts the data plane and a Prometheus scraping it, and, when this plugin-server has
// the canary analyzer (its --help lists --prometheus-url), the flags that point the analyzer at them.
func (c *Cluster) startAnalyzerBackends() error {
	help, err := exec.Command(c.opts.Java, "-jar", c.opts.ServerJar, "--help").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -jar %s --help: %w\n%s", c.opts.Java, c.opts.ServerJar, err, help)
	}
	c.serverHelp = help
	has := func(flag string) bool { return bytes.Contains(help, []byte("--"+flag)) }
	if has("connector-dir") {
		// Serve the connector as a release would: weighbridge-connector-<os>-<arch> in --connector-dir.
		dir := filepath.Join(c.opts.Dir, "connector-dir")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		data, err := os.ReadFile(c.opts.Connector)
		if err != nil {
			return fmt.Errorf("read connector %s (build it with `make connector`): %w", c.opts.Connector, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "weighbridge-connector-linux-amd64"), data, 0o755); err != nil {
			return fmt.Errorf("copy the connector into %s: %w", dir, err)
		}
		c.serverArgs = append(c.serverArgs, "--connector-dir="+dir)
	}
	if !has("prometheus-url") {
		c.NoAnalyzer = "this plugin-server has no canary analyzer (its --help lists no --prometheus-url; issue #4)"
		return nil
	}
	if c.DataPlane, err = c.StartDataPlane(); err != nil {
		return err
	}
	if c.Prometheus, err = c.StartPrometheus(map[string]string{"dataplane": c.DataPlane.Target(), "traefik": c.Traefik.MetricsTarget}); err != nil {
		c.NoAnalyzer = err.Error()
		c.opts.Logf("cluster: no analyzer scenarios: %v", err)
		return nil
	}
	c.serverArgs = append(c.serverArgs, "--prometheus-url="+c.Prometheus.URL)
	for flag, value := range map[string]string{"analysis-interval": "1s", "leader-election": "false"} {
		if has(flag) {
			c.serverArgs = append(c.serverArgs, "--"+flag+"="+value)
		}
	}
	return nil
}

// RestartServer starts plugin-server again (after KillServer or StopServer) on the same ports.
func (c *Cluster) RestartServer() (time.Duration, error) {
	began := time.Now()
	err := c.startServer()
	return time.Since(began), err
}

// KillServer kills plugin-server with SIGKILL, as a crash or an OOM kill would.
func (c *Cluster) KillServer() { c.Server.Kill() }

func (c *Cluster) startRollouts(ctx context.Context) error {
	sum, err := fileSHA256(c.opts.Connector)
	if err != nil {
		return err
	}
	// As a user registers a traffic-router plugin: by location with its sha256, and the connector's flags as
	// args (supported by Argo since v1.7). When plugin-server serves the connector, the location is its URL and
	// the digest is the one it publishes beside it (checked against the local file's).
	c.PluginLocation = "file://" + c.opts.Connector
	if bytes.Contains(c.serverHelp, []byte("--connector-dir")) {
		url := fmt.Sprintf("http://127.0.0.1:%d/connector/linux-amd64", c.HTTPPort)
		published, err := httpGet(url + ".sha256")
		if err != nil {
			return err
		}
		fields := strings.Fields(published)
		if len(fields) == 0 || fields[0] != sum {
			return fmt.Errorf("%s.sha256 answers %q, want the digest %s of %s", url, published, sum, c.opts.Connector)
		}
		c.PluginLocation = url
	}
	plugins := []map[string]any{{
		"name":     PluginName,
		"location": c.PluginLocation,
		"sha256":   sum,
		"args":     []string{fmt.Sprintf("--server=127.0.0.1:%d", c.GRPCPort)},
	}}
	pluginsJSON, _ := json.Marshal(plugins) // YAML is a superset of JSON
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ArgoNamespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ArgoNamespace, err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-rollouts-config", Namespace: ArgoNamespace},
		Data:       map[string]string{"trafficRouterPlugins": string(pluginsJSON)},
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ArgoNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create argo-rollouts-config: %w", err)
	}
	healthz, err := freePort()
	if err != nil {
		return err
	}
	if c.ArgoMetricsPort, err = freePort(); err != nil {
		return err
	}
	// Argo downloads plugins into ./plugin-bin/ of its working directory (utils/plugin, DefaultRolloutPluginFolder).
	work := filepath.Join(c.opts.Dir, "argo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", work, err)
	}
	controller := c.opts.RolloutsController
	if controller == "" {
		controller = filepath.Join(c.Bin, "rollouts-controller")
	}
	p, err := start(c.opts.Dir, "rollouts-controller", []string{"POD_NAMESPACE=" + ArgoNamespace}, work, controller,
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--healthzPort="+strconv.Itoa(healthz),
		"--metricsport="+strconv.Itoa(c.ArgoMetricsPort),
		"--loglevel=info")
	if err != nil {
		return err
	}
	c.Rollouts = p
	return poll(p, 2*time.Minute, fmt.Sprintf("rollouts-controller answer 200 on :%d/healthz", healthz), func() (bool, error) {
		return httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz)), nil
	})
}

// Stop ends everything in reverse order of start.
func (c *Cluster) Stop() {
	if c.stopStatus != nil {
		c.stopStatus()
	}
	if c.DataPlane != nil {
		c.DataPlane.Stop()
	}
	var prometheus *Proc
	if c.Prometheus != nil {
		prometheus = c.Prometheus.Proc
	}
	var traefik *Proc
	if c.Traefik != nil {
		traefik = c.Traefik.Proc
	}
	for _, p := range []*Proc{c.Rollouts, c.Server, prometheus, c.PodServer, traefik, c.KWOK, c.ControllerManager, c.ControlPlane} {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
}

// Logs lists the processes' log files.
func (c *Cluster) Logs() []string {
	var logs []string
	for _, p := range []*Proc{c.ControlPlane, c.ControllerManager, c.KWOK, c.Server, c.Rollouts, c.PodServer} {
		if p != nil {
			logs = append(logs, p.LogPath)
		}
	}
	if c.Traefik != nil {
		logs = append(logs, c.Traefik.LogPath)
	}
	if c.Prometheus != nil {
		logs = append(logs, c.Prometheus.LogPath)
	}
	return logs
}

func awaitFile(p *Proc, path string, timeout time.Duration, into any) error {
	return poll(p, timeout, "write "+path, func() (bool, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return false, nil
		}
		if err := json.Unmarshal(data, into); err != nil {
			return false, fmt.Errorf("%s is not JSON (%q): %w", path, data, err)
		}
		return true, nil
	})
}

// poll calls done every 50 ms until it says true, the process dies or timeout passes.
func poll(p *Proc, timeout time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := p.dead(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not %s within %v; the end of its log %s:\n%s", p.Name, what, timeout, p.LogPath, p.LogTail(3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var probe = &http.Client{Timeout: 2 * time.Second}

// fetch is for real requests (the connector's digest, hashed on first request by a cold JVM): not a probe.
var fetch = &http.Client{Timeout: 60 * time.Second}

func httpGet(url string) (string, error) {
	resp, err := fetch.Get(url)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s %q (%v)", url, resp.Status, body, err)
	}
	return string(body), nil
}

func httpOK(url string) bool {
	resp, err := probe.Get(url)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read connector %s (build it with `make connector`): %w", path, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
