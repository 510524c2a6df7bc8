// Package podserver is the real backend behind the sample app's pods in `make demo` and `make e2e`: one process
// (the harness re-executes its own binary, see Run) that serves every KWOK pod at the pod's own IP address.
//
// KWOK gives each pod an address from the cluster's pod CIDR; inside the harness's network namespace
// `ip route add local <cidr> dev lo` makes every such address local, so Traefik's connection to a pod IP (taken
// from the EndpointSlices that kube-controller-manager writes) lands on this process's wildcard listener. The
// process looks the pod up by the connection's local address and answers as that pod: its version is the tag of
// the pod's first container image, and it fails the share of requests its template's ErrorRateAnnotation
// names (evenly spread, not random: after n requests a pod has failed round(n * rate) of them). Every answer
// carries VersionHeader and PodHeader, so a client sees which version and pod served it.
package podserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Env, when set in the environment of the harness's own binary, makes it run the pod server (Run) instead of
// its usual main: its value is the kubeconfig.
const Env = "WEIGHBRIDGE_PODSERVER_KUBECONFIG"

// ListenEnv is the address list the pod server listens on (comma-separated, default ":8080").
const ListenEnv = "WEIGHBRIDGE_PODSERVER_LISTEN"

// ErrorRateAnnotation on a pod (from its template) is the share of requests, 0..1, the pod fails with 503.
const ErrorRateAnnotation = "e2e.weighbridge.io/error-rate"

// Headers of every answer.
const (
	VersionHeader = "X-Weighbridge-Version"
	PodHeader     = "X-Weighbridge-Pod"
)

// MaybeRun runs the pod server and exits when Env is set; otherwise it returns at once. Mains call it first.
func MaybeRun() {
	kubeconfig := os.Getenv(Env)
	if kubeconfig == "" {
		return
	}
	listen := os.Getenv(ListenEnv)
	if listen == "" {
		listen = ":8080"
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := Run(ctx, kubeconfig, strings.Split(listen, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "podserver: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run serves until ctx ends.
func Run(ctx context.Context, kubeconfig string, addrs []string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(kube, 0)
	pods := factory.Core().V1().Pods().Informer()
	if err := pods.AddIndexers(cache.Indexers{"ip": func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Status.PodIP != "" {
			return []string{p.Status.PodIP}, nil
		}
		return nil, nil
	}}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		return errors.New("pod informer did not sync")
	}
	s := &server{pods: pods.GetIndexer(), counts: map[string]*count{}}
	errs := make(chan error, len(addrs))
	var servers []*http.Server
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() { errs <- srv.Serve(l) }()
	}
	fmt.Fprintf(os.Stderr, "podserver: serving the pods' IPs on %v\n", addrs)
	select {
	case <-ctx.Done():
	case err := <-errs:
		return err
	}
	for _, srv := range servers {
		_ = srv.Close()
	}
	return nil
}

type count struct{ served, failed int64 }

type server struct {
	pods   cache.Indexer
	mu     sync.Mutex
	counts map[string]*count // by pod IP
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	ip := ""
	if tcp, ok := local.(*net.TCPAddr); ok {
		ip = tcp.IP.String()
	}
	objs, _ := s.pods.ByIndex("ip", ip)
	var pod *corev1.Pod
	for _, o := range objs { // KWOK may hand a deleted pod's IP to a new one: prefer the live pod
		if p := o.(*corev1.Pod); pod == nil || (pod.DeletionTimestamp != nil && p.DeletionTimestamp == nil) {
			pod = p
		}
	}
	if pod == nil {
		http.Error(w, fmt.Sprintf("podserver: no pod has IP %s", ip), http.StatusNotFound)
		return
	}
	version := "unknown"
	if cs := pod.Spec.Containers; len(cs) > 0 {
		version = cs[0].Image[strings.LastIndex(cs[0].Image, ":")+1:]
	}
	rate, _ := strconv.ParseFloat(pod.Annotations[ErrorRateAnnotation], 64)
	s.mu.Lock()
	c := s.counts[ip]
	if c == nil {
		c = &count{}
		s.counts[ip] = c
	}
	c.served++
	// Evenly spread failures: fail when the failures so far fall behind served * rate.
	fail := float64(c.failed+1) <= float64(c.served)*rate+1e-9
	if fail {
		c.failed++
	}
	s.mu.Unlock()
	w.Header().Set(VersionHeader, version)
	w.Header().Set(PodHeader, pod.Namespace+"/"+pod.Name)
	if fail {
		http.Error(w, fmt.Sprintf("%s (pod %s) fails %.0f%% of its requests", version, pod.Name, 100*rate), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%s (pod %s/%s at %s)\n", version, pod.Namespace, pod.Name, ip)
}
