package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	argoclient "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RealNodeName is the real node's name (kubelet's --hostname-override).
const RealNodeName = "weighbridge-node"

// NodeOptions says where the real node's parts are.
type NodeOptions struct {
	// Root is the repository root (testkit/controlplane/build.sh).
	Root string
	// Dir receives every process's log, config and state; it must exist.
	Dir string
	// Logf narrates progress.
	Logf func(format string, args ...any)
}

// Node is a single-node cluster from parts, inside the network namespace that InNodeNamespaces made: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler (testkit/controlplane/build.sh e2e and node), a
// kubelet on containerd (Debian's) with runc and the CNI bridge + host-local plugins, kube-proxy in iptables mode
// and the harness's cluster DNS stand-in (see NodeDNSServer). Every component uses one admin token (system:masters):
// a test shortcut; pods use their service accounts' tokens, so RBAC applies to them as in a real cluster.
type Node struct {
	opts NodeOptions
	// Bin holds etcd, kube-apiserver, kube-controller-manager, rollouts-controller (build.sh e2e); NodeBin kubelet,
	// kube-proxy, kube-scheduler, pause (build.sh node); KubectlBin is kubectl (build.sh kubectl), HelmBin helm
	// (build.sh helm).
	Bin, NodeBin, KubectlBin, HelmBin string
	// Kubeconfig is the admin kubeconfig (server https://NodeIP:6443).
	Kubeconfig string
	Config     *rest.Config
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	// Images builds images with buildah and imports them into the node's containerd.
	Images *Images

	Etcd, APIServer, ControllerManager, Scheduler, Containerd, Kubelet, KubeProxy *Proc
	DNS                                                                           *NodeDNSServer
	// Startup records how long each part took to become ready.
	Startup []Step

	token, containerdSock string
}

// StartNode builds (or finds) the binaries and starts every part; on error what was started is stopped again.
// It must run inside InNodeNamespaces.
func StartNode(ctx context.Context, opts NodeOptions) (n *Node, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	n = &Node{opts: opts}
	defer func() {
		if err != nil {
			n.Stop()
			n = nil
		}
	}()
	steps := []startStep{
		{"binaries found or built (build.sh e2e, node, kubectl, helm)", n.binaries},
		{"etcd + kube-apiserver ready", n.startAPIServer},
		{"kube-controller-manager + kube-scheduler started", n.startControllers},
		{"containerd ready, pause image built (buildah) and imported", n.startContainerd},
		{"kubelet registered a Ready node", func() error { return n.startKubelet(ctx) }},
		{"kube-proxy synced, cluster DNS stand-in serving", func() error { return n.startProxyAndDNS(ctx) }},
	}
	for _, s := range steps {
		if err := s.run("node", opts.Logf, &n.Startup); err != nil {
			return n, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return n, nil
}

func (n *Node) buildSet(set string) (string, error) {
	return TestkitBuild(n.opts.Root, "controlplane", set)
}

func (n *Node) binaries() (err error) {
	if n.Bin, err = n.buildSet("e2e"); err != nil {
		return err
	}
	if n.NodeBin, err = n.buildSet("node"); err != nil {
		return err
	}
	kubectl, err := n.buildSet("kubectl")
	if err != nil {
		return err
	}
	n.KubectlBin = filepath.Join(kubectl, "kubectl")
	helm, err := n.buildSet("helm")
	if err != nil {
		return err
	}
	n.HelmBin = filepath.Join(helm, "helm")
	for _, tool := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "buildah", "iptables", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed: apt-get install containerd runc containernetworking-plugins buildah iptables iproute2", tool)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, plugin)); err != nil {
			return fmt.Errorf("CNI plugin %s is missing in %s: apt-get install containernetworking-plugins", plugin, cniBinDir)
		}
	}
	return nil
}

// cniBinDir is where Debian's containernetworking-plugins installs the plugins.
const cniBinDir = "/usr/lib/cni"

func (n *Node) path(parts ...string) string {
	return filepath.Join(append([]string{n.opts.Dir}, parts...)...)
}

