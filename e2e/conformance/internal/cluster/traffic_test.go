package cluster

import (
	"strings"
	"testing"
)

func counts(stable, canary int64) Counts {
	return Counts{Served: map[string]int64{"v1": stable, "v2": canary}, Failed: map[string]int64{}}
}

func TestSplitWithinTheBinomialToleranceIsOK(t *testing.T) {
	// Traefik's split of 1,000 requests at 90/10 was exactly 900/100.
	s := NewSplit(counts(900, 100), "v2", 10, 100)
	if !s.OK() || s.N != 1000 || s.K != 100 || s.Share() != 0.1 {
		t.Fatalf("900/100 at weight 10/100: %s, want OK with n=1000 k=100", s)
	}
	// 4 sigma of Binomial(1000, 0.1) is 37.9 requests: 138 is inside, 139 outside.
	if s := NewSplit(counts(862, 138), "v2", 10, 100); !s.OK() {
		t.Fatalf("138 of 1000 at 10%%: %s, want OK", s)
	}
	if s := NewSplit(counts(861, 139), "v2", 10, 100); s.OK() || !strings.Contains(s.String(), "OUTSIDE") {
		t.Fatalf("139 of 1000 at 10%%: %s, want outside the tolerance", s)
	}
}

func TestSplitAtWeightZeroOrAllAllowsNoStrayRequest(t *testing.T) {
	if s := NewSplit(counts(1000, 0), "v2", 0, 100); !s.OK() {
		t.Fatalf("weight 0, no canary answer: %s, want OK", s)
	}
	if s := NewSplit(counts(999, 1), "v2", 0, 100); s.OK() {
		t.Fatalf("weight 0 but the canary answered once: %s, want outside", s)
	}
	if s := NewSplit(counts(1, 999), "v2", 1000, 1000); s.OK() {
		t.Fatalf("weight 1000/1000 but stable answered once: %s, want outside", s)
	}
}

func TestSplitFailsOnAnEmptyWindowOrAnswersFromNoPod(t *testing.T) {
	if s := NewSplit(counts(0, 0), "v2", 10, 100); s.OK() {
		t.Fatalf("no answers: %s, want not OK", s)
	}
	c := counts(900, 100)
	c.NoBackend = 3
	if s := NewSplit(c, "v2", 10, 100); s.OK() {
		t.Fatalf("3 requests reached no pod: %s, want not OK", s)
	}
}

func TestCountsSubIsTheWindow(t *testing.T) {
	later := Counts{Served: map[string]int64{"v1": 950, "v2": 150}, Failed: map[string]int64{"v2": 20}, NoBackend: 2}
	earlier := Counts{Served: map[string]int64{"v1": 50, "v2": 50}, Failed: map[string]int64{"v2": 5}, NoBackend: 2}
	w := later.Sub(earlier)
	if w.Total() != 1000 || w.Served["v2"] != 100 || w.Failed["v2"] != 15 || w.NoBackend != 0 {
		t.Fatalf("window %s, want v1=900 v2=100 (15 failed)", w)
	}
}

func TestSplitAtASmallWeightNeedsBothVersions(t *testing.T) {
	if s := NewSplit(counts(600, 0), "v2", 1, 100); s.OK() {
		t.Fatalf("weight 1/100 but the canary got none of 600: %s, want outside", s)
	}
	if s := NewSplit(counts(0, 600), "v2", 99, 100); s.OK() {
		t.Fatalf("weight 99/100 but the stable got none of 600: %s, want outside", s)
	}
	if s := NewSplit(counts(594, 6), "v2", 1, 100); !s.OK() {
		t.Fatalf("weight 1/100, 6 of 600: %s, want OK", s)
	}
	if s := NewSplit(counts(600, 0), "v2", 1, 1000); !s.OK() {
		t.Fatalf("weight 1/1000, none of 600 (0.6 expected): %s, want OK", s)
	}
}
