package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	"golang.org/x/net/dns/dnsmessage"
)

// NodeDNSServer stands in for the cluster DNS (CoreDNS), which cannot be built here: its Go module is not served by
// the module proxy this machine reaches. It answers UDP A queries for <service>.<namespace>.svc.cluster.local with
// the Service's ClusterIP (headless Services: their ready endpoints' addresses), NXDOMAIN for other names in
// cluster.local, and REFUSED for names outside it (nothing outside the node's namespace exists).
type NodeDNSServer struct {
	conn   net.PacketConn
	cancel context.CancelFunc
	svcs   corelisters.ServiceLister
	slices informers.SharedInformerFactory
	// Queries counts the questions answered.
	Queries atomic.Int64
}

// StartNodeDNS listens on addr (udp) and serves from an informer of every namespace's Services and EndpointSlices.
func StartNodeDNS(ctx context.Context, kube kubernetes.Interface, addr string, logf func(string, ...any)) (*NodeDNSServer, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS stand-in: listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(kube, 0)
	d := &NodeDNSServer{conn: conn, cancel: cancel, svcs: factory.Core().V1().Services().Lister(), slices: factory}
	factory.Discovery().V1().EndpointSlices().Informer()
	factory.Start(ctx.Done())
	synced, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	for typ, ok := range factory.WaitForCacheSync(synced.Done()) {
		if !ok {
			cancel()
			conn.Close()
			return nil, fmt.Errorf("cluster DNS stand-in: %v informer did not sync", typ)
		}
	}
	go d.serve(logf)
	return d, nil
}

// Stop closes the socket and the informers.
func (d *NodeDNSServer) Stop() {
	d.cancel()
	d.conn.Close()
}

func (d *NodeDNSServer) serve(logf func(string, ...any)) {
	buf := make([]byte, 1500)
	for {
		size, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		answer, err := d.answer(buf[:size])
		if err != nil {
			logf("node: cluster DNS stand-in: %v", err)
			continue
		}
		d.Queries.Add(1)
		_, _ = d.conn.WriteTo(answer, from)
	}
}

func (d *NodeDNSServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	header, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	question, err := p.Question()
	if err != nil {
		return nil, err
	}
	reply := dnsmessage.Header{ID: header.ID, Response: true, Authoritative: true, RecursionDesired: header.RecursionDesired}
	name := strings.ToLower(question.Name.String())
	ips, known := d.lookup(name)
	switch {
	case !strings.HasSuffix(name, ".cluster.local."):
		reply.RCode = dnsmessage.RCodeRefused
	case !known:
		reply.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, reply)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(question); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if question.Type == dnsmessage.TypeA {
		for _, ip := range ips {
			var a [4]byte
			copy(a[:], ip.To4())
			h := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(h, dnsmessage.AResource{A: a}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// lookup resolves <service>.<namespace>.svc.cluster.local.; known is false for a name that does not exist.
func (d *NodeDNSServer) lookup(name string) (ips []net.IP, known bool) {
	labelsOf := strings.Split(strings.TrimSuffix(name, ".svc.cluster.local."), ".")
	if !strings.HasSuffix(name, ".svc.cluster.local.") || len(labelsOf) != 2 {
		return nil, false
	}
	svc, err := d.svcs.Services(labelsOf[1]).Get(labelsOf[0])
	if err != nil {
		return nil, false
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return []net.IP{net.ParseIP(svc.Spec.ClusterIP)}, true
	}
	slices, _ := d.slices.Discovery().V1().EndpointSlices().Lister().EndpointSlices(svc.Namespace).List(
		labels.SelectorFromSet(labels.Set{"kubernetes.io/service-name": svc.Name}))
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				ips = append(ips, net.ParseIP(a))
			}
		}
	}
	return ips, true
}
