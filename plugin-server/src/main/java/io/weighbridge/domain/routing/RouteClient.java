package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The routing engine's port to the cluster. The Kubernetes adapter implements it with informers
 * (reads come from a cache, not the API server) and JSON patches with a precondition. All failures
 * are {@link io.weighbridge.domain.WeighbridgeException}s.
 */
public interface RouteClient {

  /**
   * The API version used for {@code kind}: the best one the cluster serves (v1, then v1beta1, then
   * v1alpha2), or empty when the cluster serves the kind in no version.
   */
  Optional<String> apiVersion(RouteKind kind);

  /**
   * Whether the schema the cluster serves for {@code kind} (in the version {@link
   * #apiVersion(RouteKind)} returns) has the field {@code fieldPath}. The engine asks before it
   * writes an optional field that older or standard-channel CRDs lack, because the API server
   * silently prunes unknown fields. {@code fieldPath} is dot-separated from the object root, with
   * {@code []} stepping into array items, e.g. {@code spec.rules[].name} or {@code
   * spec.rules[].filters[].requestMirror.percent}. False when the kind is not served.
   */
  boolean servesField(RouteKind kind, String fieldPath);

  /** The route as last seen, or empty when it does not exist. */
  Optional<ObservedRoute> get(RouteId id);

  /**
   * The routes of {@code kind} in {@code namespace} whose labels include all of {@code
   * matchLabels}.
   */
  List<ObservedRoute> select(RouteKind kind, String namespace, Map<String, String> matchLabels);

  /**
   * Every route of {@code kind} in all namespaces, as last seen (used to resume drift restoration
   * after a restart). Needs list/watch on the kind cluster-wide.
   *
   * @throws io.weighbridge.domain.InvalidConfigException when the client is scoped to single
   *     namespaces
   */
  List<ObservedRoute> listAllNamespaces(RouteKind kind);

  /**
   * Changes a route with a JSON patch (RFC 6902). {@code planner} gets the freshest known object
   * and returns the patch operations; an empty list means no change and no write. The adapter adds
   * a precondition on metadata.resourceVersion and, on a conflict, calls {@code planner} again with
   * the newer object, within a bound. An admission webhook's refusal is reported verbatim.
   *
   * @return the route after the patch (or unchanged)
   */
  ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner);

  /** The Service {@code namespace/name} as JSON, or empty when it does not exist. */
  Optional<JsonNode> service(String namespace, String name);

  /**
   * Calls {@code listener} whenever the route changes in the cluster (including changes by others),
   * until the returned handle is closed.
   */
  AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener);
}
