package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
	"github.com/weighbridge/weighbridge/e2e/conformance/internal/harness"
)

// errorKinds are the kinds RecordingTrafficRouter can throw: every WeighbridgeException subclass, and
// Internal (an unexpected exception, i.e. a bug), with the Java class it throws.
var errorKinds = []struct{ kind, exception string }{
	{"InvalidConfig", "InvalidConfigException"},
	{"NotFound", "NotFoundException"},
	{"Rejected", "RejectedException"},
	{"Conflict", "ConflictException"},
	{"Unavailable", "UnavailableException"},
	{"Deadline", "DeadlineException"},
	{"NotImplemented", "NotImplementedException"},
	{"PartialFailure", "PartialFailureException"},
	{"Internal", "IllegalStateException"},
}

// argoMethod calls one of Argo's methods with a Rollout and returns its error.
type argoMethod struct {
	java string
	call func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError
}

var rolloutMethods = []argoMethod{
	{"updateHash", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		return p.Router.UpdateHash(ro, "6d9f7c8b5", "5b7d8f9d44", nil)
	}},
	{"setWeight", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		return p.Router.SetWeight(ro, 25, nil)
	}},
	{"setHeaderRoute", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		r := fixture.HeaderRoute()
		return p.Router.SetHeaderRoute(ro, &r)
	}},
	{"setMirrorRoute", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		r := fixture.MirrorRoute(ptr(int32(50)))
		return p.Router.SetMirrorRoute(ro, &r)
	}},
	{"verifyWeight", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		verified, err := p.Router.VerifyWeight(ro, 25, nil)
		if err.HasError() && verified != types.NotVerified {
			// Argo ignores the verdict on error, but a verdict other than NotVerified would be a lie.
			return types.RpcError{ErrorString: fmt.Sprintf("verdict %d together with error %s", verified, err.ErrorString)}
		}
		return err
	}},
	{"removeManagedRoutes", func(p *harness.ArgoPlugin, ro *v1alpha1.Rollout) types.RpcError {
		return p.Router.RemoveManagedRoutes(ro)
	}},
}

// TestErrorsArriveIntact makes each method throw each kind of error in Java, and checks that Argo's
// client gets an RpcError that carries the operator's message verbatim.
func TestErrorsArriveIntact(t *testing.T) {
	srv := shared(t)
	p := startPlugin(t, srv.GRPCPort, defaultCallTimeout)
	for _, m := range rolloutMethods {
		for _, k := range errorKinds {
			t.Run(m.java+"/"+k.kind, func(t *testing.T) {
				name := strings.ToLower(m.java + "-" + k.kind)
				message := fmt.Sprintf("HTTPRoute conformance-errors/%s-public: %s failed (%s); fix: see https://example.com/runbook#%s",
					name, m.java, k.kind, name)
				ro := fixture.Rollout(fixture.Options{Namespace: "conformance-errors", Name: name,
					Annotations: map[string]string{annError + m.java: k.kind + ": " + message}})

				got := m.call(p, ro)
				if !got.HasError() {
					t.Fatalf("%s answered success, want an error carrying %q", m.java, message)
				}
				if !strings.Contains(got.ErrorString, message) {
					t.Errorf("RpcError = %q\nwant it to contain the message verbatim: %q", got.ErrorString, message)
				}
				call := onlyCall(t, srv, ro, m.java)
				if call.Answer.Error == nil || call.Answer.Error.Exception != k.exception || call.Answer.Error.Message != message {
					t.Errorf("Java recorded answer %+v, want %s(%q)", call.Answer.Error, k.exception, message)
				}
				assertCallerAndRollout(t, call, ro)
			})
		}
	}
}

// TestInitPluginErrorArrivesIntact fails InitPlugin in Java; Argo's client must get the message, and,
// as in Argo, the process stays up.
func TestInitPluginErrorArrivesIntact(t *testing.T) {
	srv := shared(t)
	ctx := context.Background()
	const message = "cannot reach the Kubernetes API at https://10.96.0.1:443: connection refused; check the plugin-server's service account and network policy"
	if err := srv.FailInitPlugin(ctx, "Unavailable: "+message); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.FailInitPlugin(ctx, "") })

	p, err := harness.StartArgoPlugin(env.Connector, connectorArgs(srv.GRPCPort, defaultCallTimeout)...)
	if p != nil {
		t.Cleanup(p.Client.Kill)
	}
	if err == nil {
		t.Fatal("the connector started although InitPlugin failed in Java")
	}
	if p == nil || !strings.Contains(err.Error(), message) {
		t.Fatalf("start error = %v\nwant an InitPlugin failure carrying %q", err, message)
	}
	if p.Client.Exited() {
		t.Errorf("the connector exited after a failed InitPlugin; Argo keeps the process and calls it again")
	}
	calls, err := srv.Calls(ctx, "initPlugin", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Answer.Error == nil || calls[0].Answer.Error.Message != message {
		t.Errorf("Java recorded %+v, want one failed initPlugin", calls)
	}
}
