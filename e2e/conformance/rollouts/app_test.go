//go:build e2e

package rollouts

import (
	"context"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/cluster"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/sampleapp"
)

// app is one test's sampleapp.App (see there); its methods fail the test instead of returning errors.
type app struct {
	*sampleapp.App
	ns     string
	routes []cluster.RouteRef
	tl     *cluster.Timeline
}

type appOptions = sampleapp.Options

const (
	stableSvc   = sampleapp.StableSvc
	canarySvc   = sampleapp.CanarySvc
	rollout     = sampleapp.Rollout
	stepTimeout = sampleapp.StepTimeout
)

func newApp(t *testing.T, ns string, o appOptions) *app {
	t.Helper()
	sa, err := sampleapp.Install(context.Background(), kube, ns, o)
	if sa != nil {
		t.Cleanup(func() {
			sa.Stop()
			t.Logf("timeline of %s (seconds since the Rollout was created):\n%s", ns, sa.TL)
			if t.Failed() {
				t.Logf("rollouts-controller log (last lines):\n%s", kube.Rollouts.LogTail(5000))
				t.Logf("plugin-server log (last lines):\n%s", kube.Server.LogTail(5000))
			}
		})
	}
	if err != nil {
		t.Fatalf("install the sample app in %s: %v", ns, err)
	}
	return &app{App: sa, ns: sa.NS, routes: sa.Routes, tl: sa.TL}
}

func (a *app) release(t *testing.T, version string) {
	t.Helper()
	must(t, "release "+version, func() error { return a.Release(context.Background(), version) })
}

func (a *app) promote(t *testing.T, from int32) {
	t.Helper()
	must(t, "promote", func() error { return a.Promote(context.Background(), from) })
}

func (a *app) promoteOnly(t *testing.T, from int32) {
	t.Helper()
	must(t, "promote", func() error { return a.PromoteOnly(context.Background(), from) })
}

func (a *app) awaitRollout(t *testing.T, timeout time.Duration, what string, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	t.Helper()
	ro, err := a.AwaitRollout(context.Background(), timeout, what, cond)
	must(t, "wait", func() error { return err })
	return ro
}

func (a *app) atStep(t *testing.T, i int32, timeout time.Duration) {
	t.Helper()
	_, err := a.AtStep(context.Background(), i, timeout)
	must(t, "wait", func() error { return err })
}

func (a *app) atPause(t *testing.T, i int32, timeout time.Duration) {
	t.Helper()
	_, err := a.AtPause(context.Background(), i, timeout)
	must(t, "wait", func() error { return err })
}

func (a *app) awaitWeights(t *testing.T, canary, total int64, timeout time.Duration) {
	t.Helper()
	must(t, "wait", func() error { return a.AwaitWeights(context.Background(), canary, total, timeout) })
}

func (a *app) awaitRoutes(t *testing.T, timeout time.Duration, what string, cond func(cluster.Weights) bool) {
	t.Helper()
	must(t, "wait", func() error { return a.AwaitRoutes(context.Background(), timeout, what, cond) })
}

func (a *app) assertPromoted(t *testing.T, total int64) {
	t.Helper()
	_, err := a.AwaitPromoted(context.Background(), total)
	must(t, "full promotion", func() error { return err })
}

// serve sends gatewayRate real requests/s through Traefik (and meshRate simulated ones per east/west route).
func (a *app) serve(gatewayRate, meshRate float64) { a.Serve(gatewayRate, meshRate) }

// split measures the canary's share of window of the real traffic through Traefik and fails the test when it is
// outside the binomial tolerance of the weight (see sampleapp.MeasureSplit); it logs the split either way.
func (a *app) split(t *testing.T, canaryVersion string, total int64, window time.Duration) cluster.Split {
	t.Helper()
	s, err := a.MeasureSplit(context.Background(), canaryVersion, total, window)
	t.Logf("split through Traefik: %s", s)
	must(t, "split", func() error { return err })
	return s
}

func must(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var (
	setWeight = sampleapp.SetWeight
	pause     = sampleapp.Pause
)
