package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The last {@link ObservedRoute} made of each route, reused while the route's resourceVersion and
 * apiVersion stay the same. Converting fabric8's object into the domain's JSON tree (write it with
 * fabric8's Jackson 3, read it with Jackson 2) was the largest cost of every call in the profile,
 * unchanged SetWeights and VerifyWeights included, although the cached route had not changed; a
 * resourceVersion names one state of one object, so its tree can be shared (the domain treats it as
 * read-only).
 */
final class ObservedRouteMemo {

  /** Beyond this many routes the memo starts afresh (entries of deleted routes never expire). */
  static final int MAX_ROUTES = 8192;

  private final Map<RouteId, ObservedRoute> byRoute = new ConcurrentHashMap<>();

  /**
   * The route as the domain sees it: the memoized one when it is of the same resourceVersion and
   * apiVersion, otherwise {@code convert}'s, which is remembered.
   */
  ObservedRoute observe(
      RouteKind kind,
      GenericKubernetesResource resource,
      Function<GenericKubernetesResource, ObservedRoute> convert) {
    ObjectMeta meta = resource.getMetadata();
    RouteId id = new RouteId(kind, meta.getNamespace(), meta.getName());
    ObservedRoute known = byRoute.get(id);
    if (known != null
        && meta.getResourceVersion() != null
        && meta.getResourceVersion().equals(known.resourceVersion())
        && Objects.equals(resource.getApiVersion(), known.apiVersion())) {
      return known;
    }
    ObservedRoute fresh = convert.apply(resource);
    if (byRoute.size() >= MAX_ROUTES) {
      byRoute.clear();
    }
    byRoute.put(id, fresh);
    return fresh;
  }

  /** How many routes are remembered (tests). */
  int size() {
    return byRoute.size();
  }
}
