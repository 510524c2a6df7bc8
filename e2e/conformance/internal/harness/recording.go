package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// RecordedCall is one call as it reached the Java domain (RecordingTrafficRouter.RecordedCall).
type RecordedCall struct {
	Seq     int64            `json:"seq"`
	Method  string           `json:"method"`
	Caller  *RecordedCaller  `json:"caller"`
	Rollout *RecordedRollout `json:"rollout"`
	Args    RecordedArgs     `json:"args"`
	Answer  RecordedAnswer   `json:"answer"`
}

// RecordedCaller is the domain's Caller.
type RecordedCaller struct {
	PluginName       string `json:"pluginName"`
	ConnectorVersion string `json:"connectorVersion"`
}

// RecordedRollout is the domain's Rollout: broken-out metadata and the whole object as JSON.
type RecordedRollout struct {
	Namespace       string          `json:"namespace"`
	Name            string          `json:"name"`
	UID             string          `json:"uid"`
	Generation      int64           `json:"generation"`
	ResourceVersion string          `json:"resourceVersion"`
	JSON            json.RawMessage `json:"json"`
}

// Decode unmarshals the recorded JSON into Argo's Rollout type.
func (r *RecordedRollout) Decode() (*v1alpha1.Rollout, error) {
	var ro v1alpha1.Rollout
	if err := json.Unmarshal(r.JSON, &ro); err != nil {
		return nil, fmt.Errorf("recorded Rollout JSON does not decode as a v1alpha1.Rollout: %w", err)
	}
	return &ro, nil
}

// RecordedArgs holds the union of every method's arguments; unset ones are nil.
type RecordedArgs struct {
	CanaryHash             *string               `json:"canaryHash"`
	StableHash             *string               `json:"stableHash"`
	DesiredWeight          *int32                `json:"desiredWeight"`
	AdditionalDestinations []RecordedDestination `json:"additionalDestinations"`
	HeaderRoute            *RecordedHeaderRoute  `json:"headerRoute"`
	MirrorRoute            *RecordedMirrorRoute  `json:"mirrorRoute"`
}

// RecordedDestination is the domain's WeightDestination.
type RecordedDestination struct {
	ServiceName     string `json:"serviceName"`
	PodTemplateHash string `json:"podTemplateHash"`
	Weight          int32  `json:"weight"`
}

// RecordedStringMatch is the domain's StringMatch.
type RecordedStringMatch struct {
	Exact  string `json:"exact"`
	Prefix string `json:"prefix"`
	Regex  string `json:"regex"`
}

// RecordedHeaderRoute is the domain's HeaderRoute.
type RecordedHeaderRoute struct {
	Name    string `json:"name"`
	Matches []struct {
		HeaderName string               `json:"headerName"`
		Value      *RecordedStringMatch `json:"value"`
	} `json:"matches"`
}

// RecordedMirrorRoute is the domain's MirrorRoute.
type RecordedMirrorRoute struct {
	Name    string `json:"name"`
	Matches []struct {
		Method  *RecordedStringMatch           `json:"method"`
		Path    *RecordedStringMatch           `json:"path"`
		Headers map[string]RecordedStringMatch `json:"headers"`
	} `json:"matches"`
	Percentage *int32 `json:"percentage"`
}

// RecordedAnswer is what the domain answered.
type RecordedAnswer struct {
	Verification string `json:"verification"`
	Reason       string `json:"reason"`
	Type         string `json:"type"`
	Error        *struct {
		Exception string `json:"exception"`
		Message   string `json:"message"`
	} `json:"error"`
}

// Destinations converts recorded destinations back to Argo's type.
func Destinations(in []RecordedDestination) []v1alpha1.WeightDestination {
	var out []v1alpha1.WeightDestination
	for _, d := range in {
		out = append(out, v1alpha1.WeightDestination{ServiceName: d.ServiceName, PodTemplateHash: d.PodTemplateHash, Weight: d.Weight})
	}
	return out
}

func stringMatch(m *RecordedStringMatch) *v1alpha1.StringMatch {
	if m == nil {
		return nil
	}
	return &v1alpha1.StringMatch{Exact: m.Exact, Prefix: m.Prefix, Regex: m.Regex}
}

// Argo converts the recorded header route back to Argo's type.
func (h *RecordedHeaderRoute) Argo() v1alpha1.SetHeaderRoute {
	out := v1alpha1.SetHeaderRoute{Name: h.Name}
	for _, m := range h.Matches {
		out.Match = append(out.Match, v1alpha1.HeaderRoutingMatch{HeaderName: m.HeaderName, HeaderValue: stringMatch(m.Value)})
	}
	return out
}

// Argo converts the recorded mirror route back to Argo's type.
func (m *RecordedMirrorRoute) Argo() v1alpha1.SetMirrorRoute {
	out := v1alpha1.SetMirrorRoute{Name: m.Name, Percentage: m.Percentage}
	for _, rm := range m.Matches {
		match := v1alpha1.RouteMatch{Method: stringMatch(rm.Method), Path: stringMatch(rm.Path)}
		for k, v := range rm.Headers {
			if match.Headers == nil {
				match.Headers = map[string]v1alpha1.StringMatch{}
			}
			match.Headers[k] = v1alpha1.StringMatch{Exact: v.Exact, Prefix: v.Prefix, Regex: v.Regex}
		}
		out.Match = append(out.Match, match)
	}
	return out
}

// Calls fetches the recorded calls, oldest first; method and rollout ("namespace/name") filter
// when not empty.
func (s *Server) Calls(ctx context.Context, method, rollout string) ([]RecordedCall, error) {
	q := url.Values{}
	if method != "" {
		q.Set("method", method)
	}
	if rollout != "" {
		q.Set("rollout", rollout)
	}
	data, err := s.control(ctx, "GET", "/calls?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var calls []RecordedCall
	if err := json.Unmarshal(data, &calls); err != nil {
		return nil, fmt.Errorf("decode recorded calls: %w", err)
	}
	return calls, nil
}

// Reset forgets every recorded call and the InitPlugin script.
func (s *Server) Reset(ctx context.Context) error {
	_, err := s.control(ctx, "POST", "/reset", nil)
	return err
}

// FailInitPlugin makes InitPlugin fail with script ("<Kind>: <message>"); "" makes it succeed again.
func (s *Server) FailInitPlugin(ctx context.Context, script string) error {
	if script == "" {
		_, err := s.control(ctx, "DELETE", "/init-plugin-error", nil)
		return err
	}
	_, err := s.control(ctx, "PUT", "/init-plugin-error", []byte(script))
	return err
}
