// Command bench measures the foundation's transport: Argo Rollouts' own plugin client -> the
// connector -> plugin-server with a no-op router. It prints SetWeight latency (p50/p99/max) and
// throughput from concurrent callers, the connector's and the server's resident memory, and the
// server's time to ready, each beside its target. It prints numbers; it asserts nothing.
//
// Run it with `make bench` (which builds everything and sets WEIGHBRIDGE_CONNECTOR, WEIGHBRIDGE_JAVA
// and WEIGHBRIDGE_ROOT), or from e2e/conformance: go run ./cmd/bench -n 50000.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run() (err error) {
	n := flag.Int("n", 20000, "measured SetWeight calls in the concurrent run (split among the callers)")
	callers := flag.Int("callers", 10, "concurrent callers, like Argo's rollout workers")
	warmup := flag.Int("warmup", 5000, "SetWeight calls before measuring (JIT warm-up)")
	starts := flag.Int("starts", 5, "plugin-server starts for the time-to-ready median")
	jvmArgs := flag.String("jvm-args", "", "space-separated JVM options for plugin-server, e.g. -Xmx256m")
	path := flag.Bool("path", false, "instead: the whole-path bench (Argo's client -> connector -> plugin-server jar -> "+
		"kube-apiserver) against a bare PATCH, with CPU, memory and start figures, in one table")
	rounds := flag.Int("rounds", 200, "-path: interleaved rounds of bare PATCH, 1-route and 10-route SetWeight")
	cpuCalls := flag.Int("cpu-calls", 300, "-path: calls per kind (changed, unchanged, VerifyWeight) for CPU per call")
	memCalls := flag.Int("mem-calls", 10000, "-path: calls about the memory run's Rollouts before RSS is read")
	memRollouts := flag.Int("mem-rollouts", 300, "-path: Rollouts in the cluster for the memory run (3 routes each)")
	memRoutes := flag.Int("mem-routes", 1000, "-path: HTTPRoutes in the cluster for the memory run")
	pathStarts := flag.Int("path-starts", 3, "-path: plugin-server starts for the start figures")
	aot := flag.Bool("aot", false, "-path: train a JDK 25 AOT cache as the image build does and start with it")
	serverJar := flag.String("server-jar", os.Getenv("WEIGHBRIDGE_SERVER_JAR"), "-path: plugin-server's jar")
	flag.Parse()

	env, err := harness.LoadEnv()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "weighbridge-bench-")
	if err != nil {
		return err
	}
	// A failed run keeps its directory: the servers' logs, the AOT cache and any JVM crash report
	// (hs_err_pid*.log) are what tells why.
	defer func() {
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: kept %s (logs, AOT cache, JVM crash reports) for a look\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	if *path {
		return runPath(env, dir, pathOptions{rounds: *rounds, cpuCalls: *cpuCalls, memCalls: *memCalls,
			memRollouts: *memRollouts, memRoutes: *memRoutes, starts: *pathStarts,
			jvmArgs: strings.Fields(*jvmArgs), serverJar: *serverJar, aot: *aot})
	}
	opts := harness.ServerOptions{Dir: dir, Noop: true, JVMArgs: strings.Fields(*jvmArgs)}

	readyTimes, err := timeToReady(env, opts, *starts)
	if err != nil {
		return err
	}

	srv, err := harness.StartServer(env, opts)
	if err != nil {
		return err
	}
	defer srv.Stop(10 * time.Second)
	plugin, err := harness.StartArgoPlugin(env.Connector,
		"--server="+srv.GRPCAddress(), "--plugin-name="+fixture.PluginName, "--call-timeout=30s", "--log-level=warn")
	if err != nil {
		return err
	}
	defer plugin.Client.Kill()

	ro := fixture.Rollout(fixture.Options{Namespace: "bench", Name: "checkout"})
	rolloutJSON, _ := json.Marshal(ro)

	if _, _, err := drive(plugin, ro, *callers, *warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	single, singleWall, err := drive(plugin, ro, 1, min((*n)/(*callers)*2, 5000))
	if err != nil {
		return err
	}
	pids := []int{os.Getpid(), plugin.Pid(), srv.Pid()}
	cpuBefore := cpuTimes(pids)
	lat, wall, err := drive(plugin, ro, *callers, *n)
	if err != nil {
		return err
	}
	cpuAfter := cpuTimes(pids)
	connRSS, connErr := harness.RSSKiB(plugin.Pid())
	srvRSS, srvErr := harness.RSSKiB(srv.Pid())

	fmt.Printf("\nWeighbridge bench: Argo Rollouts v1.9.1 plugin client -> connector -> plugin-server (no-op router)\n")
	fmt.Printf("SetWeight of a %.1f KiB Rollout; %d measured calls from %d concurrent callers after %d warm-up calls\n\n",
		float64(len(rolloutJSON))/1024, len(lat), *callers, *warmup)
	row := func(name, value, target string) { fmt.Printf("  %-34s %14s   target %s\n", name, value, target) }
	row("latency p50", ms(percentile(lat, 50)), "")
	row("latency p99", ms(percentile(lat, 99)), "<= 5 ms")
	row("latency max", ms(lat[len(lat)-1]), "")
	row(fmt.Sprintf("throughput, %d callers", *callers), fmt.Sprintf("%.0f calls/s", float64(len(lat))/wall.Seconds()), ">= 2000 calls/s")
	row("throughput, 1 caller", fmt.Sprintf("%.0f calls/s", float64(len(single))/singleWall.Seconds()), fmt.Sprintf("(p50 %s, for comparison)", ms(percentile(single, 50))))
	perCall := func(i int) string {
		if cpuBefore[i] < 0 || cpuAfter[i] < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs", float64((cpuAfter[i]-cpuBefore[i]).Microseconds())/float64(len(lat)))
	}
	row("CPU per call: Argo client (this)", perCall(0), "(user+system, concurrent run)")
	row("CPU per call: connector", perCall(1), "")
	row("CPU per call: plugin-server", perCall(2), "")
	row("connector RSS (VmRSS)", kib(connRSS, connErr), "<= 30 MB")
	row("plugin-server RSS (VmRSS)", kib(srvRSS, srvErr), "")
	sort.Slice(readyTimes, func(i, j int) bool { return readyTimes[i] < readyTimes[j] })
	var each []string
	for _, d := range readyTimes {
		each = append(each, ms(d))
	}
	row(fmt.Sprintf("plugin-server ready, median of %d", len(readyTimes)), ms(readyTimes[len(readyTimes)/2]), "<= 2 s")
	fmt.Printf("  %-34s %s\n", "  (each start to /readyz 200)", strings.Join(each, " "))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("  machine: %d CPUs, load average %s", runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
		fmt.Println(" (client, connector and server share these CPUs)")
	}
	if *jvmArgs != "" {
		fmt.Printf("  JVM options: %s\n", *jvmArgs)
	}
	fmt.Println()
	return nil
}

// timeToReady starts plugin-server `starts` times and measures process start to the first 200 from
// /readyz, polled from the moment the process starts.
func timeToReady(env harness.Env, opts harness.ServerOptions, starts int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < starts; i++ {
		port, err := harness.FreePort()
		if err != nil {
			return nil, err
		}
		o := opts
		o.HTTPPort = port
		s, err := harness.StartServer(env, o)
		if err != nil {
			return nil, fmt.Errorf("start %d: %w", i+1, err)
		}
		out = append(out, s.Ready.Sub(s.Started))
		if err := s.Stop(10 * time.Second); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// drive makes total SetWeight calls from `callers` goroutines through Argo's client and returns the
// sorted per-call latencies and the wall time.
func drive(p *harness.ArgoPlugin, ro *v1alpha1.Rollout, callers, total int) ([]time.Duration, time.Duration, error) {
	per := total / callers
	lat := make([][]time.Duration, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			l := make([]time.Duration, 0, per)
			for i := 0; i < per; i++ {
				t0 := time.Now()
				e := p.Router.SetWeight(ro, int32(i%100), nil)
				l = append(l, time.Since(t0))
				if e.HasError() {
					errs <- fmt.Errorf("SetWeight failed: %s", e)
					return
				}
			}
			lat[c] = l
		}(c)
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, 0, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return all, wall, nil
}

// cpuTimes reads each process's CPU time so far; -1 where it cannot.
func cpuTimes(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := harness.CPUTime(pid)
		if err != nil {
			d = -1
		}
		out[i] = d
	}
	return out
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func kib(v int64, err error) string {
	if err != nil {
		return "n/a (" + err.Error() + ")"
	}
	return fmt.Sprintf("%.1f MB", float64(v)/1024)
}
