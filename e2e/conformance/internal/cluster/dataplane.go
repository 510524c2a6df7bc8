package cluster

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DataPlane simulates the east/west traffic of the routes it follows, as Linkerd's proxies would serve the
// Service-parented (GAMMA) HTTPRoutes and GRPCRoutes: every 100 ms it reads each route's live weights from the
// API server and serves that route's request rate split across the backends in proportion to their weights
// (header rules get no share: no simulated client sends the header). How each backend Service answers (error
// rate, median latency) is set by the test and may change at any time. /metrics exposes the counters and
// histograms Linkerd's proxies export (outbound_{http,grpc}_route_backend_*, in the shapes Linkerd documents),
// the series Weighbridge's analyzer queries for east/west routes, for a real Prometheus to scrape.
//
// North/south is not simulated: real Traefik serves Gateway-parented routes (see Traffic), and Follow refuses
// them.
//
// Outcomes are evenly spread, not random: after n requests a backend has failed round(n * errorRate) of them
// and its latencies are the log-normal's quantiles in low-discrepancy order, so what a test sees depends on the
// weights and the behaviour it set, not on luck.
type DataPlane struct {
	c      *Cluster
	server *http.Server
	addr   string
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	routes   []followed
	behave   map[string]Behaviour // "ns/service"
	backends map[string]*backendStats
}

// Behaviour is how a backend Service answers.
type Behaviour struct {
	ErrorRate     float64
	MedianLatency time.Duration
}

type followed struct {
	ref  RouteRef
	rate float64 // requests per second over all backends
}

var linkerdBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}

// backendStats are the cumulative counters of one (route, backend) pair.
type backendStats struct {
	route   RouteRef
	parent  map[string]any // the route's first parentRef
	service string
	port    int64
	carry   float64
	served  int64
	failed  int64
	// spread: served and failed when the backend's behaviour last changed; failures are spread evenly from
	// there, so a new error rate holds at once rather than catching up on the history.
	spreadServed, spreadFailed int64
	count                      map[bool]int64 // by failed
	linkerdBkts                map[bool][]int64
}

// StartDataPlane serves /metrics on a free loopback port and starts following nothing yet.
func (c *Cluster) StartDataPlane() (*DataPlane, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("data plane: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &DataPlane{c: c, addr: l.Addr().String(), cancel: cancel, done: make(chan struct{}),
		behave: map[string]Behaviour{}, backends: map[string]*backendStats{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(d.exposition()))
	})
	d.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.server.Serve(l) }()
	go d.loop(ctx)
	return d, nil
}

// Target is the host:port Prometheus scrapes (path /metrics).
func (d *DataPlane) Target() string { return d.addr }

// Follow serves rate requests per second through route from now on. Routes with a Gateway parent are
// ignored: real Traefik serves them.
func (d *DataPlane) Follow(route RouteRef, rate float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes = append(d.routes, followed{route, rate})
}

// Behave sets how Service ns/service answers from now on.
func (d *DataPlane) Behave(ns, service string, b Behaviour) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.behave[ns+"/"+service] = b
	for _, s := range d.backends {
		if s.route.Namespace == ns && s.service == service {
			s.spreadServed, s.spreadFailed = s.served, s.failed
		}
	}
}

// Served is how many requests backend Service ns/service has served and failed so far, over all routes.
func (d *DataPlane) Served(ns, service string) (served, failed int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.backends {
		if b.route.Namespace == ns && b.service == service {
			served += b.served
			failed += b.failed
		}
	}
	return served, failed
}

// Stop ends the simulation and the /metrics server.
func (d *DataPlane) Stop() {
	d.cancel()
	<-d.done
	_ = d.server.Close()
}

func (d *DataPlane) loop(ctx context.Context) {
	defer close(d.done)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		now := time.Now()
		elapsed := now.Sub(last).Seconds()
		last = now
		d.mu.Lock()
		routes := append([]followed(nil), d.routes...)
		d.mu.Unlock()
		for _, f := range routes {
			route, err := d.c.Dynamic.Resource(f.ref.GVR).Namespace(f.ref.Namespace).Get(ctx, f.ref.Name, metav1.GetOptions{})
			if err != nil {
				continue // the next tick tries again; a route being rewritten is still there
			}
			d.serve(route, f, elapsed)
		}
	}
}

