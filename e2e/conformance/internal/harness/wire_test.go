package harness

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/fixture"
)

// The conformance tests rely on RolloutDiff to catch any field that changes on the way to Java: this
// checks that it does catch changes and only ignores what is semantically equal.
func TestRolloutDiffCatchesChanges(t *testing.T) {
	sent := fixture.Rollout(fixture.Options{})
	wire, err := OverArgoWire(sent)
	if err != nil {
		t.Fatal(err)
	}

	// A JSON round trip with reformatted plugin configuration is semantically the same Rollout.
	data, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	var same = *wire.DeepCopy()
	if err := json.Unmarshal(data, &same); err != nil {
		t.Fatal(err)
	}
	same.Spec.Strategy.Canary.TrafficRouting.Plugins[fixture.PluginName] = json.RawMessage(
		"{ \n" + strings.TrimPrefix(string(same.Spec.Strategy.Canary.TrafficRouting.Plugins[fixture.PluginName]), "{"))
	if d, err := RolloutDiff(wire, &same); err != nil || d != "" {
		t.Errorf("a JSON round trip differs: %v\n%s", err, d)
	}

	for name, change := range map[string]func(){
		"env value": func() { same.Spec.Template.Spec.Containers[1].Env[1].Value += "!" },
		"condition time": func() {
			same.Status.Conditions[0].LastTransitionTime.Time = same.Status.Conditions[0].LastTransitionTime.Add(1e9)
		},
		"plugin config": func() {
			same.Spec.Strategy.Canary.TrafficRouting.Plugins[fixture.PluginName] = json.RawMessage(`{"httpRoute":"other"}`)
		},
		"managed route": func() { same.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes[1].Name = "x" },
		"annotation":    func() { same.Annotations["example.com/owner"] = "someone else" },
		"probe port":    func() { same.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Port.StrVal = "grpc" },
	} {
		same = *wire.DeepCopy()
		change()
		if d, err := RolloutDiff(wire, &same); err != nil || d == "" {
			t.Errorf("changing the %s went unnoticed (err %v)", name, err)
		}
	}
}

func TestOverArgoWireDropsWhatGobCannotCarry(t *testing.T) {
	sent := fixture.Rollout(fixture.Options{})
	got, err := OverArgoWire(sent)
	if err != nil {
		t.Fatal(err)
	}
	if q := got.Spec.Template.Spec.Containers[0].Resources.Requests.Memory(); !q.IsZero() {
		t.Errorf("memory request arrived as %s; gob was expected to zero it", q)
	}
	zero := *sent.DeepCopy()
	zero.Spec.Replicas = new(int32)
	gotZero, err := OverArgoWire(&zero)
	if err != nil {
		t.Fatal(err)
	}
	if gotZero.Spec.Replicas != nil {
		t.Errorf("replicas 0 arrived as %d; gob was expected to drop the pointer to a zero number", *gotZero.Spec.Replicas)
	}
	if got.Spec.Template.Spec.Containers[0].Env[1].Value != sent.Spec.Template.Spec.Containers[0].Env[1].Value {
		t.Errorf("an env value changed on the wire")
	}
}
