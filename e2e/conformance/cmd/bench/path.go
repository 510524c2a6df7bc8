package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// pathOptions size the whole-path bench (flags of cmd/bench).
type pathOptions struct {
	rounds, cpuCalls, memCalls, memRollouts, memRoutes, starts int
	jvmArgs                                                    []string
	serverJar                                                  string
	// aot trains a JDK 25 AOT cache (JEP 483/514/515) as the image build does (start, ready, SIGTERM)
	// and runs every measured start with it.
	aot bool
}

// The bench's namespace and its routes: r1 for the one-route Rollout, r1-twin for the bare PATCH (an
// identical route no Rollout names, so that the baseline's writes are not drift to the engine), r10-0..9
// for the ten-route Rollout.
const (
	benchNS   = "bench"
	oneRoute  = "r1"
	twinRoute = "r1-twin"
	stableSvc = "checkout-stable"
	canarySvc = "checkout-canary"
)

func tenRoutes() []string {
	var out []string
	for i := range 10 {
		out = append(out, fmt.Sprintf("r10-%d", i))
	}
	return out
}

// tenTwins are the bare client's ten routes: identical to tenRoutes, named by no Rollout.
func tenTwins() []string {
	var out []string
	for _, r := range tenRoutes() {
		out = append(out, r+"-twin")
	}
	return out
}

// benchRoutes are every route in namespace bench: made by fixtures, checked after the latency run.
func benchRoutes() []string {
	return slices.Concat([]string{oneRoute, twinRoute}, tenRoutes(), tenTwins())
}

// pathBench is one run of the whole-path bench: the API server, the bare client, plugin-server's jar,
// Argo's client and the connector.
type pathBench struct {
	env  harness.Env
	o    pathOptions
	dir  string
	cl   *cluster.Cluster
	rows []tableRow
	bad  []string
}

type tableRow struct{ figure, measured, target, verdict string }

func (b *pathBench) row(figure, measured, target string, ok *bool) {
	v := ""
	if ok != nil {
		v = map[bool]string{true: "ok", false: "MISSED"}[*ok]
	}
	b.rows = append(b.rows, tableRow{figure, measured, target, v})
}

func ptrBool(v bool) *bool { return &v }

// runPath measures SetWeight through Argo's client -> connector -> plugin-server (the real jar, as the
// image runs it) -> kube-apiserver against a bare PATCH of the same route shape on the same API server
// (client-go's dynamic client, one JSON patch request), in one run, and prints one table.
func runPath(env harness.Env, dir string, o pathOptions) error {
	ctx := context.Background()
	began := time.Now()
	fmt.Printf("\nwhole-path bench: starting kube-apiserver (testkit) with the CRDs ...\n")
	cl, err := cluster.StartAPIServer(cluster.Options{Root: env.Root, Java: env.Java, Classpath: env.Classpath, Dir: dir})
	if err != nil {
		return err
	}
	defer cl.Stop()
	cl.Config.QPS, cl.Config.Burst = -1, 0 // the bare client: no client-side rate limit
	b := &pathBench{env: env, o: o, dir: dir, cl: cl}
	if err := b.fixtures(ctx); err != nil {
		return err
	}

	if o.aot {
		if err := b.trainAOTCache(); err != nil {
			return err
		}
	}
	// 1. Start: a JVM per start, /readyz polled from process start, then the first SetWeight.
	if err := b.startTimes(ctx); err != nil {
		return err
	}
	// 2. One long-lived plugin-server and connector for the steady-state figures.
	srv, err := b.startServer("plugin-server", nil)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := srv.awaitReady(2 * time.Minute); err != nil {
		return err
	}
	plugin, err := harness.StartArgoPlugin(env.Connector, "--server="+srv.grpc, "--plugin-name="+fixture.PluginName,
		"--call-timeout=30s", "--log-level=warn")
	if err != nil {
		return err
	}
	defer plugin.Client.Kill()
	one := benchRollout(benchNS, "one", []string{oneRoute})
	ten := benchRollout(benchNS, "ten", tenRoutes())
	// A failed call (an API server too slow on a loaded machine, say) ends the run, but the table still
	// shows what was measured before it.
	for _, phase := range []func() error{
		func() error { return b.latency(ctx, plugin, one, ten) },
		func() error { return b.cpu(ctx, plugin, one, []int{plugin.Pid(), srv.pid()}) },
		func() error { return b.memory(ctx, plugin, srv) },
		func() error { return b.protocolFloor(one) },
	} {
		if err = phase(); err != nil {
			b.bad = append(b.bad, "the run stopped: "+err.Error())
			break
		}
	}
	b.print(time.Since(began))
	return err
}

