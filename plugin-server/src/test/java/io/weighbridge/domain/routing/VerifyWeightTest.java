package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.WeightDestination;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class VerifyWeightTest {
  private static final String TRAEFIK = "traefik.io/gateway-controller";
  private final RouterHarness h = new RouterHarness();
  private final Rollout shop = rollout("{'httpRoute': 'shop'}");

  @AfterEach
  void tearDown() {
    h.close();
  }

  private VerifyResult verify(Rollout r, int weight) {
    return h.router.verifyWeight(CALLER, r, weight, List.of());
  }

  @Test
  @DisplayName("When the spec carries the weights and the parent accepted them, then Verified")
  void verified() {
    RouteId id = h.cluster.put(Fixtures.richHttpRoute());
    h.router.setWeight(CALLER, shop, 30, List.of());
    h.cluster.acceptAllParents(id, TRAEFIK);

    assertThat(verify(shop, 30)).isEqualTo(VerifyResult.verified());
    assertThat(h.metrics.events).contains("verify VERIFIED VERIFIED");
  }

  @Test
  @DisplayName("When the spec lacks the weights, then NotVerified says which backend and rule")
  void specMismatch() {
    RouteId id = h.cluster.put(Fixtures.richHttpRoute());
    h.router.setWeight(CALLER, shop, 30, List.of());
    h.cluster.acceptAllParents(id, TRAEFIK);

    VerifyResult r = verify(shop, 40);

    assertThat(r.verification()).isEqualTo(Verification.NOT_VERIFIED);
    assertThat(r.reason())
        .startsWith(
            "HTTPRoute default/shop does not carry the desired weights yet: rule 0: canary backend"
                + " argo-rollouts-canary-service has weight 30, want 40; rule 0: stable backend");
    assertThat(r.reason()).contains("and 1 more");
    assertThat(h.metrics.events).contains("verify NOT_VERIFIED SPEC_MISMATCH");
  }

  @Test
  @DisplayName("When an experiment backend is missing, then NotVerified")
  void experimentMissing() {
    RouteId id = h.cluster.put(Fixtures.richHttpRoute());
    h.router.setWeight(CALLER, shop, 30, List.of());
    h.cluster.acceptAllParents(id, TRAEFIK);

    VerifyResult r =
        h.router.verifyWeight(CALLER, shop, 20, List.of(new WeightDestination("exp", "h", 10)));

    assertThat(r.verification()).isEqualTo(Verification.NOT_VERIFIED);
    assertThat(r.reason()).contains("experiment backend default/exp missing (want weight 10)");
  }

  @Test
  @DisplayName(
      "When the controller has not seen our write yet, then NotVerified (stale generation)")
  void staleGeneration() {
    RouteId id = h.cluster.put(Fixtures.richHttpRoute());
    h.cluster.acceptAllParents(id, TRAEFIK);
    h.router.setWeight(CALLER, shop, 30, List.of());

    VerifyResult r = verify(shop, 30);

    assertThat(r.reason())
        .isEqualTo(
            "traefik.io/gateway-controller has not yet processed generation 4 of HTTPRoute"
                + " default/shop for parent Gateway default/traefik-gateway (its Accepted"
                + " condition is for generation 3)");
    assertThat(h.metrics.events).contains("verify NOT_VERIFIED STALE_GENERATION");
  }

  @Test
  @DisplayName("When the parent does not accept the route, then NotVerified with its reason")
  void notAccepted() {
    RouteId id = h.cluster.put(Fixtures.richHttpRoute());
    h.router.setWeight(CALLER, shop, 30, List.of());
    h.cluster.acceptAllParents(id, TRAEFIK);
    h.cluster.update(
        id,
        r -> {
          ObjectNode c =
              (ObjectNode) r.path("status").path("parents").get(0).path("conditions").get(0);
          c.put("status", "False").put("reason", "NotAllowedByListeners").put("message", "no");
        });

    assertThat(verify(shop, 30).reason())
        .isEqualTo(
            "traefik.io/gateway-controller does not accept HTTPRoute default/shop on parent"
                + " Gateway default/traefik-gateway: Accepted=False reason NotAllowedByListeners:"
                + " no");
  }

  @Test
  @DisplayName("When no controller wrote status, then NotVerified naming the fix")
  void statusMissing() {
    h.cluster.put(Fixtures.richHttpRoute());
    h.router.setWeight(CALLER, shop, 30, List.of());

    VerifyResult r = verify(shop, 30);

    assertThat(r.reason())
        .isEqualTo(
            "no controller has reported status for parent Gateway default/traefik-gateway of"
                + " HTTPRoute default/shop yet; if no controller ever writes route status for this"
                + " parent (check status.parents), set verifyWeight: \"spec\" for this route");
  }

  @Test
  @DisplayName("When one of two parents has no status, then NotVerified names that parent")
  void oneOfTwoParents() {
    ObjectNode route = Fixtures.richHttpRoute();
    ((ArrayNode) route.path("spec").path("parentRefs"))
        .add(obj("{'name': 'internal', 'sectionName': 'http'}"));
    RouteId id = h.cluster.put(route);
    h.router.setWeight(CALLER, shop, 30, List.of());
    h.cluster.acceptAllParents(id, TRAEFIK);
    h.cluster.update(id, r -> ((ArrayNode) r.path("status").path("parents")).remove(1));

    assertThat(verify(shop, 30).reason())
        .startsWith(
            "no controller has reported status for parent Gateway default/internal section http");
  }

  @Test
  @DisplayName(
      "When a GAMMA route's mesh reports group \"\" for a \"core\" parent, then it matches")
  void gammaServiceParent() {
    RouteId id = h.cluster.put(Fixtures.exampleRoute("linkerd/httproute.yaml"));
    Rollout r = rollout("{'httpRoute': 'argo-rollouts-http-route'}");
    h.router.setWeight(CALLER, r, 30, List.of());
    h.cluster.acceptAllParents(id, "linkerd.io/policy-controller");
    h.cluster.update(
        id,
        route ->
            ((ObjectNode) route.path("status").path("parents").get(0).path("parentRef"))
                .put("group", ""));

    assertThat(verify(r, 30)).isEqualTo(VerifyResult.verified());
  }

  @Test
  @DisplayName("When verifyWeight is spec, then status is not needed")
  void specMode() {
    h.cluster.put(Fixtures.richHttpRoute());
    Rollout r = rollout("{'httpRoute': 'shop', 'verifyWeight': 'spec'}");
    h.router.setWeight(CALLER, r, 30, List.of());

    assertThat(verify(r, 30)).isEqualTo(VerifyResult.verified());
  }

  @Test
  @DisplayName("When verifyWeight is off, then NotImplemented (and only then)")
  void off() {
    h.cluster.put(Fixtures.richHttpRoute());
    Rollout r = rollout("{'httpRoute': 'shop', 'verifyWeight': 'off'}");

    VerifyResult result = verify(r, 30);

    assertThat(result.verification()).isEqualTo(Verification.NOT_IMPLEMENTED);
    assertThat(result.reason()).contains("verifyWeight: \"off\"");
    assertThat(h.metrics.events).contains("verify NOT_IMPLEMENTED DISABLED");
  }

  @Test
  @DisplayName("When one route has verification off, then only the others are checked")
  void perRouteOff() {
    h.cluster.put(Fixtures.richHttpRoute());
    h.cluster.put(GatewayApiTrafficRouterTest.route("other"));
    Rollout r =
        rollout(
            "{'httpRoutes': [{'name': 'shop', 'verifyWeight': 'off'}, {'name': 'other',"
                + " 'verifyWeight': 'spec'}]}");
    h.router.setWeight(CALLER, r, 30, List.of());

    assertThat(verify(r, 30)).isEqualTo(VerifyResult.verified());
    assertThat(verify(r, 40).reason()).startsWith("HTTPRoute default/other does not carry");
  }

  @Test
  @DisplayName("When the route is gone, then NotVerified (route missing)")
  void routeMissing() {
    VerifyResult r = verify(shop, 30);

    assertThat(r.verification()).isEqualTo(Verification.NOT_VERIFIED);
    assertThat(r.reason())
        .isEqualTo(
            "HTTPRoute default/shop (from plugins[\"weighbridge/gateway-api\"].httpRoute) does not exist");
    assertThat(h.metrics.events).contains("verify NOT_VERIFIED ROUTE_MISSING");
  }

  @Test
  @DisplayName("When the route has no parentRefs, then NotVerified")
  void noParents() {
    h.cluster.put(Fixtures.tlsRoute());
    h.cluster.update(
        new RouteId(RouteKind.TLS, "default", "tls"),
        r -> ((ObjectNode) r.path("spec")).remove("parentRefs"));
    Rollout r = rollout("{'tlsRoute': 'tls'}");
    h.router.setWeight(CALLER, r, 30, List.of());

    assertThat(verify(r, 30).reason()).contains("has no spec.parentRefs");
  }
}
