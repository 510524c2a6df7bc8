package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.zjsonpatch.CompatibilityFlags;
import io.fabric8.zjsonpatch.JsonPatch;
import io.fabric8.zjsonpatch.JsonPatchException;
import io.fabric8.zjsonpatch.Operation;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.WeighbridgeException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import tools.jackson.databind.json.JsonMapper;

/**
 * An in-memory {@link RouteClient} with the semantics the Kubernetes adapter promises: patches are
 * applied by an independent RFC 6902 implementation (zjsonpatch, as the API server would apply
 * them, not by our own builder), with a resourceVersion precondition and re-planning on conflict or
 * on a failed {@code test} op, generation bumps on spec changes, and synchronous watch
 * notifications for every change. Tests can interfere between planning and applying to simulate a
 * concurrent writer.
 */
final class FakeRouteClient implements RouteClient {
  private static final JsonMapper JACKSON3 = JsonMapper.builder().build();
  private static final int MAX_ATTEMPTS = 5;

  private final Map<RouteId, ObjectNode> routes = new LinkedHashMap<>();
  private final Map<RouteKind, String> apiVersions = new EnumMap<>(RouteKind.class);
  private final Map<RouteKind, Set<String>> servedFields = new EnumMap<>(RouteKind.class);
  private final Map<String, JsonNode> services = new HashMap<>();
  private final Map<RouteId, List<Consumer<ObservedRoute>>> watchers = new HashMap<>();
  private final Map<RouteId, Deque<WeighbridgeException>> failures = new HashMap<>();
  private final Map<RouteId, Deque<Consumer<ObjectNode>>> interference = new HashMap<>();
  private final List<Write> writes = new CopyOnWriteArrayList<>();
  private boolean checkResourceVersion = true;
  private long resourceVersion = 100;
  private Consumer<RouteId> duringPatch = id -> {};

  /** One write: the route and the ops applied. */
  record Write(RouteId id, List<JsonNode> ops) {}

  FakeRouteClient() {
    apiVersions.put(RouteKind.HTTP, "gateway.networking.k8s.io/v1");
    apiVersions.put(RouteKind.GRPC, "gateway.networking.k8s.io/v1");
    apiVersions.put(RouteKind.TCP, "gateway.networking.k8s.io/v1alpha2");
    apiVersions.put(RouteKind.TLS, "gateway.networking.k8s.io/v1alpha2");
    for (RouteKind kind : RouteKind.values()) {
      servedFields.put(
          kind,
          new HashSet<>(
              Set.of(
                  GatewayApiTrafficRouter.RULE_NAME_FIELD,
                  GatewayApiTrafficRouter.MIRROR_PERCENT_FIELD)));
    }
  }

  // ---- setup ----

  /** Stores a route (kind, namespace and name from the object); returns its id. */
  synchronized RouteId put(JsonNode route) {
    ObjectNode copy = (ObjectNode) route.deepCopy();
    ObjectNode meta = (ObjectNode) copy.path("metadata");
    if (!meta.has("namespace")) {
      meta.put("namespace", Fixtures.NS);
    }
    if (!meta.has("generation")) {
      meta.put("generation", 1);
    }
    meta.put("resourceVersion", String.valueOf(++resourceVersion));
    RouteId id = idOf(copy);
    routes.put(id, copy);
    return id;
  }

  /** Serves {@code kind} in {@code apiVersion} (or not at all with null). */
  synchronized FakeRouteClient serve(RouteKind kind, String apiVersion) {
    if (apiVersion == null) {
      apiVersions.remove(kind);
    } else {
      apiVersions.put(kind, apiVersion);
    }
    return this;
  }

  /** Makes the served schema of {@code kind} lack {@code field} (e.g. an older CRD bundle). */
  synchronized FakeRouteClient withoutField(RouteKind kind, String field) {
    servedFields.get(kind).remove(field);
    return this;
  }

  /** Adds a Service with the given ports. */
  synchronized FakeRouteClient putService(String namespace, String name, int... ports) {
    ObjectNode svc = Fixtures.obj("{'metadata': {}, 'spec': {'ports': []}}");
    ((ObjectNode) svc.path("metadata")).put("namespace", namespace).put("name", name);
    for (int p : ports) {
      ((com.fasterxml.jackson.databind.node.ArrayNode) svc.path("spec").path("ports"))
          .addObject()
          .put("port", p);
    }
    services.put(namespace + "/" + name, svc);
    return this;
  }

