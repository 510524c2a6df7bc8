package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
)

// TestConcurrentCallers runs 10 goroutines, as Argo's 10 rollout workers, through the one connector,
// each for a Rollout of its own with its own scripted answers, and checks that every goroutine gets
// its own answers and that Java saw each goroutine's calls with its own arguments, in its order.
func TestConcurrentCallers(t *testing.T) {
	const workers, rounds = 10, 20
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)

	type sentCall struct {
		method string
		weight int32
	}
	sent := make([][]sentCall, workers)
	rollouts := make([]*v1alpha1.Rollout, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*6)
	for w := 0; w < workers; w++ {
		annotations := map[string]string{annVerifiedWeight: fmt.Sprint(10 * w)}
		if w%2 == 1 {
			annotations[annError+"setMirrorRoute"] = fmt.Sprintf("NotFound: HTTPRoute for worker-%d does not exist", w)
		}
		ro := fixture.Rollout(fixture.Options{Namespace: "conformance-concurrent", Name: fmt.Sprintf("worker-%d", w), Annotations: annotations})
		rollouts[w] = ro
		wg.Add(1)
		go func(w int, ro *v1alpha1.Rollout) {
			defer wg.Done()
			fail := func(format string, a ...any) { errs <- fmt.Errorf("worker-%d: "+format, append([]any{w}, a...)...) }
			dest := []v1alpha1.WeightDestination{{ServiceName: ro.Name + "-exp", PodTemplateHash: fmt.Sprintf("hash-%d", w), Weight: int32(w)}}
			for r := 0; r < rounds; r++ {
				weight := int32(r*10) % 100
				if e := p.Router.UpdateHash(ro, fmt.Sprintf("canary-%d-%d", w, r), fmt.Sprintf("stable-%d", w), dest); e.HasError() {
					fail("UpdateHash: %s", e)
				}
				if e := p.Router.SetWeight(ro, weight, dest); e.HasError() {
					fail("SetWeight: %s", e)
				}
				verified, e := p.Router.VerifyWeight(ro, weight, dest)
				want := types.NotVerified
				if weight == int32(10*w) {
					want = types.Verified
				}
				if e.HasError() || verified != want {
					fail("VerifyWeight(%d) = %d, %q; want %d (this worker's data plane is at %d)", weight, verified, e, want, 10*w)
				}
				hr := fixture.HeaderRoute()
				if e := p.Router.SetHeaderRoute(ro, &hr); e.HasError() {
					fail("SetHeaderRoute: %s", e)
				}
				mr := fixture.MirrorRoute(ptr(int32(w)))
				e = p.Router.SetMirrorRoute(ro, &mr)
				if w%2 == 1 && !strings.Contains(e.ErrorString, fmt.Sprintf("HTTPRoute for worker-%d does not exist", w)) {
					fail("SetMirrorRoute answered %q, want this worker's own NotFound error", e)
				}
				if w%2 == 0 && e.HasError() {
					fail("SetMirrorRoute: %s", e)
				}
				if e := p.Router.RemoveManagedRoutes(ro); e.HasError() {
					fail("RemoveManagedRoutes: %s", e)
				}
				sent[w] = append(sent[w], sentCall{"updateHash", 0}, sentCall{"setWeight", weight}, sentCall{"verifyWeight", weight},
					sentCall{"setHeaderRoute", 0}, sentCall{"setMirrorRoute", int32(w)}, sentCall{"removeManagedRoutes", 0})
			}
		}(w, ro)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for w, ro := range rollouts {
		calls, err := srv.Calls(context.Background(), "", ro.Namespace+"/"+ro.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != len(sent[w]) {
			t.Errorf("worker-%d: Java recorded %d calls, want %d", w, len(calls), len(sent[w]))
			continue
		}
		for i, c := range calls {
			s := sent[w][i]
			var got int32
			switch {
			case c.Args.DesiredWeight != nil:
				got = *c.Args.DesiredWeight
			case c.Args.MirrorRoute != nil && c.Args.MirrorRoute.Percentage != nil:
				got = *c.Args.MirrorRoute.Percentage
			}
			if c.Method != s.method || got != s.weight || c.Rollout.Name != ro.Name {
				t.Errorf("worker-%d call %d: Java recorded %s(%d) for %s, want %s(%d) for %s", w, i, c.Method, got, c.Rollout.Name, s.method, s.weight, ro.Name)
				break
			}
			if c.Method == "updateHash" && (c.Args.CanaryHash == nil || *c.Args.CanaryHash != fmt.Sprintf("canary-%d-%d", w, i/6)) {
				t.Errorf("worker-%d call %d: canary hash %v, want canary-%d-%d", w, i, c.Args.CanaryHash, w, i/6)
			}
			if i < 6 {
				assertCallerAndRollout(t, c, ro)
			}
		}
	}
}

// TestCallsOverlapEndToEnd proves, without measuring time, that Argo's single net/rpc client does not
// serialize calls, nor does the connector or plugin-server: Java holds each of 10 concurrent SetWeight
// calls until all 10 are inside the domain at once. Were any layer to pass one call at a time, the
// first call would wait alone and fail after RecordingTrafficRouter.RENDEZVOUS_TIMEOUT (10 s).
func TestCallsOverlapEndToEnd(t *testing.T) {
	const callers = 10
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	group := fmt.Sprintf("overlap-%d/%d", time.Now().UnixNano(), callers)

	results := make(chan string, callers)
	for w := 0; w < callers; w++ {
		ro := fixture.Rollout(fixture.Options{Namespace: "conformance-overlap", Name: fmt.Sprintf("worker-%d", w),
			Annotations: map[string]string{annRendezvous + "setWeight": group}})
		go func() { results <- p.Router.SetWeight(ro, 50, nil).ErrorString }()
	}
	for w := 0; w < callers; w++ {
		select {
		case e := <-results:
			if e != "" {
				t.Errorf("SetWeight failed: %s", e)
			}
		case <-time.After(hangBound + 10*time.Second):
			t.Fatalf("only %d of %d calls returned: calls hang", w, callers)
		}
	}
}
