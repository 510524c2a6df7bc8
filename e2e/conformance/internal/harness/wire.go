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
	args, err := overWire(rpc.SetWeightAndVerifyWeightArgs{Rollout: *ro})
	if err != nil {
		return nil, err
	}
	return &args.Rollout, nil
}

// MirrorRouteOverArgoWire returns r as a plugin receives it from Argo. gob sends no zero numbers, not
// even behind a pointer: a percentage of 0 arrives absent.
func MirrorRouteOverArgoWire(r v1alpha1.SetMirrorRoute) (v1alpha1.SetMirrorRoute, error) {
	args, err := overWire(rpc.SetMirrorArgs{SetMirrorRoute: r})
	return args.SetMirrorRoute, err
}

// HeaderRouteOverArgoWire returns r as a plugin receives it from Argo.
func HeaderRouteOverArgoWire(r v1alpha1.SetHeaderRoute) (v1alpha1.SetHeaderRoute, error) {
	args, err := overWire(rpc.SetHeaderArgs{SetHeaderRoute: r})
	return args.SetHeaderRoute, err
}

// overWire gob-encodes args the way net/rpc's client codec does for Argo (a pointer to an interface
// holding the args struct, registered by name in Argo's rpc package) and decodes them the way
// go-plugin's net/rpc server does.
func overWire[T any](args T) (T, error) {
	var zero T
	var buf bytes.Buffer
	var body any = args
	if err := gob.NewEncoder(&buf).Encode(&body); err != nil {
		return zero, fmt.Errorf("gob-encode %T as Argo's net/rpc client does: %w", args, err)
	}
	var out any
	if err := gob.NewDecoder(&buf).Decode(&out); err != nil {
		return zero, fmt.Errorf("gob-decode %T as go-plugin's net/rpc server does: %w", args, err)
	}
	received, ok := out.(*T)
	if !ok {
		return zero, fmt.Errorf("gob decoded %T, want *%T", out, args)
	}
	return *received, nil
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
