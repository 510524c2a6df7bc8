package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RouteRef names one route a Timeline follows.
type RouteRef struct {
	GVR             schema.GroupVersionResource
	Namespace, Name string
}

func (r RouteRef) String() string {
	kind := "HTTPRoute"
	if r.GVR == GRPCRoutes {
		kind = "GRPCRoute"
	}
	return kind + "/" + r.Name
}

// Event is one line of a Timeline.
type Event struct {
	At     time.Time
	Source string // "argo", a route, or "test"
	What   string
}

// Timeline records, every 50 ms, what Argo reports for a Rollout (step, phase, weights, message) and
// what the routes send where, one event per change; the test adds its own actions with Note.
type Timeline struct {
	Start  time.Time
	mu     sync.Mutex
	events []Event
	last   map[string]string
	routes map[string]Weights
	cancel context.CancelFunc
	done   chan struct{}
}

// Follow starts recording Rollout ns/name and routes until Stop.
func (c *Cluster) Follow(ns, name string, routes ...RouteRef) *Timeline {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Timeline{Start: time.Now(), last: map[string]string{}, routes: map[string]Weights{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for ctx.Err() == nil {
			if ro, err := c.Argo.ArgoprojV1alpha1().Rollouts(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
				t.record("argo", describe(ro))
			}
			for _, r := range routes {
				if w, err := c.RouteWeights(ctx, r.GVR, r.Namespace, r.Name); err == nil {
					t.mu.Lock()
					t.routes[r.String()] = w
					t.mu.Unlock()
					t.record(r.String(), w.String())
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return t
}

// StepLabel is Argo's current canary step of ro, like "2/7 setWeight 10" (index/count and what the step does;
// "7/7" when every step is done), or "-" before Argo has set one.
func StepLabel(ro *v1alpha1.Rollout) string {
	s := ro.Status
	if s.CurrentStepIndex == nil || ro.Spec.Strategy.Canary == nil {
		return "-"
	}
	step := fmt.Sprintf("%d/%d", *s.CurrentStepIndex, len(ro.Spec.Strategy.Canary.Steps))
	if int(*s.CurrentStepIndex) < len(ro.Spec.Strategy.Canary.Steps) {
		step += " " + stepName(ro.Spec.Strategy.Canary.Steps[*s.CurrentStepIndex])
	}
	return step
}

func describe(ro *v1alpha1.Rollout) string {
	s := ro.Status
	step := StepLabel(ro)
	weights := ""
	if w := s.Canary.Weights; w != nil {
		weights = fmt.Sprintf(" weights canary=%d stable=%d", w.Canary.Weight, w.Stable.Weight)
		if w.Verified != nil {
			weights += fmt.Sprintf(" verified=%v", *w.Verified)
		}
	}
	paused := ""
	if len(s.PauseConditions) > 0 {
		paused = " paused(" + string(s.PauseConditions[0].Reason) + ")"
	}
	if s.Abort {
		paused += " ABORTED"
	}
	msg := s.Message
	if len(msg) > 140 {
		msg = msg[:140] + "..."
	}
	return fmt.Sprintf("step %s phase=%s%s%s %s", step, s.Phase, weights, paused, msg)
}

func stepName(s v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration != nil:
		return "pause " + s.Pause.Duration.String()
	case s.Pause != nil:
		return "pause (until promoted)"
	case s.SetHeaderRoute != nil && len(s.SetHeaderRoute.Match) > 0:
		return "setHeaderRoute " + s.SetHeaderRoute.Name
	case s.SetHeaderRoute != nil:
		return "setHeaderRoute " + s.SetHeaderRoute.Name + " (remove)"
	case s.SetMirrorRoute != nil:
		return "setMirrorRoute " + s.SetMirrorRoute.Name
	}
	return "step"
}

func (t *Timeline) record(source, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[source] == what {
		return
	}
	t.last[source] = what
	t.events = append(t.events, Event{At: time.Now(), Source: source, What: what})
}

// Note records an action of the test.
func (t *Timeline) Note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, Event{At: time.Now(), Source: "test", What: fmt.Sprintf(format, args...)})
}

// Route is the latest weights seen for a route.
func (t *Timeline) Route(r RouteRef) Weights {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.routes[r.String()]
}

// Events is a copy of what was recorded so far.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

// Stop ends the recording.
func (t *Timeline) Stop() {
	t.cancel()
	<-t.done
}

// String renders the timeline, one event a line, with seconds since the start.
func (t *Timeline) String() string {
	var b strings.Builder
	for _, e := range t.Events() {
		fmt.Fprintf(&b, "  %+8.3fs  %-26s %s\n", e.At.Sub(t.Start).Seconds(), e.Source, e.What)
	}
	return b.String()
}

// FirstSeen is when source first reported what after the given time (zero when never).
func (t *Timeline) FirstSeen(source, what string, after time.Time) time.Time {
	for _, e := range t.Events() {
		if e.Source == source && e.What == what && e.At.After(after) {
			return e.At
		}
	}
	return time.Time{}
}
