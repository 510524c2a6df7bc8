package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ObservedRouteMemoTest {

  private final ObservedRouteMemo memo = new ObservedRouteMemo();
  private final AtomicInteger conversions = new AtomicInteger();

  private ObservedRoute observe(GenericKubernetesResource r) {
    return memo.observe(
        RouteKind.HTTP,
        r,
        fresh -> {
          conversions.incrementAndGet();
          return new ObservedRoute(
              new RouteId(
                  RouteKind.HTTP,
                  fresh.getMetadata().getNamespace(),
                  fresh.getMetadata().getName()),
              fresh.getApiVersion(),
              1,
              fresh.getMetadata().getResourceVersion(),
              RouteFixtures.toJson(fresh));
        });
  }

  private static GenericKubernetesResource route(String apiVersion, String name, String rv) {
    GenericKubernetesResource r =
        RouteFixtures.httpRoute(apiVersion, "shop", name, Map.of(), false);
    r.getMetadata().setResourceVersion(rv);
    return r;
  }

  @Nested
  @DisplayName("When the same route is observed again")
  class SameRoute {

    @Test
    @DisplayName("at the same resourceVersion, then the first conversion is reused")
    void sameVersionIsReused() {
      ObservedRoute first = observe(route("gateway.networking.k8s.io/v1", "web", "7"));
      ObservedRoute second = observe(route("gateway.networking.k8s.io/v1", "web", "7"));

      assertThat(second).isSameAs(first);
      assertThat(conversions).hasValue(1);
    }

    @Test
    @DisplayName("at another resourceVersion, then it is converted afresh and that is remembered")
    void newVersionIsConverted() {
      observe(route("gateway.networking.k8s.io/v1", "web", "7"));
      ObservedRoute newer = observe(route("gateway.networking.k8s.io/v1", "web", "8"));

      assertThat(newer.resourceVersion()).isEqualTo("8");
      assertThat(observe(route("gateway.networking.k8s.io/v1", "web", "8"))).isSameAs(newer);
      assertThat(conversions).hasValue(2);
    }

    @Test
    @DisplayName("read with another apiVersion, then it is converted afresh")
    void otherApiVersionIsConverted() {
      observe(route("gateway.networking.k8s.io/v1", "web", "7"));
      ObservedRoute beta = observe(route("gateway.networking.k8s.io/v1beta1", "web", "7"));

      assertThat(beta.apiVersion()).isEqualTo("gateway.networking.k8s.io/v1beta1");
      assertThat(conversions).hasValue(2);
    }
  }

  @Nested
  @DisplayName("When other routes are observed")
  class OtherRoutes {

    @Test
    @DisplayName("with the same resourceVersion, then each route keeps its own conversion")
    void keyedByRoute() {
      ObservedRoute web = observe(route("gateway.networking.k8s.io/v1", "web", "7"));
      ObservedRoute api = observe(route("gateway.networking.k8s.io/v1", "api", "7"));

      assertThat(api).isNotSameAs(web);
      assertThat(api.id().name()).isEqualTo("api");
      assertThat(memo.size()).isEqualTo(2);
    }

    @Test
    @DisplayName("beyond the bound, then the memo starts afresh instead of growing")
    void bounded() {
      for (int i = 0; i <= ObservedRouteMemo.MAX_ROUTES; i++) {
        observe(route("gateway.networking.k8s.io/v1", "r" + i, "1"));
      }

      assertThat(memo.size()).isLessThanOrEqualTo(ObservedRouteMemo.MAX_ROUTES);
    }
  }
}
