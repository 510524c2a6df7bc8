package forwarder

import (
	"encoding/json"
	"fmt"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

// The functions below copy Argo's arguments into the contract's messages field by field. A nil pointer
// stays an absent message, so plugin-server can tell "not sent" from "sent empty" and do all validation.

// rolloutToProto carries the identifying fields and the whole Rollout as Kubernetes JSON.
func rolloutToProto(ro *v1alpha1.Rollout) (*pb.Rollout, error) {
	if ro == nil {
		return nil, nil
	}
	raw, err := json.Marshal(ro)
	if err != nil {
		return nil, fmt.Errorf("cannot encode Rollout %s/%s as JSON: %w", ro.Namespace, ro.Name, err)
	}
	return &pb.Rollout{
		Namespace:       ro.Namespace,
		Name:            ro.Name,
		Uid:             string(ro.UID),
		Generation:      ro.Generation,
		ResourceVersion: ro.ResourceVersion,
		Json:            raw,
	}, nil
}

func destinationsToProto(ds []v1alpha1.WeightDestination) []*pb.WeightDestination {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*pb.WeightDestination, 0, len(ds))
	for _, d := range ds {
		out = append(out, &pb.WeightDestination{
			ServiceName:     d.ServiceName,
			PodTemplateHash: d.PodTemplateHash,
			Weight:          d.Weight,
		})
	}
	return out
}

func stringMatchToProto(m *v1alpha1.StringMatch) *pb.StringMatch {
	if m == nil {
		return nil
	}
	return &pb.StringMatch{Exact: m.Exact, Prefix: m.Prefix, Regex: m.Regex}
}

func headerRouteToProto(r *v1alpha1.SetHeaderRoute) *pb.SetHeaderRoute {
	if r == nil {
		return nil
	}
	out := &pb.SetHeaderRoute{Name: r.Name}
	for _, m := range r.Match {
		out.Match = append(out.Match, &pb.HeaderRoutingMatch{
			HeaderName:  m.HeaderName,
			HeaderValue: stringMatchToProto(m.HeaderValue),
		})
	}
	return out
}

func mirrorRouteToProto(r *v1alpha1.SetMirrorRoute) *pb.SetMirrorRoute {
	if r == nil {
		return nil
	}
	out := &pb.SetMirrorRoute{Name: r.Name}
	if r.Percentage != nil {
		p := *r.Percentage
		out.Percentage = &p
	}
	for _, m := range r.Match {
		rm := &pb.RouteMatch{
			Method: stringMatchToProto(m.Method),
			Path:   stringMatchToProto(m.Path),
		}
		if len(m.Headers) > 0 {
			rm.Headers = make(map[string]*pb.StringMatch, len(m.Headers))
			for name, v := range m.Headers {
				rm.Headers[name] = stringMatchToProto(&v)
			}
		}
		out.Match = append(out.Match, rm)
	}
	return out
}
