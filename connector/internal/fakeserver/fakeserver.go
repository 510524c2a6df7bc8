// Package fakeserver is an in-process stand-in for plugin-server, for the connector's tests. It records every
// request with its metadata and answers as the test tells it.
package fakeserver

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/weighbridge/weighbridge/connector/internal/weighbridgev1"
)

// Call is one request as the server received it.
type Call struct {
	// Method is the RPC name, e.g. "SetWeight".
	Method string
	// Request is the decoded request message.
	Request proto.Message
	// Metadata is the request's gRPC metadata (headers).
	Metadata metadata.MD
}

// Handler decides the answer to a call. Returning (nil, nil) gives the default answer: an empty response,
// VERIFICATION_VERIFIED for VerifyWeight and "Weighbridge" for Type.
type Handler func(ctx context.Context, method string, req proto.Message) (proto.Message, error)

// Server is a fake TrafficRouter service on a loopback TCP listener.
type Server struct {
	pb.UnimplementedTrafficRouterServer

	// Addr is the host:port the server listens on.
	Addr string

	grpcServer *grpc.Server
	mu         sync.Mutex
	calls      []Call
	handler    Handler
}

// Start serves on addr ("127.0.0.1:0" for any free port) with the given server options.
func Start(addr string, opts ...grpc.ServerOption) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake plugin-server cannot listen on %s: %w", addr, err)
	}
	s := &Server{Addr: lis.Addr().String(), grpcServer: grpc.NewServer(opts...)}
	pb.RegisterTrafficRouterServer(s.grpcServer, s)
	go func() { _ = s.grpcServer.Serve(lis) }()
	return s, nil
}

// Stop closes the listener and every connection at once, like a crashed server.
func (s *Server) Stop() { s.grpcServer.Stop() }

// SetHandler replaces the handler for later calls.
func (s *Server) SetHandler(h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Calls returns every call received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Last returns the latest call of method.
func (s *Server) Last(method string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].Method == method {
			return s.calls[i], true
		}
	}
	return Call{}, false
}

// answer records a call and produces the handler's answer, or def.
func answer[T proto.Message](s *Server, ctx context.Context, method string, req proto.Message, def T) (T, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Request: proto.Clone(req), Metadata: md.Copy()})
	h := s.handler
	s.mu.Unlock()
	if h == nil {
		return def, nil
	}
	resp, err := h(ctx, method, req)
	if err != nil {
		var zero T
		return zero, err
	}
	if resp == nil {
		return def, nil
	}
	typed, ok := resp.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("fake plugin-server: handler answered %s with %T", method, resp)
	}
	return typed, nil
}

// InitPlugin implements pb.TrafficRouterServer.
func (s *Server) InitPlugin(ctx context.Context, r *pb.InitPluginRequest) (*pb.InitPluginResponse, error) {
	return answer(s, ctx, "InitPlugin", r, &pb.InitPluginResponse{})
}

// UpdateHash implements pb.TrafficRouterServer.
func (s *Server) UpdateHash(ctx context.Context, r *pb.UpdateHashRequest) (*pb.UpdateHashResponse, error) {
	return answer(s, ctx, "UpdateHash", r, &pb.UpdateHashResponse{})
}

// SetWeight implements pb.TrafficRouterServer.
func (s *Server) SetWeight(ctx context.Context, r *pb.SetWeightRequest) (*pb.SetWeightResponse, error) {
	return answer(s, ctx, "SetWeight", r, &pb.SetWeightResponse{})
}

// SetHeaderRoute implements pb.TrafficRouterServer.
func (s *Server) SetHeaderRoute(ctx context.Context, r *pb.SetHeaderRouteRequest) (*pb.SetHeaderRouteResponse, error) {
	return answer(s, ctx, "SetHeaderRoute", r, &pb.SetHeaderRouteResponse{})
}

// SetMirrorRoute implements pb.TrafficRouterServer.
func (s *Server) SetMirrorRoute(ctx context.Context, r *pb.SetMirrorRouteRequest) (*pb.SetMirrorRouteResponse, error) {
	return answer(s, ctx, "SetMirrorRoute", r, &pb.SetMirrorRouteResponse{})
}

// VerifyWeight implements pb.TrafficRouterServer.
func (s *Server) VerifyWeight(ctx context.Context, r *pb.VerifyWeightRequest) (*pb.VerifyWeightResponse, error) {
	return answer(s, ctx, "VerifyWeight", r,
		&pb.VerifyWeightResponse{Verification: pb.Verification_VERIFICATION_VERIFIED})
}

// RemoveManagedRoutes implements pb.TrafficRouterServer.
func (s *Server) RemoveManagedRoutes(ctx context.Context, r *pb.RemoveManagedRoutesRequest) (*pb.RemoveManagedRoutesResponse, error) {
	return answer(s, ctx, "RemoveManagedRoutes", r, &pb.RemoveManagedRoutesResponse{})
}

// Type implements pb.TrafficRouterServer.
func (s *Server) Type(ctx context.Context, r *pb.TypeRequest) (*pb.TypeResponse, error) {
	return answer(s, ctx, "Type", r, &pb.TypeResponse{Type: "Weighbridge"})
}
