package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.EngineSupport.weights;
import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.domain.Rollout;
import io.weighbridge.testkit.TestNamespace;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Every route kind a Gateway API bundle serves, at the version it serves, moved by one Rollout: the
 * same test on each bundle Weighbridge supports (subclasses name the bundle with
 * {@code @WithKubeApiServer}: v1.0.0, v1.2.1, v1.5.1 experimental and v1.6.3 standard, which serves
 * TCPRoute and UDPRoute only as {@code v1}).
 */
abstract class RouteKindMatrix {

  /** Versions in the order the engine prefers them. */
  private static final List<String> VERSIONS = List.of("v1", "v1beta1", "v1alpha3", "v1alpha2");

  private EngineSupport e;
  private String ns;

  /** Every kind: each supported bundle serves all five (a missing one fails, never skips). */
  private static List<RouteKind> expectedKinds() {
    return List.of(RouteKind.values());
  }

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    ns = namespace.name();
    e = new EngineSupport(client, ns);
  }

  @AfterEach
  void tearDown() throws Exception {
    e.close();
  }

  /** The preferred served version of every route kind, from the API server's discovery. */
  private Map<RouteKind, String> served() {
    Map<RouteKind, String> found = new EnumMap<>(RouteKind.class);
    for (String version : VERSIONS) {
      APIResourceList list;
      try {
        list = e.admin.getApiResources(GROUP + "/" + version);
      } catch (RuntimeException notServed) {
        continue;
      }
      if (list == null) {
        continue;
      }
      for (APIResource resource : list.getResources()) {
        for (RouteKind kind : RouteKind.values()) {
          if (kind.kind().equals(resource.getKind()) && !resource.getName().contains("/")) {
            found.putIfAbsent(kind, GROUP + "/" + version);
          }
        }
      }
    }
    return found;
  }

  private static ObjectNode fixture(RouteKind kind) {
    return switch (kind) {
      case HTTP -> Fixtures.exampleRoute("traefik/httproute.yml");
      case GRPC -> Fixtures.grpcRoute();
      case TCP -> Fixtures.tcpRoute();
      case TLS -> Fixtures.tlsRoute();
      case UDP -> Fixtures.udpRoute();
    };
  }

  private static String key(RouteKind kind) {
    return switch (kind) {
      case HTTP -> "httpRoute";
      case GRPC -> "grpcRoute";
      case TCP -> "tcpRoute";
      case TLS -> "tlsRoute";
      case UDP -> "udpRoute";
    };
  }

  @Test
  @DisplayName(
      "When one Rollout names every route kind the bundle serves, then each carries the weights"
          + " and goes back to stable")
  void everyServedKindCarriesTheWeights() {
    Map<RouteKind, String> served = served();
    assertThat(served.keySet()).containsAll(expectedKinds());
    Map<RouteKind, String> names = new EnumMap<>(RouteKind.class);
    StringJoiner config = new StringJoiner(", ", "{", "}");
    for (RouteKind kind : expectedKinds()) {
      ObjectNode route = fixture(kind);
      route.put("apiVersion", served.get(kind));
      e.create(route);
      String name = route.at("/metadata/name").asText();
      names.put(kind, name);
      config.add("'" + key(kind) + "': '" + name + "'");
    }
    Rollout rollout = Fixtures.rollout().namespace(ns).plugin(config.toString()).build();

    e.router.setWeight(CALLER, rollout, 25, List.of());

    for (RouteKind kind : expectedKinds()) {
      assertThat(weights(e.get(served.get(kind), kind.kind(), ns, names.get(kind)), 0))
          .as("%s at %s", kind.kind(), served.get(kind))
          .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
    }

    e.router.setWeight(CALLER, rollout, 0, List.of());

    for (RouteKind kind : expectedKinds()) {
      assertThat(weights(e.get(served.get(kind), kind.kind(), ns, names.get(kind)), 0))
          .as("%s at %s", kind.kind(), served.get(kind))
          .containsExactly(entry(STABLE, 100), entry(CANARY, 0));
    }
  }
}
