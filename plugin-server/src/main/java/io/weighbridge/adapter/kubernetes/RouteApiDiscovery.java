package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.weighbridge.domain.routing.RouteKind;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds, per route kind, the best version of {@code gateway.networking.k8s.io} the cluster serves.
 * Clusters differ: Gateway API v1.0.0 serves GRPCRoute only as v1alpha2 (what Linkerd 2.15-2.17
 * reads), some serve HTTPRoute only as v1beta1, v1.5 serves TLSRoute as v1. A kind the cluster does
 * not serve (CRDs not installed yet) is looked up again, at most once per {@code minInterval}, so a
 * missing CRD costs no request per Argo call.
 */
final class RouteApiDiscovery {

  private static final Logger LOG = LoggerFactory.getLogger(RouteApiDiscovery.class);

  /** Where discovery documents come from; the client supplies counted, error-mapped calls. */
  interface Source {
    /** The versions served for {@code group}, or empty when the group is not served at all. */
    Optional<List<String>> versions(String group);

    /** The resources of {@code groupVersion} (e.g. {@code gateway.networking.k8s.io/v1}). */
    List<APIResource> resources(String groupVersion);
  }

  /**
   * Where a route kind is served.
   *
   * @param kind the route kind
   * @param apiVersion group/version, e.g. {@code gateway.networking.k8s.io/v1alpha2}
   * @param context fabric8's description (plural, namespaced) for generic resource calls
   */
  record Served(RouteKind kind, String apiVersion, ResourceDefinitionContext context) {}

  private final Source source;
  private final long minIntervalNanos;
  private final LongSupplier nanoTime;

  // Read without the lock on the fast path (a known kind); replaced whole, never mutated.
  private volatile Map<RouteKind, Served> served = Map.of();
  private long discoveredAt;
  private boolean discovered;

  RouteApiDiscovery(Source source, Duration minInterval, LongSupplier nanoTime) {
    this.source = source;
    this.minIntervalNanos = minInterval.toNanos();
    this.nanoTime = nanoTime;
  }

  /**
   * Where {@code kind} is served, discovering again when it is unknown and the last discovery is
   * older than the minimum interval.
   *
   * @throws io.weighbridge.domain.WeighbridgeException when discovery fails (from the source)
   */
  Optional<Served> resolve(RouteKind kind) {
    Served known = served.get(kind);
    return known != null ? Optional.of(known) : resolveSlowly(kind);
  }

  private synchronized Optional<Served> resolveSlowly(RouteKind kind) {
    Served known = served.get(kind);
    if (known != null) {
      return Optional.of(known);
    }
    if (!discovered || nanoTime.getAsLong() - discoveredAt >= minIntervalNanos) {
      discover();
    }
    return Optional.ofNullable(served.get(kind));
  }

  /**
   * Forgets where {@code kind} is served (e.g. its informer found the resource gone), so the next
   * {@link #resolve} looks again, subject to the minimum interval.
   */
  synchronized void forget(RouteKind kind) {
    Map<RouteKind, Served> copy = new EnumMap<>(RouteKind.class);
    copy.putAll(served);
    copy.remove(kind);
    served = Map.copyOf(copy);
  }

  private void discover() {
    Map<RouteKind, Served> found = new EnumMap<>(RouteKind.class);
    List<String> versions =
        source.versions(RouteKind.GROUP).orElse(List.of()).stream()
            .sorted(ApiVersions.PREFERRED_FIRST)
            .toList();
    for (String version : versions) {
      if (found.size() == RouteKind.values().length) {
        break;
      }
      String groupVersion = RouteKind.GROUP + "/" + version;
      for (APIResource resource : source.resources(groupVersion)) {
        if (resource.getName() == null || resource.getName().contains("/")) {
          continue; // subresources such as httproutes/status
        }
        for (RouteKind kind : RouteKind.values()) {
          if (kind.kind().equals(resource.getKind()) && !found.containsKey(kind)) {
            found.put(
                kind,
                new Served(
                    kind,
                    groupVersion,
                    ResourceDefinitionContext.fromApiResource(groupVersion, resource)));
          }
        }
      }
    }
    served = Map.copyOf(found);
    discovered = true;
    discoveredAt = nanoTime.getAsLong();
    LOG.info(
        "Gateway API route versions served by the cluster: {}",
        found.isEmpty()
            ? "none (install the Gateway API CRDs)"
            : found.values().stream().map(s -> s.kind().kind() + "=" + s.apiVersion()).toList());
  }
}