// fixtures creates the namespace, the Services, a Gateway and the routes of the latency and CPU runs.
func (b *pathBench) fixtures(ctx context.Context) error {
	if err := b.namespace(ctx, benchNS); err != nil {
		return err
	}
	for _, r := range benchRoutes() {
		if err := b.route(ctx, benchNS, r); err != nil {
			return err
		}
	}
	return nil
}

func (b *pathBench) namespace(ctx context.Context, ns string) error {
	if _, err := b.cl.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	for _, name := range []string{"checkout", stableSvc, canarySvc} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "checkout"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := b.cl.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s/%s: %w", ns, name, err)
		}
	}
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "traefik-gateway", "namespace": ns},
		"spec": map[string]any{"gatewayClassName": "traefik",
			"listeners": []any{map[string]any{"name": "web", "port": int64(80), "protocol": "HTTP"}}},
	}}
	if _, err := b.cl.Dynamic.Resource(cluster.Gateways).Namespace(ns).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create gateway in %s: %w", ns, err)
	}
	return nil
}

// route creates a Gateway-parented HTTPRoute with one rule sending 100/0 to stable/canary.
func (b *pathBench) route(ctx context.Context, ns, name string) error {
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "traefik-gateway", "sectionName": "web"}},
			"hostnames":  []any{"checkout.example.com"},
			"rules": []any{map[string]any{
				"matches": []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
				"backendRefs": []any{
					map[string]any{"name": stableSvc, "port": int64(80), "weight": int64(100)},
					map[string]any{"name": canarySvc, "port": int64(80), "weight": int64(0)},
				},
			}},
		},
	}}
	if _, err := b.cl.Dynamic.Resource(cluster.HTTPRoutes).Namespace(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create HTTPRoute %s/%s: %w", ns, name, err)
	}
	return nil
}

// benchRollout is the conformance fixture's realistic Rollout, configured for these HTTPRoutes.
func benchRollout(ns, name string, routes []string) *v1alpha1.Rollout {
	var refs []map[string]any
	for _, r := range routes {
		refs = append(refs, map[string]any{"name": r})
	}
	ro := fixture.Rollout(fixture.Options{Namespace: ns, Name: name, PluginConfig: map[string]any{"httpRoutes": refs}})
	ro.Spec.Strategy.Canary.StableService, ro.Spec.Strategy.Canary.CanaryService = stableSvc, canarySvc
	ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes = nil
	return ro
}

// barePatch sets the twin route's weights with one JSON patch: the least any client can do.
func (b *pathBench) barePatch(ctx context.Context, canary int32) (time.Duration, error) {
	t0 := time.Now()
	err := b.patchWeights(ctx, twinRoute, canary)
	return time.Since(t0), err
}

// barePatchTen sets the ten twin routes' weights, one JSON patch each, all at once: what ten changed routes
// cost the API server on this machine, whoever sends them.
func (b *pathBench) barePatchTen(ctx context.Context, canary int32) (time.Duration, error) {
	twins := tenTwins()
	t0 := time.Now()
	err := parallel(len(twins), len(twins), func(i int) error { return b.patchWeights(ctx, twins[i], canary) })
	return time.Since(t0), err
}

