package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.routing.RoutingConfig.RouteRef;
import io.weighbridge.domain.routing.RoutingConfig.RouteSelector;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * From a Rollout to the routes a call changes: parses (or takes from an LRU cache keyed by uid and
 * generation) the plugin configuration, resolves configured routes and label selectors, and builds
 * each route's planning context. Reads only, through the {@link RouteClient} port.
 */
final class RouteTargets {

  static final String RULE_NAME_FIELD = "spec.rules[].name";
  static final String MIRROR_PERCENT_FIELD = "spec.rules[].filters[].requestMirror.percent";

  private final RouteClient client;
  private final int cacheSize;
  private final Map<String, RoutingConfig> configCache;

  RouteTargets(RouteClient client, int configCacheSize) {
    this.client = client;
    this.cacheSize = configCacheSize;
    this.configCache =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, RoutingConfig> eldest) {
            return size() > configCacheSize;
          }
        };
  }

  /** The Rollout's configuration under the caller's plugin name. */
  RoutingConfig config(Caller caller, Rollout rollout) {
    String plugin = caller.pluginName();
    if (plugin == null || plugin.isBlank()) {
      throw new InvalidConfigException(
          "the connector did not say which plugin name it runs as, so the Rollout's plugin"
              + " configuration cannot be found: upgrade the connector");
    }
    if (rollout.uid() == null || rollout.uid().isEmpty() || cacheSize == 0) {
      return RoutingConfigParser.parse(rollout, plugin);
    }
    String key = plugin + "|" + rollout.uid() + "|" + rollout.generation();
    synchronized (configCache) {
      RoutingConfig cached = configCache.get(key);
      if (cached != null) {
        return cached;
      }
    }
    RoutingConfig parsed = RoutingConfigParser.parse(rollout, plugin);
    synchronized (configCache) {
      configCache.put(key, parsed);
    }
    return parsed;
  }

  /** The configured routes plus those the selectors find now, each once. */
  List<RouteRef> resolve(RoutingConfig config) {
    Set<RouteKind> kinds = EnumSet.noneOf(RouteKind.class);
    config.routes().forEach(r -> kinds.add(r.id().kind()));
    config.selectors().forEach(s -> kinds.add(s.kind()));
    for (RouteKind kind : kinds) {
      if (client.apiVersion(kind).isEmpty()) {
        throw new NotFoundException(
            "the cluster does not serve "
                + kind.kind()
                + " ("
                + RouteKind.GROUP
                + "), which "
                + config.pluginPath()
                + " configures: install the Gateway API CRDs that have it (TCPRoute and TLSRoute"
                + " are in the experimental channel), or remove it from the configuration");
      }
    }
    Map<RouteId, RouteRef> refs = new LinkedHashMap<>();
    config.routes().forEach(r -> refs.put(r.id(), r));
    for (RouteSelector s : config.selectors()) {
      List<ObservedRoute> found =
          client.select(s.kind(), s.namespace(), s.matchLabels()).stream()
              .filter(r -> s.matchesExpressions(RouteJson.labels(r.object())))
              .sorted(Comparator.comparing(r -> r.id().name()))
              .toList();
      for (ObservedRoute r : found) {
        refs.putIfAbsent(
            r.id(), new RouteRef(r.id(), false, List.of(), config.verifyMode(), s.source()));
      }
    }
    if (refs.isEmpty()) {
      throw new NotFoundException(
          "no route matches "
              + String.join(", ", config.selectors().stream().map(RouteSelector::source).toList())
              + " in namespace "
              + config.selectors().getFirst().namespace()
              + ": label the routes the Rollout should shift, or fix the selector");
    }
    return List.copyOf(refs.values());
  }

  /** The planning contexts of every route the configuration resolves to, in its order. */
  List<RouteContext> contexts(RoutingConfig config, Rollout rollout) {
    return resolve(config).stream().map(ref -> context(config, rollout, ref)).toList();
  }

  /** The planning context of one route. */
  RouteContext context(RoutingConfig config, Rollout rollout, RouteRef ref) {
    RouteKind kind = ref.id().kind();
    return new RouteContext(
        ref.id(),
        ref.source(),
        rollout.key(),
        rollout.uid() == null ? "" : rollout.uid(),
        new ServiceRef(config.rolloutNamespace(), config.canaryService()),
        new ServiceRef(config.rolloutNamespace(), config.stableService()),
        config.maxTrafficWeight(),
        ref.ruleNames(),
        ref.useHeaderRoutes(),
        config.inProgressLabel(),
        client.servesField(kind, RULE_NAME_FIELD),
        client.servesField(kind, MIRROR_PERCENT_FIELD));
  }

  /** The port of a new experiment backend (the Service must exist). */
  int experimentPort(ServiceRef service, JsonNode stableRef) {
    JsonNode json =
        client
            .service(service.namespace(), service.name())
            .orElseThrow(
                () ->
                    new NotFoundException(
                        "experiment Service "
                            + service
                            + " (additionalDestinations) does not exist (yet): Argo creates it"
                            + " with the experiment; if this persists, give the experiment"
                            + " template a Service (service: {})"));
    return WeightPlanner.choosePort(service, json, stableRef);
  }
}