func (n *Node) startAPIServer() error {
	pki := n.path("pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pki, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pki, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	n.token = hex.EncodeToString(secret)
	if err := os.WriteFile(filepath.Join(pki, "tokens.csv"), []byte(n.token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}
	if n.Etcd, err = start(n.opts.Dir, "etcd", nil, n.opts.Dir, filepath.Join(n.Bin, "etcd"),
		"--name=node", "--data-dir="+n.path("etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=node=http://127.0.0.1:2380", "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	certs := n.path("apiserver-certs")
	if n.APIServer, err = start(n.opts.Dir, "kube-apiserver", nil, n.opts.Dir, filepath.Join(n.Bin, "kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0", "--advertise-address="+NodeIP, "--secure-port=6443",
		// Self-signed for NodeIP, the kubernetes Service's ClusterIP and kubernetes.default.svc (its bundle
		// holds the CA, which kube-controller-manager publishes to pods as kube-root-ca.crt).
		"--cert-dir="+certs,
		"--token-auth-file="+filepath.Join(pki, "tokens.csv"),
		"--anonymous-auth=false", "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range="+ServiceCIDR,
		// The node's name resolves nowhere (there is no DNS for hosts): kubectl logs and exec reach the kubelet by IP.
		"--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=true", "--profiling=false", "-v=1"); err != nil {
		return err
	}
	ca := filepath.Join(certs, "apiserver.crt")
	if err := poll(n.APIServer, 2*time.Minute, "write "+ca, func() (bool, error) { return fileExists(ca), nil }); err != nil {
		return err
	}
	n.Kubeconfig = n.path("admin.kubeconfig")
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: node, cluster: {server: "https://%s:6443", certificate-authority: %q}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: node, context: {cluster: node, user: admin}}]
current-context: node
`, NodeIP, ca, n.token)
	if err := os.WriteFile(n.Kubeconfig, []byte(kubeconfig), 0o600); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	n.Config = cfg
	if n.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if n.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	return poll(n.APIServer, 2*time.Minute, "answer ok on /readyz", func() (bool, error) {
		body, err := n.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil && string(body) == "ok", nil
	})
}

func (n *Node) startControllers() (err error) {
	if n.ControllerManager, err = start(n.opts.Dir, "kube-controller-manager", nil, n.opts.Dir,
		filepath.Join(n.Bin, "kube-controller-manager"),
		"--kubeconfig="+n.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		// Every default controller: Deployments, ReplicaSets, EndpointSlices for kube-proxy, ServiceAccounts,
		// kube-root-ca.crt in every namespace (root-ca-cert-publisher), the garbage collector, ...
		"--controllers=*",
		"--root-ca-file="+filepath.Join(n.path("apiserver-certs"), "apiserver.crt"),
		"--service-account-private-key-file="+n.path("pki", "sa.key"),
		"--use-service-account-credentials=false", "-v=1"); err != nil {
		return err
	}
	n.Scheduler, err = start(n.opts.Dir, "kube-scheduler", nil, n.opts.Dir, filepath.Join(n.NodeBin, "kube-scheduler"),
		"--kubeconfig="+n.Kubeconfig, "--authentication-kubeconfig="+n.Kubeconfig,
		"--authorization-kubeconfig="+n.Kubeconfig, "--leader-elect=false", "--secure-port=0", "-v=1")
	return err
}

func (n *Node) startContainerd() (err error) {
	root := n.path("containerd")
	n.containerdSock = filepath.Join(root, "containerd.sock")
	cniConf := n.path("cni", "net.d")
	if err := os.MkdirAll(cniConf, 0o755); err != nil {
		return err
	}
	// The bridge plugin's ipMasq NATs pods' traffic leaving NodePodCIDR; hairpinMode lets a pod reach itself through
	// a Service.
	conflist := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "weighbridge-node",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, n.path("cni", "ipam"), NodePodCIDR)
	if err := os.WriteFile(filepath.Join(cniConf, "10-weighbridge-node.conflist"), []byte(conflist), 0o644); err != nil {
		return err
	}
	// restrict_oom_score_adj: this machine's root lacks CAP_SYS_RESOURCE, so runc cannot lower a sandbox's
	// oom_score_adj below its own (without it every sandbox fails: "can't get final child's PID from pipe").
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, filepath.Join(root, "root"), filepath.Join(root, "state"), n.containerdSock, PauseImage, cniBinDir, cniConf)
	configPath := filepath.Join(n.opts.Dir, "containerd.toml")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	if n.Containerd, err = start(n.opts.Dir, "containerd", nil, n.opts.Dir, "containerd", "--config="+configPath); err != nil {
		return err
	}
	if err := poll(n.Containerd, time.Minute, "serve "+n.containerdSock, func() (bool, error) {
		return exec.Command("ctr", "--address", n.containerdSock, "version").Run() == nil, nil
	}); err != nil {
		return err
	}
	n.Images = &Images{dir: n.path("images"), containerdSock: n.containerdSock, logf: n.opts.Logf}
	return n.Images.Pause(filepath.Join(n.NodeBin, "pause"))
}

func (n *Node) startKubelet(ctx context.Context) (err error) {
	if err := createNodeCgroup(); err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /%s
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [%s]
resolvConf: ""
volumePluginDir: %s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
syncFrequency: 10s
`, nodeCgroup, n.containerdSock, NodeIP, NodeDNS, n.path("volume-plugins"))
	configPath := n.path("kubelet.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	if n.Kubelet, err = start(n.opts.Dir, "kubelet", nil, n.opts.Dir, filepath.Join(n.NodeBin, "kubelet"),
		"--config="+configPath, "--kubeconfig="+n.Kubeconfig, "--root-dir="+n.path("kubelet"),
		"--hostname-override="+RealNodeName, "--node-ip="+NodeIP, "-v=1"); err != nil {
		return err
	}
	return poll(n.Kubelet, 2*time.Minute, "register node "+RealNodeName+" Ready", func() (bool, error) {
		return nodeReady(ctx, n.Kube, RealNodeName), nil
	})
}

func (n *Node) startProxyAndDNS(ctx context.Context) (err error) {
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %q}
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, n.Kubeconfig, ClusterCIDR, RealNodeName, NodeIP)
	configPath := n.path("kube-proxy.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	if n.KubeProxy, err = start(n.opts.Dir, "kube-proxy", nil, n.opts.Dir, filepath.Join(n.NodeBin, "kube-proxy"),
		"--config="+configPath, "-v=1"); err != nil {
		return err
	}
	if err := poll(n.KubeProxy, 2*time.Minute, "answer 200 on 127.0.0.1:10256/healthz", func() (bool, error) {
		return httpOK("http://127.0.0.1:10256/healthz"), nil
	}); err != nil {
		return err
	}
	n.DNS, err = StartNodeDNS(ctx, n.Kube, NodeDNS+":53", n.opts.Logf)
	return err
}