  /** Turns the resourceVersion precondition off, so that only the patch's test ops guard it. */
  synchronized FakeRouteClient withoutResourceVersionCheck() {
    checkResourceVersion = false;
    return this;
  }

  /** The next patch of {@code id} fails with {@code failure}. */
  synchronized void failNextPatch(RouteId id, WeighbridgeException failure) {
    failures.computeIfAbsent(id, k -> new ArrayDeque<>()).add(failure);
  }

  /** Someone else changes the route after our next planning and before our patch lands. */
  synchronized void interfereBeforeNextPatch(RouteId id, Consumer<ObjectNode> change) {
    interference.computeIfAbsent(id, k -> new ArrayDeque<>()).add(change);
  }

  /** Runs {@code hook} inside every patch (to hold a patch open in concurrency tests). */
  synchronized void duringPatch(Consumer<RouteId> hook) {
    duringPatch = hook;
  }

  /** Someone else (a user, a GitOps tool, a controller) changes the route. */
  void update(RouteId id, Consumer<ObjectNode> change) {
    ObservedRoute after;
    synchronized (this) {
      ObjectNode route = routes.get(id);
      JsonNode spec = route.path("spec").deepCopy();
      change.accept(route);
      bump(route, spec);
      after = observed(id, route);
    }
    notifyWatchers(after);
  }

  /**
   * Sets status.parents: every parentRef accepted by {@code controller} at the current generation.
   */
  void acceptAllParents(RouteId id, String controller) {
    update(
        id,
        r -> {
          long generation = r.path("metadata").path("generation").asLong();
          ObjectNode status = r.putObject("status");
          var parents = status.putArray("parents");
          for (JsonNode p : r.path("spec").path("parentRefs")) {
            ObjectNode entry = parents.addObject();
            entry.set("parentRef", p.deepCopy());
            entry.put("controllerName", controller);
            entry
                .putArray("conditions")
                .addObject()
                .put("type", "Accepted")
                .put("status", "True")
                .put("reason", "Accepted")
                .put("observedGeneration", generation);
          }
        });
  }

  // ---- inspection ----

  /** A copy of the stored route. */
  synchronized ObjectNode object(RouteId id) {
    return routes.get(id).deepCopy();
  }

