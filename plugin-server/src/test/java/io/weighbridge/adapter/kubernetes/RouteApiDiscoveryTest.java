package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.weighbridge.adapter.kubernetes.RouteApiDiscovery.Served;
import io.weighbridge.domain.routing.RouteKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RouteApiDiscoveryTest {

  /** A cluster whose served versions the test can change; counts discovery rounds. */
  private static final class FakeCluster implements RouteApiDiscovery.Source {
    Map<String, List<String>> kindsByVersion = new LinkedHashMap<>();
    final AtomicInteger groupReads = new AtomicInteger();

    FakeCluster serve(String version, String... kinds) {
      kindsByVersion.put(version, List.of(kinds));
      return this;
    }

    @Override
    public Optional<List<String>> versions(String group) {
      groupReads.incrementAndGet();
      return kindsByVersion.isEmpty()
          ? Optional.empty()
          : Optional.of(new ArrayList<>(kindsByVersion.keySet()));
    }

    @Override
    public List<APIResource> resources(String groupVersion) {
      String version = groupVersion.substring(groupVersion.indexOf('/') + 1);
      List<APIResource> out = new ArrayList<>();
      for (String kind : kindsByVersion.getOrDefault(version, List.of())) {
        String plural = kind.toLowerCase() + "s";
        out.add(resource(plural, kind));
        out.add(resource(plural + "/status", kind));
      }
      return out;
    }

    private static APIResource resource(String name, String kind) {
      return new APIResourceBuilder().withName(name).withKind(kind).withNamespaced(true).build();
    }
  }

  private final AtomicLong clock = new AtomicLong();

  private RouteApiDiscovery discovery(FakeCluster cluster) {
    return new RouteApiDiscovery(cluster, Duration.ofSeconds(30), clock::get);
  }

  private static String version(RouteApiDiscovery d, RouteKind kind) {
    return d.resolve(kind).map(Served::apiVersion).orElse("none");
  }

  @Test
  @DisplayName(
      "When Gateway API v1.5.1 experimental is installed, then each kind gets its best version")
  void current() {
    var d =
        discovery(
            new FakeCluster()
                .serve("v1", "HTTPRoute", "GRPCRoute", "TLSRoute", "Gateway")
                .serve("v1beta1", "HTTPRoute")
                .serve("v1alpha3", "TLSRoute")
                .serve("v1alpha2", "TCPRoute", "TLSRoute", "UDPRoute"));

    assertThat(version(d, RouteKind.HTTP)).isEqualTo("gateway.networking.k8s.io/v1");
    assertThat(version(d, RouteKind.GRPC)).isEqualTo("gateway.networking.k8s.io/v1");
    assertThat(version(d, RouteKind.TLS)).isEqualTo("gateway.networking.k8s.io/v1");
    assertThat(version(d, RouteKind.TCP)).isEqualTo("gateway.networking.k8s.io/v1alpha2");
    Served tcp = d.resolve(RouteKind.TCP).orElseThrow();
    assertThat(tcp.context().getPlural()).isEqualTo("tcproutes");
    assertThat(tcp.context().getGroup()).isEqualTo("gateway.networking.k8s.io");
    assertThat(tcp.context().isNamespaceScoped()).isTrue();
  }

  @Test
  @DisplayName(
      "When Gateway API v1.0.0 is installed (Linkerd 2.15-2.17), then GRPCRoute is v1alpha2")
  void linkerdEra() {
    var d =
        discovery(
            new FakeCluster()
                .serve("v1alpha2", "GRPCRoute", "TCPRoute", "TLSRoute")
                .serve("v1beta1", "HTTPRoute")
                .serve("v1", "HTTPRoute"));

    assertThat(version(d, RouteKind.GRPC)).isEqualTo("gateway.networking.k8s.io/v1alpha2");
    assertThat(version(d, RouteKind.HTTP)).isEqualTo("gateway.networking.k8s.io/v1");
  }

  @Test
  @DisplayName("When HTTPRoute is served only as v1beta1, then v1beta1 is used")
  void betaOnly() {
    var d = discovery(new FakeCluster().serve("v1beta1", "HTTPRoute"));

    assertThat(version(d, RouteKind.HTTP)).isEqualTo("gateway.networking.k8s.io/v1beta1");
    assertThat(d.resolve(RouteKind.GRPC)).isEmpty();
  }

  @Test
  @DisplayName("When a kind is missing, then discovery repeats at most once per interval")
  void rediscoveryIsBounded() {
    FakeCluster cluster = new FakeCluster().serve("v1", "HTTPRoute");
    var d = discovery(cluster);

    assertThat(d.resolve(RouteKind.TCP)).isEmpty();
    assertThat(d.resolve(RouteKind.TCP)).isEmpty();
    assertThat(cluster.groupReads).hasValue(1);

    cluster.serve("v1alpha2", "TCPRoute"); // CRDs installed later
    clock.addAndGet(Duration.ofSeconds(29).toNanos());
    assertThat(d.resolve(RouteKind.TCP)).isEmpty();
    assertThat(cluster.groupReads).hasValue(1);

    clock.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThat(version(d, RouteKind.TCP)).isEqualTo("gateway.networking.k8s.io/v1alpha2");
    assertThat(cluster.groupReads).hasValue(2);

    clock.addAndGet(Duration.ofHours(1).toNanos());
    assertThat(version(d, RouteKind.HTTP)).isEqualTo("gateway.networking.k8s.io/v1");
    assertThat(cluster.groupReads).as("known kinds need no discovery").hasValue(2);
  }

  @Test
  @DisplayName("When the group is not served at all, then no kind resolves")
  void noGatewayApi() {
    var d = discovery(new FakeCluster());

    for (RouteKind kind : RouteKind.values()) {
      assertThat(d.resolve(kind)).isEmpty();
    }
  }

  @Test
  @DisplayName("When a kind is forgotten, then the next resolve after the interval looks again")
  void forget() {
    FakeCluster cluster = new FakeCluster().serve("v1beta1", "HTTPRoute");
    var d = discovery(cluster);
    assertThat(version(d, RouteKind.HTTP)).endsWith("/v1beta1");

    cluster.kindsByVersion = new LinkedHashMap<>();
    cluster.serve("v1", "HTTPRoute"); // CRD upgraded, v1beta1 no longer served
    d.forget(RouteKind.HTTP);
    clock.addAndGet(Duration.ofSeconds(31).toNanos());

    assertThat(version(d, RouteKind.HTTP)).endsWith("/v1");
  }
}
