package cluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/weighbridge/weighbridge/e2e/conformance/internal/podserver"
)

// Traffic sends a steady rate of real HTTP requests or gRPC calls through Traefik (the Gateway's entry point,
// with the route's hostname) and counts the answers by the version that served them (podserver's headers), so a test
// sees the split Traefik applied, and Traefik's own metrics, scraped by Prometheus, carry what the analyzer
// judges.
type Traffic struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	counts Counts
}

// Counts are cumulative answers by version: served (any HTTP answer from a pod) and failed (5xx from a pod);
// NoBackend counts answers without a version (Traefik itself answered: no route or no endpoint) and transport
// errors.
type Counts struct {
	Served, Failed map[string]int64
	NoBackend      int64
}

// Sub is c minus an earlier snapshot.
func (c Counts) Sub(earlier Counts) Counts {
	d := Counts{Served: map[string]int64{}, Failed: map[string]int64{}, NoBackend: c.NoBackend - earlier.NoBackend}
	for v, n := range c.Served {
		if n -= earlier.Served[v]; n != 0 {
			d.Served[v] = n
		}
	}
	for v, n := range c.Failed {
		if n -= earlier.Failed[v]; n != 0 {
			d.Failed[v] = n
		}
	}
	return d
}

// Total is the number of answers from pods.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c.Served {
		n += v
	}
	return n
}

func (c Counts) clone() Counts {
	d := Counts{Served: map[string]int64{}, Failed: map[string]int64{}, NoBackend: c.NoBackend}
	for k, v := range c.Served {
		d.Served[k] = v
	}
	for k, v := range c.Failed {
		d.Failed[k] = v
	}
	return d
}

// String renders "v1=900 (0 failed) v2=100 (50 failed)".
func (c Counts) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Served)) {
		parts = append(parts, fmt.Sprintf("%s=%d (%d failed)", k, c.Served[k], c.Failed[k]))
	}
	if c.NoBackend > 0 {
		parts = append(parts, fmt.Sprintf("no backend=%d", c.NoBackend))
	}
	return strings.Join(parts, " ")
}

// SendTraffic starts rate HTTP requests per second to host through Traefik, spread over 8 connections, until
// Stop. A request that finds every connection busy is skipped (the rate is an upper bound, never a backlog).
func (c *Cluster) SendTraffic(host string, rate float64) *Traffic {
	const workers = 8
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	url := c.Traefik.URL + "/"
	return startTraffic(rate, workers, func(ctx context.Context) (string, bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return "", false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get(podserver.VersionHeader), resp.StatusCode >= 500
	}, func() {})
}

// SendGRPCTraffic starts rate gRPC calls per second (grpc.health.v1.Health/Check, h2c) to host through
// Traefik's entry point, over one HTTP/2 connection, until Stop; a call fails when its status is not OK. Skipped
// calls as in SendTraffic.
func (c *Cluster) SendGRPCTraffic(host string, rate float64) (*Traffic, error) {
	conn, err := grpc.NewClient(strings.TrimPrefix(c.Traefik.URL, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		return nil, fmt.Errorf("gRPC client for %s through Traefik: %w", host, err)
	}
	health := healthpb.NewHealthClient(conn)
	return startTraffic(rate, 8, func(ctx context.Context) (string, bool) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var header metadata.MD
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		versions := header.Get(podserver.GRPCVersionKey)
		if len(versions) == 0 {
			return "", false // Traefik answered itself (no route, no endpoint) or the call never left
		}
		return versions[0], err != nil
	}, func() { _ = conn.Close() }), nil
}

