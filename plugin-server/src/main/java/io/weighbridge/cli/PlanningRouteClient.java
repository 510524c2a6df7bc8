package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.zjsonpatch.JsonPatch;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteClient;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A {@link RouteClient} that reads the live cluster through another one and never writes: each
 * patch the engine plans is recorded and applied to an in-memory copy instead, so that the next
 * call of the same dry run sees the planned state, as it would see its own write. Watches do
 * nothing. Lets {@code plan} and {@code status} run the real routing engine without re-implementing
 * any of its planning.
 *
 * <p>Not thread-safe: one dry run at a time.
 */
public final class PlanningRouteClient implements RouteClient {

  /**
   * One patch the engine would have sent.
   *
   * @param call the engine call that planned it, e.g. {@code SetWeight 30}
   * @param route the route
   * @param ops the RFC 6902 operations, as the engine returned them (the Kubernetes adapter would
   *     prepend a test of metadata.resourceVersion)
   */
  public record RecordedPatch(String call, RouteId route, List<JsonNode> ops) {

    /** Copies the list. */
    public RecordedPatch {
      ops = List.copyOf(ops);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  // zjsonpatch works on Jackson 3 trees, the domain on Jackson 2: JSON text bridges them exactly
  // (a route is a few KB), as the Kubernetes adapter does.
  private static final tools.jackson.databind.ObjectMapper JSON3 =
      new tools.jackson.databind.ObjectMapper();

  private final RouteClient live;
  private final Map<RouteId, ObservedRoute> before = new LinkedHashMap<>();
  private final Map<RouteId, ObservedRoute> planned = new LinkedHashMap<>();
  private final List<RecordedPatch> patches = new ArrayList<>();
  private final Set<RouteId> read = new LinkedHashSet<>();
  private String call = "";

  /** Reads through {@code live}; it is never asked to patch or watch. */
  public PlanningRouteClient(RouteClient live) {
    this.live = Objects.requireNonNull(live, "live");
  }

  /** Names the engine call whose patches follow, for {@link RecordedPatch#call()}. */
  public void startCall(String name) {
    this.call = Objects.requireNonNull(name, "name");
  }

  /** Every patch recorded so far, in order. */
  public List<RecordedPatch> patches() {
    return List.copyOf(patches);
  }

  /** A route as it would be after every recorded patch (the live state when none touched it). */
  public Optional<ObservedRoute> after(RouteId id) {
    return get(id);
  }

  /** Every route the engine looked at (each route of the Rollout), in order of first read. */
  public List<RouteId> routes() {
    return List.copyOf(read);
  }

  /** The route as it was in the cluster before the dry run, when it exists. */
  public Optional<ObservedRoute> live(RouteId id) {
    ObservedRoute b = before.get(id);
    return b != null ? Optional.of(b) : live.get(id);
  }

  @Override
  public Optional<String> apiVersion(RouteKind kind) {
    return live.apiVersion(kind);
  }

  @Override
  public boolean servesField(RouteKind kind, String fieldPath) {
    return live.servesField(kind, fieldPath);
  }

  @Override
  public Optional<ObservedRoute> get(RouteId id) {
    read.add(id);
    ObservedRoute p = planned.get(id);
    return p != null ? Optional.of(p) : live.get(id);
  }

  @Override
  public List<ObservedRoute> select(
      RouteKind kind, String namespace, Map<String, String> matchLabels) {
    return live.select(kind, namespace, matchLabels).stream()
        .map(r -> planned.getOrDefault(r.id(), r))
        .toList();
  }

  @Override
  public List<ObservedRoute> listAllNamespaces(RouteKind kind) {
    return live.listAllNamespaces(kind).stream().map(r -> planned.getOrDefault(r.id(), r)).toList();
  }

  @Override
  public ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner) {
    ObservedRoute current =
        get(id)
            .orElseThrow(
                () -> new NotFoundException(id + " does not exist: create it, or fix its name"));
    List<JsonNode> ops = planner.apply(current);
    if (ops == null || ops.isEmpty()) {
      return current;
    }
    before.putIfAbsent(id, current);
    JsonNode after = apply(current.object(), ops);
    ObservedRoute next =
        new ObservedRoute(
            id, current.apiVersion(), current.generation(), current.resourceVersion(), after);
    planned.put(id, next);
    patches.add(new RecordedPatch(call, id, ops));
    return next;
  }

  @Override
  public Optional<JsonNode> service(String namespace, String name) {
    return live.service(namespace, name);
  }

  /** A dry run never watches: the handle does nothing. */
  @Override
  public AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener) {
    return () -> {};
  }

  /** Applies an RFC 6902 patch to a copy of {@code object}. */
  static JsonNode apply(JsonNode object, List<JsonNode> ops) {
    try {
      var patch =
          JSON3.readTree(JSON.writeValueAsString(JsonNodeFactory.instance.arrayNode().addAll(ops)));
      var source = JSON3.readTree(JSON.writeValueAsString(object));
      return JSON.readTree(JSON3.writeValueAsString(JsonPatch.apply(patch, source)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
