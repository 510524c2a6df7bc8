package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Runs a planning step on a route and applies the patch with the fake's independent applier. */
final class Planning {
  private Planning() {}

  /**
   * The ops a step plans on {@code route}, and the route after the API server (the fake) applied
   * them.
   *
   * @param ops the patch (empty when nothing changes)
   * @param after the route afterwards
   */
  record Result(List<JsonNode> ops, ObjectNode after) {

    /** The ops' "op" and "path", e.g. {@code replace /spec/rules/0/backendRefs/1/weight}. */
    List<String> summary() {
      return ops.stream().map(o -> o.path("op").asText() + " " + o.path("path").asText()).toList();
    }
  }

  /** Plans {@code step} on {@code route} and applies the result. */
  static Result run(JsonNode route, RouteContext ctx, RouteWriter.Step step) {
    FakeRouteClient fake = new FakeRouteClient();
    RouteId id = fake.put(route);
    ObservedRoute observed = fake.get(id).orElseThrow();
    List<JsonNode> ops = RouteWriter.plan(observed, ctx, step);
    if (!ops.isEmpty()) {
      fake.patch(id, fresh -> ops);
    }
    ObjectNode after = fake.object(id);
    ((ObjectNode) after.path("metadata")).remove(List.of("resourceVersion", "generation"));
    return new Result(ops, after);
  }

  /** {@code route} without resourceVersion and generation, for whole-object comparisons. */
  static ObjectNode withoutVersions(JsonNode route) {
    ObjectNode copy = (ObjectNode) route.deepCopy();
    ((ObjectNode) copy.path("metadata")).remove(List.of("resourceVersion", "generation"));
    return copy;
  }
}
