package io.weighbridge.domain.routing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Rollout;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The one factory for test objects: Rollouts with plugin configuration, routes of every kind in the
 * shapes the Gateway API CRDs (v1, v1beta1, v1alpha2) and the shared examples use, and Services.
 */
final class Fixtures {

  /** Shared mapper; only used to build and read fixtures. */
  static final ObjectMapper MAPPER = new ObjectMapper();

  /** The plugin key Weighbridge runs as in these tests. */
  static final String PLUGIN = "weighbridge/gateway-api";

  /** The incumbent's plugin key, accepted as well. */
  static final String INCUMBENT_PLUGIN = "argoproj-labs/gatewayAPI";

  /** A connector calling as {@link #PLUGIN}. */
  static final Caller CALLER = new Caller(PLUGIN, "test");

  static final String NS = "default";
  static final String CANARY = "argo-rollouts-canary-service";
  static final String STABLE = "argo-rollouts-stable-service";

  private Fixtures() {}

  /** Parses JSON (single quotes allowed for readability in Java text blocks). */
  static JsonNode json(String text) {
    try {
      return MAPPER.readTree(text.replace('\'', '"'));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Parses a JSON object. */
  static ObjectNode obj(String text) {
    return (ObjectNode) json(text);
  }

  /** A Rollout in {@link #NS} named rollouts-demo with the given plugin configuration. */
  static Rollout rollout(String pluginConfig) {
    return rollout().plugin(pluginConfig).build();
  }

  /** A builder for Rollouts. */
  static RolloutBuilder rollout() {
    return new RolloutBuilder();
  }

  /** Builds Rollout objects as Argo sends them. */
  static final class RolloutBuilder {
    private String namespace = NS;
    private String name = "rollouts-demo";
    private String uid = "uid-rollouts-demo";
    private long generation = 1;
    private String canary = CANARY;
    private String stable = STABLE;
    private Integer maxTrafficWeight;
    private final List<String> managedRoutes = new ArrayList<>();
    private final ObjectNode plugins = MAPPER.createObjectNode();

    RolloutBuilder namespace(String v) {
      namespace = v;
      return this;
    }

    RolloutBuilder name(String v) {
      name = v;
      uid = "uid-" + v;
      return this;
    }

    RolloutBuilder generation(long v) {
      generation = v;
      return this;
    }

    RolloutBuilder services(String canaryService, String stableService) {
      canary = canaryService;
      stable = stableService;
      return this;
    }

    RolloutBuilder maxTrafficWeight(int v) {
      maxTrafficWeight = v;
      return this;
    }

    RolloutBuilder managedRoutes(String... names) {
      managedRoutes.addAll(List.of(names));
      return this;
    }

    RolloutBuilder plugin(String config) {
      return plugin(PLUGIN, config);
    }

    RolloutBuilder plugin(String key, String config) {
      plugins.set(key, json(config));
      return this;
    }

    Rollout build() {
      ObjectNode root = MAPPER.createObjectNode();
      root.put("apiVersion", "argoproj.io/v1alpha1").put("kind", "Rollout");
      ObjectNode meta = root.putObject("metadata");
      meta.put("namespace", namespace)
          .put("name", name)
          .put("uid", uid)
          .put("generation", generation)
          .put("resourceVersion", "1");
      ObjectNode canaryStrategy = root.putObject("spec").putObject("strategy").putObject("canary");
      if (canary != null) {
        canaryStrategy.put("canaryService", canary);
      }
      if (stable != null) {
        canaryStrategy.put("stableService", stable);
      }
      ObjectNode tr = canaryStrategy.putObject("trafficRouting");
      tr.set("plugins", plugins);
      if (maxTrafficWeight != null) {
        tr.put("maxTrafficWeight", maxTrafficWeight);
      }
      if (!managedRoutes.isEmpty()) {
        ArrayNode mr = tr.putArray("managedRoutes");
        managedRoutes.forEach(n -> mr.addObject().put("name", n));
      }
      canaryStrategy.putArray("steps").addObject().put("setWeight", 20);
      return new Rollout(namespace, name, uid, generation, "1", root);
    }
  }
}
