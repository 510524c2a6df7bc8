package conformance

import (
	"context"
	"reflect"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// recorderType is what RecordingTrafficRouter.type() answers.
const recorderType = "WeighbridgeConformanceRecorder"

// Annotations of RecordingTrafficRouter's script (see its Javadoc).
const (
	annError          = "conformance.weighbridge.io/error."
	annVerify         = "conformance.weighbridge.io/verify"
	annVerifiedWeight = "conformance.weighbridge.io/verified-weight"
	annDelay          = "conformance.weighbridge.io/delay-ms."
	annRendezvous     = "conformance.weighbridge.io/rendezvous."
)

func ptr[T any](v T) *T { return &v }

// onlyCall fetches the calls recorded for the Rollout and fails unless there is exactly one, of method.
func onlyCall(t *testing.T, srv *harness.Server, ro *v1alpha1.Rollout, method string) harness.RecordedCall {
	t.Helper()
	calls, err := srv.Calls(context.Background(), "", ro.Namespace+"/"+ro.Name)
	if err != nil {
		t.Fatalf("fetch the recording: %v", err)
	}
	if len(calls) != 1 || calls[0].Method != method {
		var got []string
		for _, c := range calls {
			got = append(got, c.Method)
		}
		t.Fatalf("plugin-server's domain got calls %v for %s/%s, want exactly one %s", got, ro.Namespace, ro.Name, method)
	}
	return calls[0]
}

// assertCallerAndRollout checks the caller and that the Rollout reached Java intact: every field Argo's
// net/rpc transports, compared semantically, plus the broken-out metadata.
func assertCallerAndRollout(t *testing.T, call harness.RecordedCall, sent *v1alpha1.Rollout) {
	t.Helper()
	if call.Caller == nil || call.Caller.PluginName != fixture.PluginName || call.Caller.ConnectorVersion == "" {
		t.Errorf("caller = %+v, want plugin name %q and a connector version", call.Caller, fixture.PluginName)
	}
	rec := call.Rollout
	if rec == nil {
		t.Fatalf("%s reached the domain without a Rollout", call.Method)
	}
	if rec.Namespace != sent.Namespace || rec.Name != sent.Name || rec.UID != string(sent.UID) ||
		rec.Generation != sent.Generation || rec.ResourceVersion != sent.ResourceVersion {
		t.Errorf("broken-out metadata = %s/%s uid=%s generation=%d resourceVersion=%s, want %s/%s uid=%s generation=%d resourceVersion=%s",
			rec.Namespace, rec.Name, rec.UID, rec.Generation, rec.ResourceVersion,
			sent.Namespace, sent.Name, sent.UID, sent.Generation, sent.ResourceVersion)
	}
	got, err := rec.Decode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := harness.OverArgoWire(sent)
	if err != nil {
		t.Fatal(err)
	}
	d, err := harness.RolloutDiff(want, got)
	if err != nil {
		t.Fatal(err)
	}
	if d != "" {
		t.Errorf("the Rollout Java recorded differs from what Argo sent (- sent, + recorded):\n%s", d)
	}
}

func assertNoError(t *testing.T, what string, e types.RpcError) {
	t.Helper()
	if e.HasError() {
		t.Fatalf("%s answered an error: %s", what, e.ErrorString)
	}
}

func assertDestinations(t *testing.T, got []harness.RecordedDestination, want []v1alpha1.WeightDestination) {
	t.Helper()
	if !equality.Semantic.DeepEqual(harness.Destinations(got), want) {
		t.Errorf("additionalDestinations = %+v, want %+v", got, want)
	}
}

func TestTypeAndInitPluginArriveIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)

	if got := p.Router.Type(); got != recorderType {
		t.Errorf("Type() = %q, want %q (what the Java router answered)", got, recorderType)
	}
	calls, err := srv.Calls(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, c := range calls {
		methods = append(methods, c.Method)
	}
	if !reflect.DeepEqual(methods, []string{"initPlugin", "type"}) {
		t.Fatalf("domain calls = %v, want [initPlugin type] (one InitPlugin per connector start, then Type)", methods)
	}
	init := calls[0]
	if init.Caller == nil || init.Caller.PluginName != fixture.PluginName || init.Caller.ConnectorVersion == "" {
		t.Errorf("InitPlugin caller = %+v, want plugin name %q and a connector version", init.Caller, fixture.PluginName)
	}
	if init.Rollout != nil {
		t.Errorf("InitPlugin carried a Rollout: %+v", init.Rollout)
	}
}

func TestUpdateHashArrivesIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, tc := range []struct {
		name                   string
		canary, stable         string
		additionalDestinations []v1alpha1.WeightDestination
	}{
		{"canary-and-stable", "6d9f7c8b5", "5b7d8f9d44", nil},
		{"with-experiments", "6d9f7c8b5", "5b7d8f9d44", fixture.Destinations("shop")},
		// Full promotion and the first reconcile send empty hashes.
		{"empty-hashes", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := fixture.Rollout(fixture.Options{Namespace: "conformance-updatehash", Name: tc.name})
			assertNoError(t, "UpdateHash", p.Router.UpdateHash(ro, tc.canary, tc.stable, tc.additionalDestinations))

			call := onlyCall(t, srv, ro, "updateHash")
			assertCallerAndRollout(t, call, ro)
			if call.Args.CanaryHash == nil || *call.Args.CanaryHash != tc.canary ||
				call.Args.StableHash == nil || *call.Args.StableHash != tc.stable {
				t.Errorf("hashes = %v/%v, want %q/%q", call.Args.CanaryHash, call.Args.StableHash, tc.canary, tc.stable)
			}
			assertDestinations(t, call.Args.AdditionalDestinations, tc.additionalDestinations)
		})
	}
}

func TestSetWeightArrivesIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, tc := range []struct {
		name             string
		weight           int32
		maxTrafficWeight int32
		destinations     []v1alpha1.WeightDestination
	}{
		{"zero", 0, 0, nil},
		{"five", 5, 0, nil},
		{"full", 100, 0, nil},
		{"with-experiments", 20, 0, fixture.Destinations("shop")},
		// desiredWeight is in units of maxTrafficWeight: 750 of 1000 is 75%.
		{"max-traffic-weight", 750, 1000, []v1alpha1.WeightDestination{{ServiceName: "exp", PodTemplateHash: "abc", Weight: 125}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := fixture.Rollout(fixture.Options{Namespace: "conformance-setweight", Name: tc.name, MaxTrafficWeight: tc.maxTrafficWeight})
			assertNoError(t, "SetWeight", p.Router.SetWeight(ro, tc.weight, tc.destinations))

			call := onlyCall(t, srv, ro, "setWeight")
			assertCallerAndRollout(t, call, ro)
			if call.Args.DesiredWeight == nil || *call.Args.DesiredWeight != tc.weight {
				t.Errorf("desiredWeight = %v, want %d", call.Args.DesiredWeight, tc.weight)
			}
			assertDestinations(t, call.Args.AdditionalDestinations, tc.destinations)
		})
	}
}

func TestVerifyWeightAnswersArriveIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		weight      int32
		want        types.RpcVerified
		wantReason  string
	}{
		{"unscripted", nil, 30, types.Verified, ""},
		{"verified", map[string]string{annVerify: "Verified"}, 30, types.Verified, ""},
		{"not-verified", map[string]string{annVerify: "NotVerified: route shop/checkout-public still sends 10% to canary"}, 30,
			types.NotVerified, "route shop/checkout-public still sends 10% to canary"},
		{"not-implemented", map[string]string{annVerify: "NotImplemented: verification is off for this Rollout"}, 30,
			types.NotImplemented, "verification is off for this Rollout"},
		{"at-desired-weight", map[string]string{annVerifiedWeight: "40"}, 40, types.Verified, ""},
		{"below-desired-weight", map[string]string{annVerifiedWeight: "40"}, 60, types.NotVerified, "data plane is at weight 40, desired is 60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := fixture.Rollout(fixture.Options{Namespace: "conformance-verifyweight", Name: tc.name, Annotations: tc.annotations})
			dest := fixture.Destinations(tc.name)
			verified, rpcErr := p.Router.VerifyWeight(ro, tc.weight, dest)
			assertNoError(t, "VerifyWeight", rpcErr)
			if verified != tc.want {
				t.Errorf("VerifyWeight = %d, want %d (0 NotVerified, 1 Verified, 2 NotImplemented)", verified, tc.want)
			}

			call := onlyCall(t, srv, ro, "verifyWeight")
			assertCallerAndRollout(t, call, ro)
			if call.Args.DesiredWeight == nil || *call.Args.DesiredWeight != tc.weight {
				t.Errorf("desiredWeight = %v, want %d", call.Args.DesiredWeight, tc.weight)
			}
			assertDestinations(t, call.Args.AdditionalDestinations, dest)
			if call.Answer.Reason != tc.wantReason {
				t.Errorf("Java answered reason %q, want %q", call.Answer.Reason, tc.wantReason)
			}
		})
	}
}

func TestSetHeaderRouteArrivesIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, tc := range []struct {
		name  string
		route v1alpha1.SetHeaderRoute
	}{
		{"exact-prefix-regex", fixture.HeaderRoute()},
		{"one-match", v1alpha1.SetHeaderRoute{Name: "canary-header", Match: []v1alpha1.HeaderRoutingMatch{
			{HeaderName: "Cookie", HeaderValue: &v1alpha1.StringMatch{Regex: `(^|;\s*)canary=true(;|$)`}}}}},
		// No match: remove the managed route.
		{"removal", v1alpha1.SetHeaderRoute{Name: "canary-header"}},
		// The CRD requires headerValue, but Argo's types allow it to be absent: it must arrive absent.
		{"absent-value", v1alpha1.SetHeaderRoute{Name: "canary-header", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Canary"}}}},
		// Unusual but legal values must arrive byte for byte.
		{"unicode-and-spaces", v1alpha1.SetHeaderRoute{Name: "canary-header", Match: []v1alpha1.HeaderRoutingMatch{
			{HeaderName: "X-User", HeaderValue: &v1alpha1.StringMatch{Exact: "  Zoë \"the\" tester ✓ "}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := fixture.Rollout(fixture.Options{Namespace: "conformance-headerroute", Name: tc.name})
			route := tc.route
			assertNoError(t, "SetHeaderRoute", p.Router.SetHeaderRoute(ro, &route))

			call := onlyCall(t, srv, ro, "setHeaderRoute")
			assertCallerAndRollout(t, call, ro)
			if call.Args.HeaderRoute == nil {
				t.Fatal("no header route recorded")
			}
			want, err := harness.HeaderRouteOverArgoWire(tc.route)
			if err != nil {
				t.Fatal(err)
			}
			if got := call.Args.HeaderRoute.Argo(); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("header route differs (- sent, + recorded):\n%s", diff.Diff(want, got))
			}
		})
	}
}

func TestSetMirrorRouteArrivesIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, tc := range []struct {
		name  string
		route v1alpha1.SetMirrorRoute
	}{
		{"with-percentage", fixture.MirrorRoute(ptr(int32(35)))},
		{"without-percentage", fixture.MirrorRoute(nil)},
		// Argo's gob encoding drops zero values even behind pointers: 0 arrives as "absent" (mirror all).
		{"zero-percentage", fixture.MirrorRoute(ptr(int32(0)))},
		{"method-only", v1alpha1.SetMirrorRoute{Name: "mirror-route", Match: []v1alpha1.RouteMatch{{Method: &v1alpha1.StringMatch{Exact: "GET"}}}, Percentage: ptr(int32(100))}},
		// No match: remove the managed route.
		{"removal", v1alpha1.SetMirrorRoute{Name: "mirror-route"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := fixture.Rollout(fixture.Options{Namespace: "conformance-mirrorroute", Name: tc.name})
			route := tc.route
			assertNoError(t, "SetMirrorRoute", p.Router.SetMirrorRoute(ro, &route))

			call := onlyCall(t, srv, ro, "setMirrorRoute")
			assertCallerAndRollout(t, call, ro)
			if call.Args.MirrorRoute == nil {
				t.Fatal("no mirror route recorded")
			}
			want, err := harness.MirrorRouteOverArgoWire(tc.route)
			if err != nil {
				t.Fatal(err)
			}
			got := call.Args.MirrorRoute.Argo()
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("mirror route differs (- sent, + recorded):\n%s", diff.Diff(want, got))
			}
			if tc.route.Percentage != nil && *tc.route.Percentage == 0 && got.Percentage != nil {
				t.Errorf("percentage 0 arrived as %d: Argo's gob drops zero values, so it should arrive absent; "+
					"if Argo changed that, the domain can now tell 0 from absent", *got.Percentage)
			}
		})
	}
}

func TestRemoveManagedRoutesArrivesIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	ro := fixture.Rollout(fixture.Options{Namespace: "conformance-removemanagedroutes", Name: "checkout"})
	assertNoError(t, "RemoveManagedRoutes", p.Router.RemoveManagedRoutes(ro))
	assertCallerAndRollout(t, onlyCall(t, srv, ro, "removeManagedRoutes"), ro)
}

// TestWhatArgosWireDrops documents why the tests compare against what Argo's gob encoding delivers
// rather than against the Rollout itself, and what the domain therefore can never see: every
// resource.Quantity arrives as zero, and a pointer to a zero number or false (spec.replicas: 0,
// status.canary.weights.verified: false, a mirror percentage of 0) arrives absent. If this test fails,
// Argo changed its encoding: the reference can become the sent Rollout and the domain can rely on more.
func TestWhatArgosWireDrops(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	ro := fixture.Rollout(fixture.Options{Namespace: "conformance-wire", Name: "checkout"})
	ro.Spec.Replicas = ptr(int32(0))
	ro.Status.Canary.Weights.Verified = ptr(false)
	assertNoError(t, "SetWeight", p.Router.SetWeight(ro, 10, nil))

	got, err := onlyCall(t, srv, ro, "setWeight").Rollout.Decode()
	if err != nil {
		t.Fatal(err)
	}
	sent := ro.Spec.Template.Spec.Containers[0].Resources.Limits.Cpu()
	arrived := got.Spec.Template.Spec.Containers[0].Resources.Limits.Cpu()
	if sent.IsZero() || !arrived.IsZero() {
		t.Errorf("cpu limit sent %s arrived %s: Argo's net/rpc no longer zeroes quantities", sent, arrived)
	}
	if got.Spec.Replicas != nil || got.Status.Canary.Weights.Verified != nil {
		t.Errorf("replicas %v, verified %v arrived: Argo's net/rpc no longer drops pointers to zero values",
			got.Spec.Replicas, got.Status.Canary.Weights.Verified)
	}
}
