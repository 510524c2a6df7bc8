// Command demo is `make demo`: it starts the local control plane of the end-to-end tests (internal/cluster:
// etcd, kube-apiserver, kube-controller-manager, KWOK, plugin-server, the real Argo Rollouts controller v1.9.1
// with our connector registered by location and sha256, real Traefik v3.6.12 as the Gateway, a pod server
// answering at every pod's IP, a simulated Linkerd data plane and a real Prometheus), installs the sample app
// (internal/sampleapp: a Traefik north/south HTTPRoute, Linkerd east/west HTTPRoute and GRPCRoute), sends real
// traffic through Traefik, and shows in a live table how Argo moves a canary from 1% to 100% through
// Weighbridge, with the split Traefik applied at each step, then how Weighbridge's analyzer rolls a bad version
// back from Traefik's real metrics; then a summary, and everything is torn down (Ctrl-C too).
//
// The Makefile sets WEIGHBRIDGE_ROOT, WEIGHBRIDGE_JAVA, WEIGHBRIDGE_CONNECTOR, WEIGHBRIDGE_SERVER_JAR,
// WEIGHBRIDGE_E2E_BIN and WEIGHBRIDGE_TRAEFIK, as for `make e2e`, and runs it in a network namespace of its own
// (scripts/in-netns).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"golang.org/x/term"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/podserver"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/sampleapp"
)

const namespace = "demo"