// serve splits elapsed seconds of f's traffic over the backends of the route's weighted rules.
func (d *DataPlane) serve(route *unstructured.Unstructured, f followed, elapsed float64) {
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	var parent map[string]any
	if len(parents) > 0 {
		parent = parents[0].(map[string]any)
	}
	if parent == nil || parent["kind"] != "Service" {
		return // north/south: real Traefik serves it
	}
	type share struct {
		service string
		port    int64
		weight  int64
	}
	var shares []share
	var total int64
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, r := range rules {
		rule := r.(map[string]any)
		if hasHeaderMatch(rule) {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
		for _, b := range refs {
			ref := b.(map[string]any)
			weight, found, _ := unstructured.NestedInt64(ref, "weight")
			if !found {
				weight = 1
			}
			port, _, _ := unstructured.NestedInt64(ref, "port")
			shares = append(shares, share{fmt.Sprint(ref["name"]), port, weight})
			total += weight
		}
	}
	if total == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range shares {
		key := f.ref.String() + "/" + f.ref.Namespace + "/" + s.service
		b := d.backends[key]
		if b == nil {
			b = &backendStats{route: f.ref, parent: parent, service: s.service, port: s.port,
				count:       map[bool]int64{},
				linkerdBkts: map[bool][]int64{false: make([]int64, len(linkerdBuckets)), true: make([]int64, len(linkerdBuckets))}}
			d.backends[key] = b
		}
		expected := f.rate*elapsed*float64(s.weight)/float64(total) + b.carry
		n := int64(math.Floor(expected))
		b.carry = expected - float64(n)
		behaviour := d.behave[f.ref.Namespace+"/"+s.service]
		if behaviour.MedianLatency == 0 {
			behaviour.MedianLatency = 20 * time.Millisecond
		}
		for i := int64(0); i < n; i++ {
			b.served++
			// Evenly spread failures: fail when the running count falls behind served * rate.
			failed := float64(b.failed-b.spreadFailed+1) <= float64(b.served-b.spreadServed)*behaviour.ErrorRate+1e-9
			if failed {
				b.failed++
			}
			latency := behaviour.MedianLatency.Seconds() * math.Exp(0.5*normalQuantile(weyl(b.served)))
			b.count[failed]++
			for j, le := range linkerdBuckets {
				if latency <= le {
					b.linkerdBkts[failed][j]++
				}
			}
		}
	}
}

// weyl is the n-th point of a low-discrepancy sequence in (0, 1).
func weyl(n int64) float64 {
	x := 0.5 + float64(n)*0.6180339887498949
	x -= math.Floor(x)
	return math.Min(math.Max(x, 1e-6), 1-1e-6)
}

func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

func (d *DataPlane) exposition() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.backends))
	for k := range d.backends {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		b := d.backends[k]
		grpc := b.route.GVR == GRPCRoutes
		for _, failed := range []bool{false, true} {
			n := b.count[failed]
			if n == 0 {
				continue
			}
			// Linkerd's outbound route-backend metrics, as the callers' proxies report them.
			kind, routeKind, status := "http", "HTTPRoute", map[bool]string{false: `http_status="200"`, true: `http_status="503"`}[failed]
			if grpc {
				kind, routeKind, status = "grpc", "GRPCRoute", map[bool]string{false: `grpc_status="OK"`, true: `grpc_status="UNAVAILABLE"`}[failed]
			}
			labels := fmt.Sprintf(`parent_group="core",parent_kind="Service",parent_namespace="%s",parent_name="%v",parent_port="%v",`+
				`route_group="gateway.networking.k8s.io",route_kind="%s",route_namespace="%s",route_name="%s",`+
				`backend_group="core",backend_kind="Service",backend_namespace="%s",backend_name="%s",backend_port="%d"`,
				b.route.Namespace, b.parent["name"], b.parent["port"], routeKind, b.route.Namespace, b.route.Name,
				b.route.Namespace, b.service, b.port)
			fmt.Fprintf(&out, "outbound_%s_route_backend_response_statuses_total{%s,%s,error=\"\"} %d\n", kind, labels, status, n)
			for j, le := range linkerdBuckets {
				fmt.Fprintf(&out, "outbound_%s_route_backend_response_duration_seconds_bucket{%s,%s,le=\"%g\"} %d\n", kind, labels, status, le, b.linkerdBkts[failed][j])
			}
			fmt.Fprintf(&out, "outbound_%s_route_backend_response_duration_seconds_bucket{%s,%s,le=\"+Inf\"} %d\n", kind, labels, status, n)
		}
	}
	return out.String()
}

// Prometheus is a real Prometheus (the Debian package's /usr/bin/prometheus, or $WEIGHBRIDGE_PROMETHEUS)
// scraping the data plane every second.
type Prometheus struct {
	*Proc
	URL string
}

// StartPrometheus starts Prometheus scraping targets (job name -> host:port) and waits until it is ready.
func (c *Cluster) StartPrometheus(targets map[string]string) (*Prometheus, error) {
	bin := os.Getenv("WEIGHBRIDGE_PROMETHEUS")
	if bin == "" {
		bin = "/usr/bin/prometheus"
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("prometheus %s: %w: install it (sudo apt-get install prometheus on Debian/Ubuntu) or set WEIGHBRIDGE_PROMETHEUS=/path/to/prometheus", bin, err)
	}
	dir := filepath.Join(c.opts.Dir, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	yml := "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\nscrape_configs:\n"
	jobs := make([]string, 0, len(targets))
	for job := range targets {
		jobs = append(jobs, job)
	}
	sort.Strings(jobs)
	for _, job := range jobs {
		yml += fmt.Sprintf("- job_name: %s\n  static_configs: [{targets: ['%s']}]\n", job, targets[job])
	}
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", config, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := start(c.opts.Dir, "prometheus", nil, dir, bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := poll(p, time.Minute, "answer 200 on /-/ready", func() (bool, error) { return httpOK(url + "/-/ready"), nil }); err != nil {
		p.Kill()
		return nil, err
	}
	return &Prometheus{Proc: p, URL: url}, nil
}
