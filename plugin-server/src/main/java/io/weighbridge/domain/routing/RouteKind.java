package io.weighbridge.domain.routing;

/** The Gateway API route kinds Weighbridge routes traffic on. */
public enum RouteKind {
  /** HTTPRoute (gateway.networking.k8s.io). */
  HTTP("HTTPRoute"),
  /** GRPCRoute (gateway.networking.k8s.io). */
  GRPC("GRPCRoute"),
  /** TCPRoute (gateway.networking.k8s.io, experimental channel; standard from v1.6). */
  TCP("TCPRoute"),
  /** TLSRoute (gateway.networking.k8s.io, experimental channel; standard from v1.5). */
  TLS("TLSRoute"),
  /** UDPRoute (gateway.networking.k8s.io, experimental channel; standard from v1.6). */
  UDP("UDPRoute");

  /** The API group of every route kind. */
  public static final String GROUP = "gateway.networking.k8s.io";

  private final String kind;

  RouteKind(String kind) {
    this.kind = kind;
  }

  /** The Kubernetes kind, e.g. {@code HTTPRoute}. */
  public String kind() {
    return kind;
  }
}
