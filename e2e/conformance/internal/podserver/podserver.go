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
//
// On GRPCListenEnv (default ":9000", the pods' gRPC port) the same process serves gRPC (h2c) as every pod: the
// standard health service (grpc.health.v1.Health/Check) answers SERVING, or fails with UNAVAILABLE for the share
// of calls the pod's GRPCErrorRateAnnotation names (evenly spread the same way). Its response header metadata
// carries the version and pod (GRPCVersionKey, GRPCPodKey).
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

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
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

// ErrorRateAnnotation on a pod (from its template) is the share of HTTP requests, 0..1, the pod fails with 503.
const ErrorRateAnnotation = "e2e.weighbridge.io/error-rate"

// GRPCErrorRateAnnotation on a pod (from its template) is the share of gRPC calls, 0..1, the pod fails with
// UNAVAILABLE (the HTTP answer stays 200, as gRPC's does: only the grpc-status trailer tells).
const GRPCErrorRateAnnotation = "e2e.weighbridge.io/grpc-error-rate"

// GRPCListenEnv is the address list the pod server serves gRPC on (comma-separated, default ":9000").
const GRPCListenEnv = "WEIGHBRIDGE_PODSERVER_GRPC_LISTEN"

// Response header metadata of every gRPC answer.
const (
	GRPCVersionKey = "x-weighbridge-version"
	GRPCPodKey     = "x-weighbridge-pod"
)

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
	grpcListen := os.Getenv(GRPCListenEnv)
	if grpcListen == "" {
		grpcListen = ":9000"
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := Run(ctx, kubeconfig, strings.Split(listen, ","), strings.Split(grpcListen, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "podserver: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run serves HTTP on addrs and gRPC on grpcAddrs until ctx ends.
func Run(ctx context.Context, kubeconfig string, addrs, grpcAddrs []string) error {
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
	errs := make(chan error, len(addrs)+len(grpcAddrs))
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
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, &grpcHealth{s: s})
	defer g.Stop()
	for _, addr := range grpcAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		go func() { errs <- g.Serve(l) }()
	}
	fmt.Fprintf(os.Stderr, "podserver: serving the pods' IPs: HTTP on %v, gRPC on %v\n", addrs, grpcAddrs)
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
	counts map[string]*count // by protocol and pod IP
}

// answer is what the pod at a local address does with one request of protocol ("http" or "grpc").
type answer struct {
	ip      string      // the local address's IP
	pod     *corev1.Pod // nil: no pod has ip
	version string
	rate    float64
	fail    bool
}

// decide finds the pod at local and decides whether this request fails (nil pod: no pod has that IP).
func (s *server) decide(local net.Addr, protocol, rateAnnotation string) answer {
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
		return answer{ip: ip}
	}
	a := answer{ip: ip, pod: pod, version: "unknown"}
	if cs := pod.Spec.Containers; len(cs) > 0 {
		a.version = cs[0].Image[strings.LastIndex(cs[0].Image, ":")+1:]
	}
	a.rate, _ = strconv.ParseFloat(pod.Annotations[rateAnnotation], 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := protocol + " " + ip
	c := s.counts[key]
	if c == nil {
		c = &count{}
		s.counts[key] = c
	}
	c.served++
	// Evenly spread failures: fail when the failures so far fall behind served * rate.
	if float64(c.failed+1) <= float64(c.served)*a.rate+1e-9 {
		c.failed++
		a.fail = true
	}
	return a
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	a := s.decide(local, "http", ErrorRateAnnotation)
	if a.pod == nil {
		http.Error(w, fmt.Sprintf("podserver: no pod has IP %s", a.ip), http.StatusNotFound)
		return
	}
	w.Header().Set(VersionHeader, a.version)
	w.Header().Set(PodHeader, a.pod.Namespace+"/"+a.pod.Name)
	if a.fail {
		http.Error(w, fmt.Sprintf("%s (pod %s) fails %.0f%% of its requests", a.version, a.pod.Name, 100*a.rate), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%s (pod %s/%s at %s)\n", a.version, a.pod.Namespace, a.pod.Name, a.ip)
}

// grpcHealth is the standard gRPC health service, answered as the pod at the connection's local address.
type grpcHealth struct {
	healthpb.UnimplementedHealthServer
	s *server
}

func (h *grpcHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	var local net.Addr
	if p, ok := peer.FromContext(ctx); ok {
		local = p.LocalAddr
	}
	a := h.s.decide(local, "grpc", GRPCErrorRateAnnotation)
	if a.pod == nil {
		return nil, status.Errorf(codes.NotFound, "podserver: no pod has IP %s", a.ip)
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(GRPCVersionKey, a.version, GRPCPodKey, a.pod.Namespace+"/"+a.pod.Name))
	if a.fail {
		return nil, status.Errorf(codes.Unavailable, "%s (pod %s) fails %.0f%% of its gRPC calls", a.version, a.pod.Name, 100*a.rate)
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}
