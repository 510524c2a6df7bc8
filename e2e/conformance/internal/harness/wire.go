package harness

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"
)

// OverArgoWire returns ro as a plugin receives it from Argo: Argo's net/rpc client gob-encodes its
// argument structs (as an interface value), and gob drops what it cannot see. Notably every
// resource.Quantity (container requests and limits) arrives as zero, because Quantity keeps its value
// in unexported fields and has no gob encoding. This, not ro itself, is what the connector can
// forward, so it is what the Java side must receive.
func OverArgoWire(ro *v1alpha1.Rollout) (*v1alpha1.Rollout, error) {
	var buf bytes.Buffer
	var args any = rpc.SetWeightAndVerifyWeightArgs{Rollout: *ro}
	if err := gob.NewEncoder(&buf).Encode(&args); err != nil {
		return nil, fmt.Errorf("gob-encode the Rollout as Argo's net/rpc client does: %w", err)
	}
	var out any
	if err := gob.NewDecoder(&buf).Decode(&out); err != nil {
		return nil, fmt.Errorf("gob-decode the Rollout as go-plugin's net/rpc server does: %w", err)
	}
	received := out.(*rpc.SetWeightAndVerifyWeightArgs).Rollout
	return &received, nil
}

// RolloutDiff compares two Rollouts semantically (as Kubernetes does: quantities by value, times in
// UTC, nil and empty slices and maps alike, plugin configurations as JSON values rather than bytes)
// and returns a unified JSON diff, or "" when they are equal.
func RolloutDiff(want, got *v1alpha1.Rollout) (string, error) {
	w, g := want.DeepCopy(), got.DeepCopy()
	for _, r := range []*v1alpha1.Rollout{w, g} {
		if err := canonicalPluginConfigs(r); err != nil {
			return "", err
		}
	}
	if equality.Semantic.DeepEqual(w, g) {
		return "", nil
	}
	d := diff.Diff(w, g)
	if d == "" {
		d = "(the JSON forms are equal; the objects differ in a field that JSON does not show)"
	}
	return d, nil
}

// canonicalPluginConfigs re-encodes each raw plugin configuration with sorted keys and no spaces.
func canonicalPluginConfigs(r *v1alpha1.Rollout) error {
	if r.Spec.Strategy.Canary == nil || r.Spec.Strategy.Canary.TrafficRouting == nil {
		return nil
	}
	for name, raw := range r.Spec.Strategy.Canary.TrafficRouting.Plugins {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("plugin config %q is not JSON: %w", name, err)
		}
		canon, err := json.Marshal(v)
		if err != nil {
			return err
		}
		r.Spec.Strategy.Canary.TrafficRouting.Plugins[name] = canon
	}
	return nil
}
