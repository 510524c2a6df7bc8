package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Analysis is the analyzer's entry for one Rollout, from plugin-server's GET /api/v1/analyses.
type Analysis struct {
	Namespace string `json:"namespace"`
	Rollout   string `json:"rollout"`
	Phase     string `json:"phase"`
	Verdict   struct {
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
	} `json:"verdict"`
}

var analysesClient = &http.Client{Timeout: time.Second}

// Analysis reads the analyzer's entry for Rollout ns/name; false when there is none (or no analyzer).
func (c *Cluster) Analysis(ns, name string) (Analysis, bool) {
	if c.NoAnalyzer != "" {
		return Analysis{}, false
	}
	resp, err := analysesClient.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/analyses", c.HTTPPort))
	if err != nil {
		return Analysis{}, false
	}
	defer resp.Body.Close()
	var body struct {
		Analyses []Analysis `json:"analyses"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return Analysis{}, false
	}
	for _, a := range body.Analyses {
		if a.Namespace == ns && a.Rollout == name {
			return a, true
		}
	}
	return Analysis{}, false
}