func main() {
	podserver.MaybeRun() // the cluster re-executes this binary as its pod server
	plain := flag.Bool("plain", false, "print one line per change even on a terminal (the default when stdout is not a terminal)")
	flag.Parse()
	live := !*plain && term.IsTerminal(int(os.Stdout.Fd()))

	// Ctrl-C (or SIGTERM) cancels ctx; the demo then tears everything down. The started processes are in their
	// own process groups (cluster.start), so only this process sees the signal, and stops them in order.
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "\ndemo: interrupted: tearing everything down (the current step ends first; a few seconds)")
		cancel()
		for range signals {
			fmt.Fprintln(os.Stderr, "demo: still tearing down, please wait: stopping now would leave processes behind")
		}
	}()
	err := run(ctx, live)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "demo: interrupted; everything it started is stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "demo: FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, live bool) error {
	env, err := harness.LoadEnv()
	if err != nil {
		return err
	}
	jar := os.Getenv("WEIGHBRIDGE_SERVER_JAR")
	if jar == "" {
		jar = filepath.Join(env.Root, "plugin-server", "target", "weighbridge-plugin-server-0.1.0-SNAPSHOT.jar")
	}
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("plugin-server jar %s: %w: build it with `make java` (or run `make demo`)", jar, err)
	}
	dir, err := os.MkdirTemp("", "weighbridge-demo-")
	if err != nil {
		return fmt.Errorf("create a work directory: %w", err)
	}
	keepLogs := true
	defer func() {
		if keepLogs {
			fmt.Printf("demo: logs of every process kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	fmt.Printf("demo: starting the local control plane (logs in %s); about 30-60 s:\n", dir)
	began := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		Root: env.Root, Java: env.Java, Classpath: env.Classpath, ServerJar: jar, Connector: env.Connector,
		Dir: dir, Bin: os.Getenv("WEIGHBRIDGE_E2E_BIN"), Traefik: os.Getenv("WEIGHBRIDGE_TRAEFIK"),
		Logf: func(format string, args ...any) {
			fmt.Printf("  %s\n", strings.TrimPrefix(fmt.Sprintf(format, args...), "cluster: "))
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("start the local control plane: %w", err)
	}
	defer func() {
		stopping := time.Now()
		fmt.Println("demo: tearing down (rollouts-controller, plugin-server, Prometheus, pod server, Traefik, KWOK, kube-controller-manager, kube-apiserver, etcd) ...")
		c.Stop()
		fmt.Printf("demo: everything stopped in %v\n", time.Since(stopping).Round(100*time.Millisecond))
	}()
	fmt.Printf("demo: control plane ready in %v; Argo Rollouts downloads the connector from %s\n",
		time.Since(began).Round(100*time.Millisecond), c.PluginLocation)
	if c.NoAnalyzer != "" {
		fmt.Printf("demo: NOTE: the bad-version part is skipped, only the promotion runs: %s\n", c.NoAnalyzer)
	}

	d := &demo{c: c, live: live}
	d.status.Store("waiting")
	err = d.run(ctx)
	// Kept only for a failure: an interrupted run is no failure (ctx ends the waits with context.Canceled).
	keepLogs = err != nil && !errors.Is(err, context.Canceled)
	return err
}

// demo drives the sample app and shows it.
type demo struct {
	c      *cluster.Cluster
	live   bool
	app    *sampleapp.App
	screen *Screen
	start  time.Time
	status atomic.Value // string: what the demo waits for (the live status line)
}

// steps: 1% -> 10% -> 50% -> 100%, with pauses long enough to watch each weight and to measure the split
// Traefik applies (splitWindow after Traefik's throttle); the pause after 1% also gives the analyzer time to
// judge a bad canary there.
func steps() []v1alpha1.CanaryStep {
	return []v1alpha1.CanaryStep{
		sampleapp.SetWeight(1), sampleapp.Pause("8s"), sampleapp.SetWeight(10), sampleapp.Pause("8s"),
		sampleapp.SetWeight(50), sampleapp.Pause("8s"), sampleapp.SetWeight(100),
	}
}

// Real traffic through Traefik: gatewayRate requests/s (4/s reach a 1% canary), a split counted over
// splitWindow; the simulated east/west routes get meshRate each.
const (
	gatewayRate = 400
	meshRate    = 200
	splitWindow = 3 * time.Second
)

func (d *demo) run(ctx context.Context) error {
	analyzer := d.c.NoAnalyzer == ""
	opts := sampleapp.Options{Steps: steps()}
	if analyzer {
		opts.Analysis = sampleapp.ErrorRateAnalysis()
	}
	fmt.Printf("demo: installing the sample app in namespace %s: Services checkout, checkout-stable, checkout-canary;\n"+
		"      Gateway traefik-gateway; HTTPRoute checkout-web (north/south, Traefik); HTTPRoute checkout-mesh and\n"+
		"      GRPCRoute checkout-grpc (east/west, Linkerd GAMMA); Rollout checkout (steps 1%% -> 10%% -> 50%% -> 100%%)\n", namespace)
	app, err := sampleapp.Install(ctx, d.c, namespace, opts)
	if app != nil {
		defer app.TL.Stop()
	}
	if err != nil {
		return err
	}
	d.app = app
	app.Serve(gatewayRate, meshRate)
	defer app.Traffic.Stop()

	var height func() int
	if d.live {
		height = func() int {
			if _, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				return h
			}
			return 40
		}
	}
	title := []string{
		"Weighbridge demo: Argo Rollouts v1.9.1 -> weighbridge-connector -> plugin-server -> Gateway API routes",
		fmt.Sprintf("Rollout %s/%s; columns web/mesh/grpc = the canary's share of HTTPRoute checkout-web (real Traefik),", namespace, sampleapp.Rollout),
		"HTTPRoute checkout-mesh and GRPCRoute checkout-grpc (Linkerd, simulated), as read from the API server;",
		fmt.Sprintf("canary requests = real requests through Traefik (%d/s) answered by the release's pods.", gatewayRate),
		"",
	}
	d.screen = NewScreen(os.Stdout, d.live, height, title, []string{"web", "mesh", "grpc"})
	d.start = time.Now()
	d.note("release v2 (healthy): Argo starts the canary")
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		d.sample(sampling)
	}()
	stop := func() {
		stopSampling()
		<-sampled
		d.screen.Done()
	}

	sum, err := d.promotion(ctx)
	if err == nil && analyzer {
		var bad badResult
		bad, err = d.badVersion(ctx)
		sum.bad = &bad
	}
	stop()
	if err != nil {
		return err
	}
	sum.total = time.Since(d.start)
	fmt.Print(sum.String())
	return nil
}