func (b *pathBench) patchWeights(ctx context.Context, route string, canary int32) error {
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":%d},`+
		`{"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":%d}]`, 100-canary, canary)
	_, err := b.cl.Dynamic.Resource(cluster.HTTPRoutes).Namespace(benchNS).Patch(ctx, route, types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func setWeight(p *harness.ArgoPlugin, ro *v1alpha1.Rollout, w int32) (time.Duration, error) {
	t0 := time.Now()
	e := p.Router.SetWeight(ro, w, nil)
	d := time.Since(t0)
	if e.HasError() {
		return d, fmt.Errorf("SetWeight %s/%s %d: %s", ro.Namespace, ro.Name, w, e)
	}
	return d, nil
}

// latency interleaves, round by round, a bare PATCH, a changed SetWeight of the one-route Rollout and
// a changed SetWeight of the ten-route Rollout, so that all three see the same machine.
func (b *pathBench) latency(ctx context.Context, p *harness.ArgoPlugin, one, ten *v1alpha1.Rollout) error {
	for i := range 20 { // warm-up: JIT, connections, informers
		w := int32(1 + i%2)
		if _, err := b.barePatch(ctx, w); err != nil {
			return err
		}
		if _, err := setWeight(p, one, w); err != nil {
			return err
		}
		if _, err := setWeight(p, ten, w); err != nil {
			return err
		}
		if _, err := b.barePatchTen(ctx, w); err != nil {
			return err
		}
	}
	routes := benchRoutes()
	before, err := b.snapshot(ctx, routes)
	if err != nil {
		return err
	}
	var bare, bare10, lat1, lat10 []time.Duration
	var w int32
	for i := range b.o.rounds {
		w = int32(10 + i%2)
		d, err := b.barePatch(ctx, w)
		if err != nil {
			return err
		}
		bare = append(bare, d)
		if d, err = setWeight(p, one, w); err != nil {
			return err
		}
		lat1 = append(lat1, d)
		if d, err = setWeight(p, ten, w); err != nil {
			return err
		}
		lat10 = append(lat10, d)
		if d, err = b.barePatchTen(ctx, w); err != nil {
			return err
		}
		bare10 = append(bare10, d)
	}
	n := len(routes)
	b.check(ctx, fmt.Sprintf("latency run (%d rounds)", b.o.rounds), before, routes, w, int64(b.o.rounds),
		apiExpect{patch: b.o.rounds * n})
	slices.Sort(bare)
	slices.Sort(bare10)
	slices.Sort(lat1)
	slices.Sort(lat10)
	ratio := func(a, base time.Duration) float64 { return float64(a) / float64(base) }
	r50, r99 := ratio(percentile(lat1, 50), percentile(bare, 50)), ratio(percentile(lat1, 99), percentile(bare, 99))
	r10 := ratio(percentile(lat10, 50), percentile(lat1, 50))
	b.row("bare PATCH (client-go, 1 request) p50 / p99", ms(percentile(bare, 50))+" / "+ms(percentile(bare, 99)), "(the baseline)", nil)
	b.row("SetWeight changed, 1 route p50 / p99", ms(percentile(lat1, 50))+" / "+ms(percentile(lat1, 99)), "", nil)
	b.row("  ratio to bare PATCH p50", fmt.Sprintf("%.2fx", r50), "<= 1.3x", ptrBool(r50 <= 1.3))
	b.row("  ratio to bare PATCH p99", fmt.Sprintf("%.2fx", r99), "<= 2x", ptrBool(r99 <= 2))
	b.row("SetWeight changed, 10 routes p50 / p99", ms(percentile(lat10, 50))+" / "+ms(percentile(lat10, 99)), "", nil)
	b.row("  ratio to 1 route p50", fmt.Sprintf("%.2fx", r10), "<= 1.5x", ptrBool(r10 <= 1.5))
	b.row("bare PATCH of 10 routes at once p50 / p99", ms(percentile(bare10, 50))+" / "+ms(percentile(bare10, 99)), "", nil)
	b.row("  ratio to 1 bare PATCH p50 (this machine's API server)", fmt.Sprintf("%.2fx", ratio(percentile(bare10, 50), percentile(bare, 50))), "", nil)
	return nil
}

// cpu runs changed, unchanged and VerifyWeight calls one kind at a time and divides the CPU time the
// connector and plugin-server used (/proc/<pid>/stat) by the calls. Each kind is first called as often
// as it is measured, so that the JIT has compiled its path (steady state); what plugin-server's JIT
// compiler threads and its VM thread (where the serial collector runs) still used is shown apart.
func (b *pathBench) cpu(ctx context.Context, p *harness.ArgoPlugin, ro *v1alpha1.Rollout, pids []int) error {
	n := b.o.cpuCalls
	measure := func(what, target string, limit time.Duration, expect apiExpect, weight func(i int) int32, call func(w int32) error) error {
		for i := range n { // warm-up of this kind, ending on another weight than the first measured call's
			if err := call(weight(i + n%2)); err != nil {
				return err
			}
		}
		before, err := b.snapshot(ctx, []string{oneRoute})
		if err != nil {
			return err
		}
		cpu0, jit0 := cpuTimes(pids), jvmThreadCPU(pids[1])
		for i := range n {
			if err := call(weight(i)); err != nil {
				return err
			}
		}
		cpu1, jit1 := cpuTimes(pids), jvmThreadCPU(pids[1])
		b.check(ctx, fmt.Sprintf("%s (%d calls)", what, n), before, []string{oneRoute}, weight(n-1), expect.changed, expect)
		per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
		total := per(cpu1[0]-cpu0[0]) + per(cpu1[1]-cpu0[1])
		b.row("CPU per "+what, fmt.Sprintf("%s (conn %s + srv %s)", msPrec(total), msPrec(per(cpu1[0]-cpu0[0])), msPrec(per(cpu1[1]-cpu0[1]))),
			target, ptrBool(total <= limit))
		b.row("  srv of which JIT compiler / VM thread (GC)", fmt.Sprintf("%s / %s", msPrec(per(jit1.jit-jit0.jit)), msPrec(per(jit1.vm-jit0.vm))), "", nil)
		return nil
	}
	sw := func(w int32) error { _, err := setWeight(p, ro, w); return err }
	if err := measure("changed SetWeight", "<= 2 ms", 2*time.Millisecond, apiExpect{patch: n, changed: int64(n)},
		func(i int) int32 { return int32(20 + i%2) }, sw); err != nil {
		return err
	}
	last := int32(20 + (n-1)%2)
	if err := measure("unchanged SetWeight", "<= 0.3 ms", 300*time.Microsecond, apiExpect{},
		func(int) int32 { return last }, sw); err != nil {
		return err
	}
	return measure("VerifyWeight", "<= 0.2 ms", 200*time.Microsecond, apiExpect{}, func(int) int32 { return last },
		func(w int32) error {
			if _, e := p.Router.VerifyWeight(ro, w, nil); e.HasError() {
				return fmt.Errorf("VerifyWeight: %s", e)
			}
			return nil
		})
}

// protocolFloor measures Argo's plugin protocol alone: a no-op plugin (cmd/noopplugin: Argo's rpc package
// served through go-plugin, methods that do nothing) gets the same SetWeight and VerifyWeight calls of the same
// Rollout, and its CPU per call is what any plugin pays before it does any work, whatever its language.
func (b *pathBench) protocolFloor(ro *v1alpha1.Rollout) error {
	bin := filepath.Join(b.dir, "noopplugin")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/noopplugin")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/noopplugin: %w: %s", err, out)
	}
	p, err := harness.StartArgoPlugin(bin)
	if err != nil {
		return err
	}
	defer p.Client.Kill()
	n := b.o.cpuCalls
	perCall := func(call func(i int) error) (time.Duration, error) {
		for i := range n { // warm-up
			if err := call(i); err != nil {
				return 0, err
			}
		}
		cpu0 := cpuTimes([]int{p.Pid()})
		for i := range n {
			if err := call(i); err != nil {
				return 0, err
			}
		}
		return (cpuTimes([]int{p.Pid()})[0] - cpu0[0]) / time.Duration(n), nil
	}
	set, err := perCall(func(i int) error { _, err := setWeight(p, ro, int32(20+i%2)); return err })
	if err != nil {
		return err
	}
	verify, err := perCall(func(i int) error {
		if _, e := p.Router.VerifyWeight(ro, int32(20+i%2), nil); e.HasError() {
			return fmt.Errorf("VerifyWeight: %s", e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.row("Argo's protocol floor: CPU of a no-op Go plugin", fmt.Sprintf("SetWeight %s, VerifyWeight %s", msPrec(set), msPrec(verify)),
		"(what any plugin pays)", nil)
	return nil
}

// jvmCPU is the CPU time of a JVM's JIT compiler threads and of its VM thread (where the serial
// collector's pauses run), from /proc/<pid>/task.
type jvmCPU struct{ jit, vm time.Duration }

func jvmThreadCPU(pid int) jvmCPU {
	threads, err := harness.ThreadCPUTimes(pid)
	if err != nil {
		return jvmCPU{}
	}
	var c jvmCPU
	for name, d := range threads {
		switch {
		case strings.Contains(name, "CompilerThre"):
			c.jit += d
		case name == "VM Thread":
			c.vm += d
		}
	}
	return c
}

// memory fills the cluster (memRoutes HTTPRoutes, memRollouts Rollouts, each Rollout naming three routes),
// makes memCalls calls about those Rollouts from 10 workers (SetWeight and VerifyWeight in turn; the
// weight changes twice per Rollout), then reads the processes' RSS and plugin-server's heap.
func (b *pathBench) memory(ctx context.Context, p *harness.ArgoPlugin, srv *serverProc) error {
	const perNS = 10
	var rollouts []*v1alpha1.Rollout
	var routes []string
	nsCount := (b.o.memRollouts + perNS - 1) / perNS
	extra := max(0, b.o.memRoutes-3*b.o.memRollouts)
	t0 := time.Now()
	err := parallel(8, nsCount, func(k int) error {
		ns := fmt.Sprintf("mem-%03d", k)
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
		for i := k * perNS; i < min(b.o.memRollouts, (k+1)*perNS); i++ {
			names := []string{fmt.Sprintf("app-%d-a", i), fmt.Sprintf("app-%d-b", i), fmt.Sprintf("app-%d-c", i)}
			for _, r := range names {
				if err := b.route(ctx, ns, r); err != nil {
					return err
				}
			}
			ro := benchRollout(ns, fmt.Sprintf("app-%d", i), names)
			stored := ro.DeepCopy()
			stored.ResourceVersion, stored.UID, stored.Generation, stored.ManagedFields, stored.Finalizers = "", "", 0, nil, nil
			stored.Status = v1alpha1.RolloutStatus{}
			if _, err := b.cl.Argo.ArgoprojV1alpha1().Rollouts(ns).Create(ctx, stored, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create Rollout %s/%s: %w", ns, ro.Name, err)
			}
		}
		for i := k; i < extra; i += nsCount { // routes no Rollout names, also in the informers' cache
			if err := b.route(ctx, ns, fmt.Sprintf("other-%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range b.o.memRollouts {
		ns := fmt.Sprintf("mem-%03d", i/perNS)
		names := []string{fmt.Sprintf("app-%d-a", i), fmt.Sprintf("app-%d-b", i), fmt.Sprintf("app-%d-c", i)}
		rollouts = append(rollouts, benchRollout(ns, fmt.Sprintf("app-%d", i), names))
		routes = append(routes, names...)
	}
	fill := time.Since(t0)
	rounds := (b.o.memCalls + b.o.memRollouts - 1) / b.o.memRollouts
	weight := func(round int) int32 {
		if round < rounds/2 {
			return 30
		}
		return 31
	}
	t1 := time.Now()
	err = parallel(10, b.o.memCalls, func(i int) error {
		ro, round := rollouts[i%len(rollouts)], i/len(rollouts)
		if round%2 == 1 {
			if _, e := p.Router.VerifyWeight(ro, weight(round), nil); e.HasError() {
				return fmt.Errorf("VerifyWeight: %s", e)
			}
			return nil
		}
		_, err := setWeight(p, ro, weight(round))
		return err
	})
	if err != nil {
		return err
	}
	calls := time.Since(t1)
	// Each Rollout's last SetWeight round decides its weight.
	lastSet := func(ro int) int32 {
		for r := rounds - 1; r >= 0; r-- {
			if r%2 == 0 && r*len(rollouts)+ro < b.o.memCalls {
				return weight(r)
			}
		}
		return 0
	}
	for i, ro := range rollouts {
		for _, name := range routes[3*i : 3*i+3] {
			got, err := b.cl.RouteWeights(ctx, cluster.HTTPRoutes, ro.Namespace, name)
			if err != nil {
				return err
			}
			if want := lastSet(i); want != 0 && (got.Backends[canarySvc] != int64(want) || got.Backends[stableSvc] != 100-int64(want)) {
				b.bad = append(b.bad, fmt.Sprintf("memory run: route %s/%s carries %s, want canary %d", ro.Namespace, name, got, want))
			}
		}
	}
	connRSS, err1 := harness.RSSKiB(p.Pid())
	srvRSS, err2 := harness.RSSKiB(srv.pid())
	heap := srv.heapUsed()
	sum := float64(connRSS+srvRSS) / 1024
	b.row(fmt.Sprintf("RSS after %d calls, %d routes, %d Rollouts", b.o.memCalls, b.o.memRollouts*3+extra, b.o.memRollouts),
		fmt.Sprintf("%.0f MiB (conn %s + srv %s)", sum, kib(connRSS, err1), kib(srvRSS, err2)), "<= 160 MiB", ptrBool(err1 == nil && err2 == nil && sum <= 160))
	b.row("  plugin-server heap used / committed", heap, "", nil)
	fmt.Printf("  (memory run: %d namespaces, routes and Rollouts created in %v; %d calls in %v)\n",
		nsCount, fill.Round(time.Millisecond), b.o.memCalls, calls.Round(time.Millisecond))
	return nil
}

// startTimes starts plugin-server o.starts times: process start to the first 200 of /readyz, and to
// the first SetWeight answered (a changed weight, on informers that start with that call; the
// connector is started once the server is ready, as Argo's is already running).
func (b *pathBench) startTimes(ctx context.Context) error {
	if b.o.starts == 0 {
		return nil
	}
	var ready, first, conn []time.Duration
	for i := range b.o.starts {
		srv, err := b.startServer(fmt.Sprintf("start-%d", i+1), nil)
		if err != nil {
			return err
		}
		if err := srv.awaitReady(2 * time.Minute); err != nil {
			srv.stop()
			return err
		}
		ready = append(ready, srv.ready.Sub(srv.started))
		c0 := time.Now()
		plugin, err := harness.StartArgoPlugin(b.env.Connector, "--server="+srv.grpc, "--plugin-name="+fixture.PluginName,
			"--call-timeout=30s", "--log-level=warn")
		if err != nil {
			srv.stop()
			return err
		}
		conn = append(conn, time.Since(c0))
		_, err = setWeight(plugin, benchRollout(benchNS, "one", []string{oneRoute}), int32(40+i))
		first = append(first, time.Since(srv.started))
		plugin.Client.Kill()
		srv.stop()
		if err != nil {
			return err
		}
	}
	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	each := func(d []time.Duration) string {
		var s []string
		for _, x := range d {
			s = append(s, fmt.Sprintf("%.0f", float64(x.Microseconds())/1000))
		}
		return strings.Join(s, " ") + " ms"
	}
	r, f := med(ready), med(first)
	b.row(fmt.Sprintf("start: JVM start -> ready, median of %d", len(ready)), ms(r), "<= 0.5 s", ptrBool(r <= 500*time.Millisecond))
	b.row("  each", each(ready), "", nil)
	b.row("start: JVM start -> first SetWeight answered", ms(f), "<= 1 s", ptrBool(f <= time.Second))
	b.row("  each (incl. connector start "+each(conn)+")", each(first), "", nil)
	return nil
}

// trainAOTCache writes an AOT cache the way the Dockerfile does (a start to ready, then SIGTERM: the
// JVM writes the cache at exit) and adds -XX:AOTCache to the JVM options of every later start.
func (b *pathBench) trainAOTCache() error {
	// Ask by listing the flags: a trial run with an output path would write a cache there (as root, a cache written
	// to /dev/null replaces the device with a regular file).
	out, _ := exec.Command(b.env.Java, "-XX:+PrintFlagsFinal", "-version").CombinedOutput()
	if !regexp.MustCompile(`\bAOTCacheOutput\b`).Match(out) {
		return fmt.Errorf("-aot needs a JDK 25 or newer: %s has no -XX:AOTCacheOutput", b.env.Java)
	}
	cache := filepath.Join(b.dir, "plugin-server.aot")
	t0 := time.Now()
	srv, err := b.startServer("aot-training", []string{"-XX:AOTCacheOutput=" + cache})
	if err != nil {
		return err
	}
	if err := srv.awaitReady(2 * time.Minute); err != nil {
		srv.stop()
		return err
	}
	srv.stopWithin(5 * time.Minute) // the JVM writes the cache before it exits: tens of seconds on a busy machine
	info, err := os.Stat(cache)
	if err == nil && info.Size() == 0 {
		err = fmt.Errorf("%s is empty", cache)
	}
	if err != nil {
		return fmt.Errorf("the training run wrote no AOT cache (%v); its log %s:\n%s", err, srv.logPath, tailFile(srv.logPath, 2000))
	}
	fmt.Printf("  AOT cache trained in %v: %s (%.0f MiB)\n", time.Since(t0).Round(time.Millisecond), cache, float64(info.Size())/(1<<20))
	b.o.jvmArgs = append(b.o.jvmArgs, "-XX:AOTCache="+cache)
	return nil
}

// serverProc is plugin-server's jar, started as the image starts it (java [JVM options] -jar).
type serverProc struct {
	cmd              *exec.Cmd
	grpc             string
	httpPort         int
	started, ready   time.Time
	exited           chan struct{}
	logPath, jvmArgs string
}

func (b *pathBench) startServer(name string, extraJVM []string) (*serverProc, error) {
	grpcPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(b.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append(append(slices.Clone(b.o.jvmArgs), extraJVM...), "-jar", b.o.serverJar,
		"--kubeconfig="+b.cl.Kubeconfig, "--bind-address=127.0.0.1", "--auth-mode=none", "--log-level=warn",
		"--grpc-port="+strconv.Itoa(grpcPort), "--http-port="+strconv.Itoa(httpPort))
	cmd := exec.Command(b.env.Java, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = f, f, b.dir
	s := &serverProc{cmd: cmd, grpc: fmt.Sprintf("127.0.0.1:%d", grpcPort), httpPort: httpPort, exited: make(chan struct{}), logPath: logPath}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start plugin-server: %w", err)
	}
	go func() { _ = cmd.Wait(); f.Close(); close(s.exited) }()
	return s, nil
}

var readyProbe = &http.Client{Timeout: time.Second}

func (s *serverProc) awaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := readyProbe.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", s.httpPort)); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Now()
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("plugin-server exited before ready; its log %s:\n%s", s.logPath, tailFile(s.logPath, 3000))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plugin-server not ready within %v; its log %s:\n%s", timeout, s.logPath, tailFile(s.logPath, 3000))
		}
	}
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

func (s *serverProc) stop() { s.stopWithin(20 * time.Second) }

// stopWithin sends SIGTERM and kills the process if it has not ended within grace.
func (s *serverProc) stopWithin(grace time.Duration) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// heapUsed reads jvm_memory_used_bytes and jvm_memory_committed_bytes of the heap from /metrics.
func (s *serverProc) heapUsed() string {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.httpPort))
	if err != nil {
		return "n/a (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	var used, committed float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `area="heap"`) {
			continue
		}
		v := sampleValue(line)
		switch {
		case strings.HasPrefix(line, "jvm_memory_used_bytes{"):
			used += v
		case strings.HasPrefix(line, "jvm_memory_committed_bytes{"):
			committed += v
		}
	}
	return fmt.Sprintf("%.0f / %.0f MiB", used/(1<<20), committed/(1<<20))
}

func sampleValue(line string) float64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return v
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data[max(0, len(data)-n):])
}

// snapshot is what a workload is checked against: route generations and the API server's request counts.
type snapshot struct {
	generations map[string]int64
	requests    map[string]float64
}

func (b *pathBench) snapshot(ctx context.Context, routes []string) (snapshot, error) {
	s := snapshot{generations: map[string]int64{}}
	for _, r := range routes {
		u, err := b.cl.Dynamic.Resource(cluster.HTTPRoutes).Namespace(benchNS).Get(ctx, r, metav1.GetOptions{})
		if err != nil {
			return s, err
		}
		s.generations[r] = u.GetGeneration()
	}
	var err error
	s.requests, err = b.routeRequests(ctx)
	return s, err
}

// routeRequests sums apiserver_request_total for httproutes by verb (and subresource), from the API
// server's own /metrics.
func (b *pathBench) routeRequests(ctx context.Context) (map[string]float64, error) {
	raw, err := b.cl.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the API server's /metrics: %w", err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="httproutes"`) {
			continue
		}
		verb := label(line, "verb")
		if sub := label(line, "subresource"); sub != "" {
			verb += "/" + sub
		}
		out[verb] += sampleValue(line)
	}
	return out, nil
}