// Stop deletes every pod (so that the kubelet stops their containers), then stops the parts in reverse order
// and kills what is left in the node's cgroups.
func (n *Node) Stop() {
	// Controllers first, so that no ReplicaSet or Deployment makes new pods while the old ones are deleted.
	for _, p := range []*Proc{n.Scheduler, n.ControllerManager} {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
	if n.Kube != nil && n.Kubelet != nil && n.Kubelet.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		nss, err := n.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, ns := range nss.Items {
				_ = n.Kube.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{})
			}
		}
		for ctx.Err() == nil {
			pods, err := n.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			if err != nil || len(pods.Items) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
	}
	if n.DNS != nil {
		n.DNS.Stop()
	}
	for _, p := range []*Proc{n.KubeProxy, n.Kubelet} {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
	if n.Containerd != nil {
		KillLeftovers()
		n.Containerd.Stop(15 * time.Second)
		if out, err := exec.Command("pgrep", "-f", "containerd-shim-runc-v2 .*-address "+n.containerdSock+"$").Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
	}
	for _, p := range []*Proc{n.APIServer, n.Etcd} {
		if p != nil {
			p.Stop(15 * time.Second)
		}
	}
}

// Logs lists the processes' log files.
func (n *Node) Logs() []string {
	var logs []string
	for _, p := range []*Proc{n.Etcd, n.APIServer, n.ControllerManager, n.Scheduler, n.Containerd, n.Kubelet, n.KubeProxy} {
		if p != nil {
			logs = append(logs, p.LogPath)
		}
	}
	return logs
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// KubectlApply runs `kubectl apply -f -` with manifest on stdin, as a user applies YAML.
func (n *Node) KubectlApply(manifest string, args ...string) (string, error) {
	return n.kubectl(manifest, append([]string{"apply", "-f", "-"}, args...)...)
}

// Kubectl runs kubectl with the admin kubeconfig and returns its output.
func (n *Node) Kubectl(args ...string) (string, error) { return n.kubectl("", args...) }

func (n *Node) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(n.KubectlBin, append([]string{"--kubeconfig=" + n.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// AsCluster is a Cluster view of the node (its clients only), for the helpers that follow Rollouts and routes
// (Follow, RouteWeights, package sampleapp's waits and promote).
func (n *Node) AsCluster() (*Cluster, error) {
	argo, err := argoclient.NewForConfig(n.Config)
	if err != nil {
		return nil, err
	}
	return &Cluster{Kubeconfig: n.Kubeconfig, Config: n.Config, Kube: n.Kube, Dynamic: n.Dynamic, Argo: argo}, nil
}