// summary is what the demo measured.
type summary struct {
	splits   []cluster.Split // the split Traefik applied at each step of v2
	promoted time.Duration   // from the release of v2 to full promotion
	stableRS string
	bad      *badResult // nil: not run (no analyzer)
	why      string     // why the bad-version part did not run
	total    time.Duration
}

type badResult struct {
	revert         sampleapp.Revert
	verdict        string
	served, failed int64
}

func (s summary) String() string {
	var b strings.Builder
	b.WriteString("\nSummary\n")
	fmt.Fprintf(&b, "  v2: 1%% -> 10%% -> 50%% -> 100%% and fully promoted in %v (new stable ReplicaSet %s);\n"+
		"      each weight was written by Weighbridge on all three routes and verified by Argo before the next step\n",
		s.promoted.Round(100*time.Millisecond), s.stableRS)
	b.WriteString("  the split real Traefik applied to real requests at each step:\n")
	for _, sp := range s.splits {
		fmt.Fprintf(&b, "      %s\n", sp)
	}
	if s.bad == nil {
		fmt.Fprintf(&b, "  v3-bad: not run: %s\n", s.why)
		fmt.Fprintf(&b, "  the whole table took %v\n", s.total.Round(100*time.Millisecond))
		return b.String()
	}
	r := s.bad.revert
	fmt.Fprintf(&b, "  v3-bad (its pods fail 50%% of requests): the analyzer aborted it at 1%% from Traefik's real metrics: %s\n", s.bad.verdict)
	fmt.Fprintf(&b, "  time-to-revert: every route back at 0%% %v after all three reached 1%%; Argo reported %s after %v\n",
		r.RoutesReverted.Round(10*time.Millisecond), r.Rollout.Status.Phase, r.ArgoDegraded.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "  the bad canary's pods answered %d requests through Traefik (%d failed) before it was cut off; the stable version kept serving\n",
		s.bad.served, s.bad.failed)
	fmt.Fprintf(&b, "  the whole table took %v\n", s.total.Round(100*time.Millisecond))
	return b.String()
}

// promotion releases v2 and lets Argo take it from 1% to 100%.
func (d *demo) promotion(ctx context.Context) (summary, error) {
	released := time.Now()
	if err := d.app.Release(ctx, "v2"); err != nil {
		return summary{}, err
	}
	var splits []cluster.Split
	for i, w := range []int64{1, 10, 50} {
		d.wait(fmt.Sprintf("Argo to set the canary to %d%% on every route and verify it", w))
		if _, err := d.app.AtStep(ctx, int32(2*i+1), 2*sampleapp.StepTimeout); err != nil {
			return summary{}, err
		}
		if err := d.app.AwaitWeights(ctx, w, 100, 10*time.Second); err != nil {
			return summary{}, err
		}
		d.note(fmt.Sprintf("every route at %d%%, verified by Argo (Traefik's route status)", w))
		d.wait(fmt.Sprintf("the split of %v of real traffic through Traefik", splitWindow))
		split, err := d.app.MeasureSplit(ctx, "v2", 100, splitWindow)
		if err != nil {
			return summary{}, err
		}
		splits = append(splits, split)
		d.note(fmt.Sprintf("Traefik: v2 served %d of %d = %.1f%% (expected %d%% ± %.1f%%)", split.K, split.N,
			100*split.Share(), w, 100*split.Tolerance))
	}
	d.wait("Argo to set 100% and promote v2 to stable")
	ro, err := d.app.AwaitPromoted(ctx, 100)
	if err != nil {
		return summary{}, err
	}
	s := summary{splits: splits, promoted: time.Since(released), stableRS: ro.Status.StableRS, why: d.c.NoAnalyzer}
	d.note("v2 fully promoted: the stable Service now selects v2, weights reset to stable")
	return s, nil
}

