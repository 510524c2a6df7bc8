package podserver

import (
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func pod(name, ip, image string, annotations map[string]string, deleting bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
		Status:     corev1.PodStatus{PodIP: ip},
	}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func newServer(t *testing.T, pods ...*corev1.Pod) *server {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{"ip": func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Status.PodIP}, nil
	}})
	for _, p := range pods {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return &server{pods: idx, counts: map[string]*count{}}
}

func at(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080} }

func TestDecideAnswersAsThePodAtTheLocalAddress(t *testing.T) {
	s := newServer(t,
		pod("old", "10.244.0.7", "r/app:v1", nil, true),
		pod("new", "10.244.0.7", "r/app:v2", nil, false),
		pod("other", "10.244.0.8", "r/app:v3", nil, false))
	if a := s.decide(at("10.244.0.7"), "http", ErrorRateAnnotation); a.pod == nil || a.pod.Name != "new" || a.version != "v2" {
		t.Errorf("at a reused IP the live pod must answer, got %+v", a)
	}
	if a := s.decide(at("10.244.0.8"), "http", ErrorRateAnnotation); a.version != "v3" || a.fail {
		t.Errorf("a pod without an error rate answers healthily as its image tag, got %+v", a)
	}
	if a := s.decide(at("10.244.9.9"), "http", ErrorRateAnnotation); a.pod != nil {
		t.Errorf("no pod has 10.244.9.9, got %+v", a)
	}
}

func TestDecideSpreadsFailuresEvenlyPerProtocol(t *testing.T) {
	s := newServer(t, pod("p", "10.244.0.9", "r/app:bad", map[string]string{
		ErrorRateAnnotation: "0.25", GRPCErrorRateAnnotation: "0.5"}, false))
	failed := map[string]int{}
	for i := 0; i < 100; i++ {
		if s.decide(at("10.244.0.9"), "http", ErrorRateAnnotation).fail {
			failed["http"]++
		}
		if s.decide(at("10.244.0.9"), "grpc", GRPCErrorRateAnnotation).fail {
			failed["grpc"]++
		}
	}
	if failed["http"] != 25 || failed["grpc"] != 50 {
		t.Errorf("after 100 requests each: want 25 HTTP and 50 gRPC failures, got %v", failed)
	}
}
