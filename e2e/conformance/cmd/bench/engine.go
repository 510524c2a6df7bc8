package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// runRealEngine measures SetWeight on the whole real path: Argo's client -> connector ->
// plugin-server -> the real routing engine -> a real kube-apiserver (io.weighbridge.e2e.EngineServerMain),
// for a Rollout configured for one Gateway-parented HTTPRoute, from one caller (Argo calls for one
// Rollout from one worker at a time).
func runRealEngine(env harness.Env, dir string, calls int) error {
	srv, err := harness.StartServer(env, harness.ServerOptions{
		MainClass:    "io.weighbridge.e2e.EngineServerMain",
		Dir:          dir,
		WorkDir:      env.Root,
		ReadyTimeout: 5 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("start EngineServerMain: %w", err)
	}
	defer srv.Stop(30 * time.Second)
	plugin, err := harness.StartArgoPlugin(env.Connector,
		"--server="+srv.GRPCAddress(), "--plugin-name="+fixture.PluginName, "--call-timeout=30s", "--log-level=warn")
	if err != nil {
		return err
	}
	defer plugin.Client.Kill()
	ro := fixture.Rollout(fixture.Options{Namespace: srv.Namespace, Name: "checkout", PluginConfig: map[string]any{
		"httpRoutes": []map[string]any{{"name": srv.HTTPRoute}},
	}})

	setWeight := func(weight int32) (time.Duration, error) {
		t0 := time.Now()
		e := plugin.Router.SetWeight(ro, weight, nil)
		d := time.Since(t0)
		if e.HasError() {
			return d, fmt.Errorf("SetWeight %d: %s", weight, e)
		}
		return d, nil
	}
	measure := func(n int, weight func(i int) int32) ([]time.Duration, error) {
		var lat []time.Duration
		for i := 0; i < n; i++ {
			d, err := setWeight(weight(i))
			if err != nil {
				return nil, err
			}
			lat = append(lat, d)
		}
		slices.Sort(lat)
		return lat, nil
	}
	if _, err := measure(50, func(i int) int32 { return int32(1 + i%2) }); err != nil { // warm-up
		return err
	}
	changed, err := measure(calls, func(i int) int32 { return int32(10 + i%2) })
	if err != nil {
		return err
	}
	last := int32(10 + (calls-1)%2)
	unchanged, err := measure(calls, func(int) int32 { return last })
	if err != nil {
		return err
	}
	if _, err := setWeight(0); err != nil {
		return err
	}

	fmt.Printf("\nSetWeight through Argo's client -> connector -> plugin-server -> routing engine -> kube-apiserver,\n")
	fmt.Printf("1 HTTPRoute, %d calls each, 1 caller, after 50 warm-up calls\n", calls)
	for _, r := range []struct {
		name   string
		lat    []time.Duration
		target string
	}{{"changed weight", changed, "target p99 <= 20 ms"}, {"unchanged weight", unchanged, ""}} {
		fmt.Printf("  %-18s p50 %10s  p99 %10s  max %10s   %s\n", r.name,
			ms(percentile(r.lat, 50)), ms(percentile(r.lat, 99)), ms(r.lat[len(r.lat)-1]), r.target)
	}
	fmt.Println()
	return nil
}
