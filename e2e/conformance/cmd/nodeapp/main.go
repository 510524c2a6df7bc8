// Command nodeapp is the sample application of the real-node end-to-end test (make e2e-node): an HTTP server
// that answers every request with its version and pod name, and with 500 for the share of requests given by
// ERROR_RATE (0..1), so that a bad version shows in the proxy's metrics. It runs as the only binary of its image.
//
//	VERSION     what it answers ("v1" when unset)
//	ERROR_RATE  share of requests answered 500 (0 when unset)
//	PORT        listening port (8080 when unset)
//
// `nodeapp get URL` instead fetches URL once, prints the status and body and exits 0 on a 2xx answer (a pod that
// checks what another pod sees).
package main

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		get(os.Args[2])
		return
	}
	version := env("VERSION", "v1")
	pod := env("POD_NAME", "unknown")
	rate, err := strconv.ParseFloat(env("ERROR_RATE", "0"), 64)
	if err != nil || rate < 0 || rate > 1 {
		log.Fatalf("ERROR_RATE %q: want a number from 0 to 1", os.Getenv("ERROR_RATE"))
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Version", version)
		if rand.Float64() < rate {
			http.Error(w, version+" "+pod+" failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %s\n", version, pod)
	})
	addr := ":" + env("PORT", "8080")
	log.Printf("nodeapp %s listening on %s", version, addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func get(url string) {
	resp, err := http.Get(url)
	if err != nil {
		log.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("GET %s: %s: %s", url, resp.Status, body)
	if resp.StatusCode/100 != 2 {
		os.Exit(1)
	}
}