func label(line, name string) string {
	i := strings.Index(line, name+`="`)
	if i < 0 {
		return ""
	}
	rest := line[i+len(name)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

// apiExpect is what a workload should cost the API server: PATCH requests on httproutes (nothing else),
// and route generation increments per route.
type apiExpect struct {
	patch   int
	changed int64
}

// check compares a workload's effect with what it should be: every route carries the last weight, its
// generation moved by the number of changes, and the API server saw exactly the expected PATCHes on
// httproutes and no other httproutes request (the bench's own GETs for the checks are taken out).
func (b *pathBench) check(ctx context.Context, what string, before snapshot, routes []string, canary int32, changed int64, expect apiExpect) {
	after, err := b.routeRequests(ctx)
	if err != nil {
		b.bad = append(b.bad, what+": "+err.Error())
		return
	}
	delta := map[string]float64{}
	for k, v := range after {
		if d := v - before.requests[k]; d > 0 {
			delta[k] = d
		}
	}
	var parts []string
	for _, k := range slices.Sorted(mapsKeys(delta)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, delta[k]))
	}
	fmt.Printf("  %s: API requests on httproutes: %s (expected PATCH %d only)\n", what, strings.Join(parts, ", "), expect.patch)
	if delta["PATCH"] != float64(expect.patch) || len(delta) > 1 || (expect.patch == 0 && len(delta) > 0) {
		b.bad = append(b.bad, fmt.Sprintf("%s: API requests on httproutes %v, expected PATCH %d only", what, delta, expect.patch))
	}
	for _, r := range routes {
		u, err := b.cl.Dynamic.Resource(cluster.HTTPRoutes).Namespace(benchNS).Get(ctx, r, metav1.GetOptions{})
		if err != nil {
			b.bad = append(b.bad, what+": "+err.Error())
			continue
		}
		if g := u.GetGeneration() - before.generations[r]; g != changed {
			b.bad = append(b.bad, fmt.Sprintf("%s: route %s generation moved by %d, expected %d", what, r, g, changed))
		}
		got, err := b.cl.RouteWeights(ctx, cluster.HTTPRoutes, benchNS, r)
		if err != nil || got.Backends[canarySvc] != int64(canary) || got.Backends[stableSvc] != 100-int64(canary) {
			b.bad = append(b.bad, fmt.Sprintf("%s: route %s carries %v (%v), expected canary %d", what, r, got, err, canary))
		}
	}
}

func mapsKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// parallel runs f(0..n-1) on `workers` goroutines and returns the first error.
func parallel(workers, n int, f func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

func msPrec(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Nanoseconds())/1e6) }

func (b *pathBench) print(took time.Duration) {
	fmt.Printf("\nWeighbridge whole path: Argo Rollouts v1.9.1 plugin client -> connector -> plugin-server (jar) -> kube-apiserver\n")
	fmt.Printf("baseline: client-go dynamic client, one JSON-patch PATCH of an identical HTTPRoute, same API server, same run\n")
	fmt.Printf("JVM options: %s\n\n", strings.Join(b.o.jvmArgs, " "))
	fmt.Printf("  %-48s %-40s %-12s %s\n", "figure", "measured", "target", "")
	for _, r := range b.rows {
		fmt.Printf("  %-48s %-40s %-12s %s\n", r.figure, r.measured, r.target, r.verdict)
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("  machine: load average %s (API server, etcd, client, connector and server share the CPUs); bench took %v\n",
			strings.Join(strings.Fields(string(load))[:3], " "), took.Round(time.Second))
	}
	if len(b.bad) == 0 {
		fmt.Printf("  correctness: every workload left the expected weights, generations and API request counts\n\n")
		return
	}
	for _, s := range b.bad {
		fmt.Printf("!! %s\n", s)
	}
	fmt.Println()
}