  /**
   * Waits, ten seconds at most, until rule 0 of the stored route sends {@code canary} to the canary
   * Service and {@code stable} to the stable one (a drift repair or a resumed guard writes on its
   * own thread).
   */
  void awaitWeights(RouteId id, int canary, int stable) {
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(weights(object(id), 0))
                    .containsEntry(CANARY, canary)
                    .containsEntry(STABLE, stable));
  }

  /** Every write so far. */
  List<Write> writes() {
    return List.copyOf(writes);
  }

  /** The writes to one route. */
  List<Write> writes(RouteId id) {
    return writes.stream().filter(w -> w.id().equals(id)).toList();
  }

  /** How many watches are open on the route. */
  synchronized int watchCount(RouteId id) {
    return watchers.getOrDefault(id, List.of()).size();
  }

  // ---- RouteClient ----

  @Override
  public synchronized Optional<String> apiVersion(RouteKind kind) {
    return Optional.ofNullable(apiVersions.get(kind));
  }

  @Override
  public synchronized boolean servesField(RouteKind kind, String fieldPath) {
    return apiVersions.containsKey(kind) && servedFields.get(kind).contains(fieldPath);
  }

  @Override
  public synchronized Optional<ObservedRoute> get(RouteId id) {
    ObjectNode route = routes.get(id);
    return route == null ? Optional.empty() : Optional.of(observed(id, route));
  }

  @Override
  public synchronized List<ObservedRoute> listAllNamespaces(RouteKind kind) {
    List<ObservedRoute> out = new ArrayList<>();
    routes.forEach(
        (id, route) -> {
          if (id.kind() == kind) {
            out.add(observed(id, route));
          }
        });
    return out;
  }

  @Override
  public synchronized List<ObservedRoute> select(
      RouteKind kind, String namespace, Map<String, String> matchLabels) {
    List<ObservedRoute> out = new ArrayList<>();
    routes.forEach(
        (id, route) -> {
          if (id.kind() == kind
              && id.namespace().equals(namespace)
              && RouteJson.labels(route).entrySet().containsAll(matchLabels.entrySet())) {
            out.add(observed(id, route));
          }
        });
    return out;
  }

  @Override
  public ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner) {
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      ObservedRoute seen =
          get(id).orElseThrow(() -> new NotFoundException(id + " not found (fake)"));
      List<JsonNode> ops = planner.apply(seen);
      if (ops.isEmpty()) {
        return seen;
      }
      Consumer<ObjectNode> interfere;
      WeighbridgeException failure;
      Consumer<RouteId> hook;
      synchronized (this) {
        failure = pop(failures, id);
        interfere = pop(interference, id);
        hook = duringPatch;
      }
      if (failure != null) {
        throw failure;
      }
      if (interfere != null) {
        update(id, interfere);
      }
      hook.accept(id);
      ObservedRoute after;
      synchronized (this) {
        ObjectNode current = routes.get(id);
        if (checkResourceVersion
            && !current
                .path("metadata")
                .path("resourceVersion")
                .asText()
                .equals(seen.resourceVersion())) {
          continue;
        }
        ObjectNode patched;
        try {
          patched = apply(current, ops);
        } catch (JsonPatchException e) {
          if (e.getOperation() == Operation.TEST) {
            continue;
          }
          throw new AssertionError("the planner produced an invalid patch " + ops + ": " + e, e);
        }
        bump(patched, current.path("spec"));
        routes.put(id, patched);
        writes.add(new Write(id, ops));
        after = observed(id, patched);
      }
      notifyWatchers(after);
      return after;
    }
    throw new ConflictException(id + " kept changing (fake)");
  }

  @Override
  public synchronized Optional<JsonNode> service(String namespace, String name) {
    return Optional.ofNullable(services.get(namespace + "/" + name)).map(JsonNode::deepCopy);
  }

  @Override
  public synchronized AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener) {
    watchers.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(listener);
    return () -> {
      synchronized (FakeRouteClient.this) {
        List<Consumer<ObservedRoute>> list = watchers.get(id);
        if (list != null) {
          list.remove(listener);
        }
      }
    };
  }

  // ---- internals ----

  /** Applies {@code ops} with zjsonpatch, strict like the API server; throws on failure. */
  static ObjectNode apply(ObjectNode current, List<JsonNode> ops) {
    var patch = JACKSON3.readTree(Fixtures.MAPPER.valueToTree(ops).toString());
    var target = JACKSON3.readTree(current.toString());
    EnumSet<CompatibilityFlags> strict =
        EnumSet.of(CompatibilityFlags.FORBID_REMOVE_MISSING_OBJECT);
    var result = JsonPatch.apply(patch, target, strict);
    try {
      return (ObjectNode) Fixtures.MAPPER.readTree(result.toString());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  private void bump(ObjectNode route, JsonNode specBefore) {
    ObjectNode meta = (ObjectNode) route.path("metadata");
    synchronized (this) {
      meta.put("resourceVersion", String.valueOf(++resourceVersion));
    }
    if (!route.path("spec").equals(specBefore)) {
      meta.put("generation", meta.path("generation").asLong() + 1);
    }
  }

  private void notifyWatchers(ObservedRoute route) {
    List<Consumer<ObservedRoute>> list;
    synchronized (this) {
      list = List.copyOf(watchers.getOrDefault(route.id(), List.of()));
    }
    list.forEach(l -> l.accept(route));
  }

  private ObservedRoute observed(RouteId id, ObjectNode route) {
    return new ObservedRoute(
        id,
        apiVersions.getOrDefault(id.kind(), route.path("apiVersion").asText()),
        route.path("metadata").path("generation").asLong(),
        route.path("metadata").path("resourceVersion").asText(),
        route.deepCopy());
  }

  private static RouteId idOf(JsonNode route) {
    String kind = route.path("kind").asText();
    for (RouteKind k : RouteKind.values()) {
      if (k.kind().equals(kind)) {
        return new RouteId(
            k,
            route.path("metadata").path("namespace").asText(),
            route.path("metadata").path("name").asText());
      }
    }
    throw new IllegalArgumentException("not a route kind: " + kind);
  }

  private static <T> T pop(Map<RouteId, Deque<T>> queues, RouteId id) {
    Deque<T> q = queues.get(id);
    return q == null ? null : q.poll();
  }
}