// badVersion releases a version that fails half its requests and waits for the analyzer to roll it back.
func (d *demo) badVersion(ctx context.Context) (badResult, error) {
	since := time.Now()
	d.note("release v3-bad: its pods fail 50% of requests")
	if err := d.app.ReleaseFailing(ctx, "v3-bad", 0.5); err != nil {
		return badResult{}, err
	}
	d.wait("Argo to send 1% to the bad canary")
	if err := d.app.AwaitWeights(ctx, 1, 100, 2*sampleapp.StepTimeout); err != nil {
		return badResult{}, err
	}
	d.wait("the analyzer to find the bad canary in Traefik's metrics (Prometheus) and abort the Rollout")
	revert, err := d.app.AwaitRevert(ctx, 1, since, 2*time.Minute)
	if err != nil {
		return badResult{}, err
	}
	d.note(fmt.Sprintf("rolled back: every route at 0%% %v after reaching 1%%", revert.RoutesReverted.Round(10*time.Millisecond)))
	counts := d.app.Traffic.Counts()
	r := badResult{revert: revert, verdict: "(no verdict read)", served: counts.Served["v3-bad"], failed: counts.Failed["v3-bad"]}
	if a, ok := d.analysis(); ok {
		r.verdict = a.Phase
		if a.Verdict.Reason != "" {
			r.verdict += ":\n      " + strings.ReplaceAll(a.Verdict.Reason, "; ", ";\n      ")
		}
	}
	return r, nil
}

// note adds an event row now.
func (d *demo) note(event string) {
	row := d.row(context.Background())
	row.Event = event
	d.screen.Add(row)
}

func (d *demo) wait(what string) {
	d.status.Store("waiting for " + what)
}

// sample adds a row whenever Argo, a route or the analyzer changes, and refreshes the live status line.
func (d *demo) sample(ctx context.Context) {
	for ctx.Err() == nil {
		row := d.row(ctx)
		d.screen.Add(row)
		if d.live {
			d.screen.Status(fmt.Sprintf("now %6.1fs: canary served %s; %s ...", time.Since(d.start).Seconds(), row.Canary, d.status.Load()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// row reads the current state.
func (d *demo) row(ctx context.Context) Row {
	r := Row{At: time.Since(d.start), Step: "?", Phase: "?", Release: "?"}
	if ro, err := d.app.Get(ctx); err == nil {
		r.Step = cluster.StepLabel(ro)
		r.Phase = string(ro.Status.Phase)
		if ro.Status.Abort {
			r.Phase += " (aborted)"
		} else if len(ro.Status.PauseConditions) > 0 && ro.Status.Phase != v1alpha1.RolloutPhasePaused {
			r.Phase += " (paused)"
		}
		if cs := ro.Spec.Template.Spec.Containers; len(cs) > 0 {
			r.Release = cs[0].Image[strings.LastIndex(cs[0].Image, ":")+1:]
		}
	}
	for _, ref := range d.app.Routes {
		weight := int64(-1)
		if w, err := d.c.RouteWeights(ctx, ref.GVR, ref.Namespace, ref.Name); err == nil {
			weight = w.Backends[sampleapp.CanarySvc]
		}
		r.Weights = append(r.Weights, weight)
	}
	if a, ok := d.analysis(); ok {
		r.Analyzer = a.Phase
	}
	r.Canary = "-"
	if d.app.Traffic != nil && r.Release != "v1" && r.Release != "?" {
		counts := d.app.Traffic.Counts()
		r.Canary = fmt.Sprintf("%d (%d err)", counts.Served[r.Release], counts.Failed[r.Release])
	}
	return r
}

// analysis is the analyzer's entry for the demo's Rollout.
func (d *demo) analysis() (cluster.Analysis, bool) {
	return d.c.Analysis(namespace, sampleapp.Rollout)
}