// startTraffic runs call rate times per second on workers goroutines until Stop, counting what it returns: the
// version that answered ("" when no pod did) and whether the answer was a failure. closeFn runs after the last
// call.
func startTraffic(rate float64, workers int, call func(ctx context.Context) (version string, failed bool), closeFn func()) *Traffic {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Traffic{cancel: cancel, done: make(chan struct{}),
		counts: Counts{Served: map[string]int64{}, Failed: map[string]int64{}}}
	ticks := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ticks {
				version, failed := call(ctx)
				if ctx.Err() == nil {
					t.count(version, failed)
				}
			}
		}()
	}
	go func() {
		defer close(t.done)
		defer closeFn()
		defer wg.Wait()
		defer close(ticks)
		interval := time.Duration(float64(time.Second) / rate)
		next := time.Now()
		for ctx.Err() == nil {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			} else if d < -time.Second {
				next = time.Now() // fell behind by more than a second (a loaded machine): do not catch up
			}
			select {
			case ticks <- struct{}{}:
			default:
			}
		}
	}()
	return t
}

func (t *Traffic) count(version string, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version == "" {
		t.counts.NoBackend++
		return
	}
	t.counts.Served[version]++
	if failed {
		t.counts.Failed[version]++
	}
}

// Counts is a snapshot of the cumulative counts.
func (t *Traffic) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts.clone()
}

// Stop ends the traffic.
func (t *Traffic) Stop() {
	t.cancel()
	<-t.done
}

// Split is the share of a window's answers that one version served, with its binomial tolerance.
type Split struct {
	// Weight and Total: the route's canary weight out of Total (the expected share is Weight/Total).
	Weight, Total int64
	// N answers from pods in the window, K of them from the canary's version.
	N, K int64
	// Tolerance is the allowed |K/N - Weight/Total|: Z standard deviations of the binomial, plus half a request.
	Tolerance float64
	Counts    Counts
}

// Z is how many binomial standard deviations a split may be off. Traefik's weighted round robin is
// deterministic (a split is exact to a request or two), so this only tolerates the requests in flight at a
// window's edges.
const Z = 4.0

// NewSplit judges window counts against weight/total for version canary.
func NewSplit(window Counts, canary string, weight, total int64) Split {
	s := Split{Weight: weight, Total: total, N: window.Total(), K: window.Served[canary], Counts: window}
	if s.N > 0 {
		p := float64(weight) / float64(total)
		s.Tolerance = (Z*math.Sqrt(float64(s.N)*p*(1-p)) + 0.5) / float64(s.N)
	}
	return s
}

// Share is K/N.
func (s Split) Share() float64 {
	if s.N == 0 {
		return 0
	}
	return float64(s.K) / float64(s.N)
}

// OK tells whether the observed share is within the tolerance of the weight, over a non-empty window with no
// answers that reached no pod; and whether each version that should have had 2 or more of the window's answers
// had any.
// The last rule matters at small weights, where the binomial tolerance alone admits none at all (1% of 600
// requests is 6 ± 9.7 at 4σ): Traefik's weighted round robin is deterministic, so a weighted backend that got
// no request in the window is a wrong split, not bad luck.
func (s Split) OK() bool {
	if s.N == 0 || s.Counts.NoBackend != 0 {
		return false
	}
	p := float64(s.Weight) / float64(s.Total)
	if (float64(s.N)*p >= 2 && s.K == 0) || (float64(s.N)*(1-p) >= 2 && s.K == s.N) {
		return false
	}
	return math.Abs(s.Share()-p) <= s.Tolerance
}

// String renders "weight 10/100: canary served 102 of 1000 = 10.20% (expected 10.00% ± 1.25%, 4σ binomial) ok".
func (s Split) String() string {
	verdict := "OK"
	if !s.OK() {
		verdict = "OUTSIDE THE TOLERANCE"
	}
	return fmt.Sprintf("weight %d/%d: canary served %d of n=%d = %.2f%% (expected %.2f%% ± %.2f%%, %.0fσ binomial) %s [%s]",
		s.Weight, s.Total, s.K, s.N, 100*s.Share(), 100*float64(s.Weight)/float64(s.Total), 100*s.Tolerance, Z, verdict, s.Counts)
}
