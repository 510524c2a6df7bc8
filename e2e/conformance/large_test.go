package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
)

// TestLargeRollouts sends Rollouts far above 256 KiB, repeatedly, over one connector connection (many
// MiB on one net/rpc stream and one gRPC connection), and checks each arrives intact. The largest is
// just under etcd's 1.5 MiB request limit, the largest object a real cluster can hold.
func TestLargeRollouts(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	ctx := context.Background()

	var total int
	for _, tc := range []struct {
		name       string
		containers int
		padding    int
		rounds     int
	}{
		{"many-containers", 200, 0, 4},
		{"300KiB-annotation", 40, 300 << 10, 8},
		{"near-etcd-limit", 40, 1400 << 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for r := 0; r < tc.rounds; r++ {
				ro := fixture.Rollout(fixture.Options{Namespace: "conformance-large", Name: fmt.Sprintf("%s-%d", tc.name, r),
					Containers: tc.containers, PaddingBytes: tc.padding})
				size := jsonSize(t, ro)
				if r == 0 {
					t.Logf("%s: Rollout of %d KiB as JSON", tc.name, size>>10)
					if size <= 256<<10 {
						t.Fatalf("fixture is only %d bytes; it must exceed 256 KiB", size)
					}
				}
				weight := int32(r * 10)
				dest := fixture.Destinations(ro.Name)
				assertNoError(t, "UpdateHash", p.Router.UpdateHash(ro, "6d9f7c8b5", "5b7d8f9d44", dest))
				assertNoError(t, "SetWeight", p.Router.SetWeight(ro, weight, dest))
				if _, e := p.Router.VerifyWeight(ro, weight, dest); e.HasError() {
					t.Fatalf("VerifyWeight: %s", e)
				}
				total += 3 * size

				calls, err := srv.Calls(ctx, "", ro.Namespace+"/"+ro.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(calls) != 3 {
					t.Fatalf("Java recorded %d calls for %s, want 3", len(calls), ro.Name)
				}
				for _, c := range calls {
					assertCallerAndRollout(t, c, ro)
				}
				if err := srv.Reset(ctx); err != nil { // keeps the recorder's memory small
					t.Fatal(err)
				}
			}
		})
	}
	t.Logf("sent %.1f MiB of Rollouts through one connector", float64(total)/(1<<20))
	if total < 8<<20 {
		t.Errorf("only %d bytes went through; the test must push several MiB over one stream", total)
	}
}

func jsonSize(t *testing.T, ro *v1alpha1.Rollout) int {
	t.Helper()
	data, err := json.Marshal(ro)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}
