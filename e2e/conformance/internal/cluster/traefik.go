package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/podserver"
)

// The network namespace the harness runs in (scripts/in-netns creates it: `make demo` and `make e2e` run the
// harness through it). Nothing in it is reachable from outside, and no traffic leaves it.
const (
	// NetnsEnv is set to "1" by scripts/in-netns inside the namespace it creates.
	NetnsEnv = "WEIGHBRIDGE_NETNS"
	// GatewayIP is Traefik's address (on lo): the Gateway's address, where the harness sends north/south traffic.
	GatewayIP = "10.200.0.1"
	// PodCIDR is KWOK's pod CIDR; `ip route add local PodCIDR dev lo` makes every pod IP local, so the pod server
	// answers at each.
	PodCIDR = "10.244.0.0/16"
	// GatewayClassName is the GatewayClass the sample app's Gateway names, handled by Traefik.
	GatewayClassName = "traefik"
	// GatewayPort is the port of the Gateway's listener and of Traefik's entry point "web" (Traefik matches a
	// listener to the entry point with the same port).
	GatewayPort = 80
	// TraefikThrottle is Traefik's providersThrottleDuration: how long it waits after applying a configuration
	// before applying the next (default 2s; shorter here so each canary step takes effect promptly). The route's
	// status is written when Traefik builds the configuration, so it may lead the traffic by up to this much.
	TraefikThrottle = time.Second
)

// GatewayClasses is the dynamic client resource of GatewayClasses.
var GatewayClasses = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}

// Traefik is the real Traefik v3.6.12 (testkit/traefik/build.sh) with its Kubernetes Gateway provider pointed at
// the cluster's kube-apiserver.
type Traefik struct {
	*Proc
	// URL is the Gateway's entry point (http://GatewayIP:GatewayPort).
	URL string
	// MetricsTarget is the host:port of its Prometheus metrics (path /metrics).
	MetricsTarget string
}

// InNetns tells whether the harness runs in the network namespace scripts/in-netns set up.
func InNetns() error {
	if os.Getenv(NetnsEnv) != "1" {
		return fmt.Errorf("not inside the harness's network namespace (%s is not 1): real Traefik and the pod server "+
			"need it; run through `make e2e` / `make demo`, or `go test -exec <repo>/scripts/in-netns ...` (root or user "+
			"namespaces needed)", NetnsEnv)
	}
	for _, addr := range []string{GatewayIP + ":0", "10.244.0.1:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("the network namespace is not set up as scripts/in-netns does (listen on %s: %w)", addr, err)
		}
		l.Close()
	}
	return nil
}

func (c *Cluster) traefikBinary() (string, error) {
	bin := c.opts.Traefik
	if bin == "" {
		dir, err := TestkitBuild(c.opts.Root, "traefik")
		if err != nil {
			return "", err
		}
		bin = filepath.Join(dir, "traefik")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("traefik binary %s: %w: build it with testkit/traefik/build.sh", bin, err)
	}
	return bin, nil
}

// startTraefik creates the GatewayClass, starts Traefik and waits until it has accepted the GatewayClass.
func (c *Cluster) startTraefik(ctx context.Context) error {
	dir := filepath.Join(c.opts.Dir, "traefik")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// Traefik reads the API server's CA from a file and authenticates with a bearer token (the testkit's
	// administrator: what it reads and writes is the Gateway API objects, Services, EndpointSlices, Secrets).
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, c.Config.TLSClientConfig.CAData, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", ca, err)
	}
	class := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": GatewayClassName},
		"spec":     map[string]any{"controllerName": TraefikController},
	}}
	if _, err := c.Dynamic.Resource(GatewayClasses).Create(ctx, class, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create GatewayClass %s: %w", GatewayClassName, err)
	}
	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	p, err := start(c.opts.Dir, "traefik", nil, dir, c.traefikBin,
		"--log.level=INFO",
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		fmt.Sprintf("--entryPoints.web.address=%s:%d", GatewayIP, GatewayPort),
		fmt.Sprintf("--entryPoints.metrics.address=127.0.0.1:%d", metricsPort),
		"--ping=true", "--ping.entryPoint=metrics",
		"--metrics.prometheus=true", "--metrics.prometheus.entryPoint=metrics",
		"--metrics.prometheus.addServicesLabels=true",
		"--providers.providersThrottleDuration="+TraefikThrottle.String(),
		"--providers.kubernetesgateway=true",
		"--providers.kubernetesgateway.endpoint="+c.Config.Host,
		"--providers.kubernetesgateway.token="+c.Config.BearerToken,
		"--providers.kubernetesgateway.certAuthFilePath="+ca,
		"--providers.kubernetesgateway.statusAddress.ip="+GatewayIP)
	if err != nil {
		return err
	}
	c.Traefik = &Traefik{Proc: p, URL: fmt.Sprintf("http://%s:%d", GatewayIP, GatewayPort),
		MetricsTarget: "127.0.0.1:" + strconv.Itoa(metricsPort)}
	if err := poll(p, time.Minute, "answer 200 on /ping", func() (bool, error) {
		return httpOK("http://" + c.Traefik.MetricsTarget + "/ping"), nil
	}); err != nil {
		return err
	}
	return poll(p, time.Minute, "accept GatewayClass "+GatewayClassName, func() (bool, error) {
		gc, err := c.Dynamic.Resource(GatewayClasses).Get(ctx, GatewayClassName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return conditionTrue(gc, "Accepted", gc.GetGeneration()), nil
	})
}

// startPodServer starts the pod server (this very binary, re-executed with podserver.Env) on port 8080 of every
// pod IP: the sample app's container port.
func (c *Cluster) startPodServer() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to run the pod server: %w", err)
	}
	p, err := start(c.opts.Dir, "podserver", []string{podserver.Env + "=" + c.Kubeconfig, podserver.ListenEnv + "=:8080"},
		c.opts.Dir, self)
	if err != nil {
		return err
	}
	c.PodServer = p
	return poll(p, time.Minute, "listen on :8080", func() (bool, error) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:8080", time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
}

// conditionTrue tells whether obj's status.conditions has cond True at generation.
func conditionTrue(obj *unstructured.Unstructured, cond string, generation int64) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	return hasCondition(conds, cond, generation)
}

func hasCondition(conds []any, cond string, generation int64) bool {
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == cond && m["status"] == "True" && fmt.Sprint(m["observedGeneration"]) == fmt.Sprint(generation) {
			return true
		}
	}
	return false
}
