package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteClient;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The dry-run decorator: reads through, records patches, never writes or watches. */
class PlanningRouteClientTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final RouteId WEB = new RouteId(RouteKind.HTTP, "shop", "web");
  private static final RouteId GONE = new RouteId(RouteKind.HTTP, "shop", "gone");

  /** A live side that has one route and fails the test on any write or watch. */
  private static final class ReadOnlyCluster implements RouteClient {
    final ObservedRoute web;

    ReadOnlyCluster(JsonNode object) {
      web = new ObservedRoute(WEB, "gateway.networking.k8s.io/v1", 1, "7", object);
    }

    @Override
    public Optional<String> apiVersion(RouteKind kind) {
      return Optional.of("gateway.networking.k8s.io/v1");
    }

    @Override
    public boolean servesField(RouteKind kind, String fieldPath) {
      return true;
    }

    @Override
    public Optional<ObservedRoute> get(RouteId id) {
      return id.equals(WEB) ? Optional.of(web) : Optional.empty();
    }

    @Override
    public List<ObservedRoute> select(RouteKind kind, String namespace, Map<String, String> l) {
      return List.of(web);
    }

    @Override
    public List<ObservedRoute> listAllNamespaces(RouteKind kind) {
      return List.of(web);
    }

    @Override
    public ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner) {
      throw new AssertionError("a dry run wrote " + id);
    }

    @Override
    public Optional<JsonNode> service(String namespace, String name) {
      return Optional.empty();
    }

    @Override
    public AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener) {
      throw new AssertionError("a dry run watched " + id);
    }
  }

  @Test
  @DisplayName(
      "When the engine patches, then the patch is recorded and applied in memory only, and later"
          + " reads see it")
  void recordsAndOverlays() throws Exception {
    JsonNode object =
        JSON.readTree(
            "{\"spec\":{\"rules\":[{\"backendRefs\":[{\"name\":\"s\",\"weight\":100}]}]}}");
    ReadOnlyCluster live = new ReadOnlyCluster(object);
    PlanningRouteClient planning = new PlanningRouteClient(live);
    JsonNode op =
        JSON.readTree(
            "{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/0/weight\",\"value\":70}");

    planning.startCall("SetWeight 30");
    ObservedRoute after = planning.patch(WEB, fresh -> List.of(op));

    assertThat(after.object().at("/spec/rules/0/backendRefs/0/weight").asInt()).isEqualTo(70);
    assertThat(live.web.object().at("/spec/rules/0/backendRefs/0/weight").asInt())
        .as("the live object is untouched")
        .isEqualTo(100);
    assertThat(planning.get(WEB).orElseThrow().object()).isEqualTo(after.object());
    assertThat(planning.select(RouteKind.HTTP, "shop", Map.of()).getFirst().object())
        .isEqualTo(after.object());
    assertThat(planning.live(WEB).orElseThrow().object()).isEqualTo(object);
    assertThat(planning.patches())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.call()).isEqualTo("SetWeight 30");
              assertThat(p.route()).isEqualTo(WEB);
              assertThat(p.ops()).containsExactly(op);
            });
    assertThat(planning.routes()).containsExactly(WEB);
  }

  @Test
  @DisplayName(
      "When the plan is empty or the route is missing, then nothing is recorded; watches are"
          + " no-ops")
  void emptyPlansAndMissingRoutes() throws Exception {
    PlanningRouteClient planning =
        new PlanningRouteClient(new ReadOnlyCluster(JSON.readTree("{}")));

    planning.patch(WEB, fresh -> List.of());
    planning.watch(WEB, r -> {}).close();

    assertThat(planning.patches()).isEmpty();
    assertThatThrownBy(() -> planning.patch(GONE, fresh -> List.of()))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("HTTPRoute shop/gone does not exist");
  }
}
