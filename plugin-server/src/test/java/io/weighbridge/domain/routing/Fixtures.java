package io.weighbridge.domain.routing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Rollout;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The one factory for test objects: Rollouts with plugin configuration, routes of every kind in the
 * shapes the Gateway API CRDs (v1, v1beta1, v1alpha2) and the example manifests use, and Services.
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

  // ---- manifests in the shapes incumbent users write (test resources examples/, our own) ----

  /** The documents of the example manifest {@code examples/<relativePath>} (test resources). */
  static List<ObjectNode> example(String relativePath) {
    String resource = "/examples/" + relativePath;
    try (InputStream in = Fixtures.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("no test resource " + resource);
      }
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      List<ObjectNode> out = new ArrayList<>();
      for (String doc : text.split("(?m)^---\\s*$")) {
        tools.jackson.databind.JsonNode node = doc.isBlank() ? null : YAML.readTree(doc);
        if (node != null && node.has("kind")) {
          out.add((ObjectNode) MAPPER.readTree(node.toString()));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The first route in an example manifest, namespace defaulted to {@link #NS}. */
  static ObjectNode exampleRoute(String relativePath) {
    ObjectNode route =
        example(relativePath).stream()
            .filter(doc -> doc.path("kind").asText().endsWith("Route"))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("no route in " + relativePath));
    ObjectNode meta = (ObjectNode) route.path("metadata");
    if (!meta.has("namespace")) {
      meta.put("namespace", NS);
    }
    return route;
  }

  private static final tools.jackson.dataformat.yaml.YAMLMapper YAML =
      tools.jackson.dataformat.yaml.YAMLMapper.builder().build();

  // ---- hand-written routes in the shapes of the CRDs (v1, v1beta1, v1alpha2) ----

  /**
   * An HTTPRoute (v1, Gateway parent) with: rule 0 "web" splitting canary/stable with matches, a
   * CORS filter (unknown to older models) and a field no model knows; rule 1 another team's
   * backends; rule 2 a user's canary-only rule (#217); rule 3 canary/stable plus a third backend
   * (#203). Weights are explicit, as the API server defaults them.
   */
  static ObjectNode richHttpRoute() {
    return obj(
        """
        {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
         'metadata': {'name': 'shop', 'namespace': 'default', 'generation': 3,
                      'labels': {'app': 'shop'}},
         'spec': {
           'parentRefs': [{'group': 'gateway.networking.k8s.io', 'kind': 'Gateway',
                           'name': 'traefik-gateway', 'namespace': 'default'}],
           'hostnames': ['shop.example.com'],
           'rules': [
             {'name': 'web',
              'matches': [{'path': {'type': 'PathPrefix', 'value': '/'},
                           'headers': [{'type': 'Exact', 'name': 'x-tenant', 'value': 'a'}]}],
              'filters': [{'type': 'CORS', 'cors': {'allowOrigins': ['https://example.com'],
                                                    'maxAge': 5}}],
              'timeouts': {'request': '10s'},
              'futureField': {'keep': 'me'},
              'backendRefs': [
                {'group': '', 'kind': 'Service', 'name': 'argo-rollouts-stable-service',
                 'port': 80, 'weight': 100},
                {'group': '', 'kind': 'Service', 'name': 'argo-rollouts-canary-service',
                 'port': 80, 'weight': 0}]},
             {'name': 'other-team',
              'matches': [{'path': {'type': 'PathPrefix', 'value': '/other'}}],
              'backendRefs': [{'group': '', 'kind': 'Service', 'name': 'other', 'port': 80,
                               'weight': 1}]},
             {'name': 'preview',
              'matches': [{'path': {'type': 'PathPrefix', 'value': '/preview'}}],
              'backendRefs': [{'group': '', 'kind': 'Service',
                               'name': 'argo-rollouts-canary-service', 'port': 80,
                               'weight': 1}]},
             {'name': 'api',
              'matches': [{'path': {'type': 'PathPrefix', 'value': '/api'}}],
              'backendRefs': [
                {'group': '', 'kind': 'Service', 'name': 'argo-rollouts-stable-service',
                 'port': 8080, 'weight': 50},
                {'group': '', 'kind': 'Service', 'name': 'argo-rollouts-canary-service',
                 'port': 8080, 'weight': 0},
                {'group': '', 'kind': 'Service', 'name': 'legacy', 'port': 8080,
                 'weight': 50}]}]}}
        """);
  }

  /** A GRPCRoute in the v1alpha2 shape Linkerd 2.15-2.17 reads: Service parent, method match. */
  static ObjectNode grpcRoute() {
    return obj(
        """
        {'apiVersion': 'gateway.networking.k8s.io/v1alpha2', 'kind': 'GRPCRoute',
         'metadata': {'name': 'greeter', 'namespace': 'default', 'generation': 1},
         'spec': {
           'parentRefs': [{'group': 'core', 'kind': 'Service', 'name': 'greeter', 'port': 9000}],
           'rules': [
             {'matches': [{'method': {'type': 'Exact', 'service': 'helloworld.Greeter',
                                      'method': 'SayHello'}}],
              'backendRefs': [
                {'group': 'core', 'kind': 'Service', 'name': 'argo-rollouts-stable-service',
                 'port': 9000, 'weight': 1},
                {'group': 'core', 'kind': 'Service', 'name': 'argo-rollouts-canary-service',
                 'port': 9000, 'weight': 1}]}]}}
        """);
  }

  /** A TCPRoute (v1alpha2, experimental channel) behind a Gateway listener. */
  static ObjectNode tcpRoute() {
    return obj(
        """
        {'apiVersion': 'gateway.networking.k8s.io/v1alpha2', 'kind': 'TCPRoute',
         'metadata': {'name': 'db', 'namespace': 'default', 'generation': 1},
         'spec': {
           'parentRefs': [{'name': 'tcp-gateway', 'sectionName': 'postgres'}],
           'rules': [{'backendRefs': [
             {'name': 'argo-rollouts-stable-service', 'port': 5432, 'weight': 1},
             {'name': 'argo-rollouts-canary-service', 'port': 5432, 'weight': 0}]}]}}
        """);
  }

  /** A TLSRoute (v1alpha2) with SNI hostnames. */
  static ObjectNode tlsRoute() {
    return obj(
        """
        {'apiVersion': 'gateway.networking.k8s.io/v1alpha2', 'kind': 'TLSRoute',
         'metadata': {'name': 'tls', 'namespace': 'default', 'generation': 1},
         'spec': {
           'parentRefs': [{'name': 'tls-gateway'}],
           'hostnames': ['secure.example.com'],
           'rules': [{'backendRefs': [
             {'name': 'argo-rollouts-stable-service', 'port': 443},
             {'name': 'argo-rollouts-canary-service', 'port': 443}]}]}}
        """);
  }

  /** A planning context for {@code id} with this file's Rollout and defaults. */
  static RouteContext context(RouteId id) {
    return context(id, List.of(), true, true);
  }

  /** A planning context with rule names and served-schema flags. */
  static RouteContext context(
      RouteId id, List<String> ruleNames, boolean ruleNameField, boolean mirrorPercentField) {
    return new RouteContext(
        id,
        "plugins[\"" + PLUGIN + "\"].httpRoute",
        NS + "/rollouts-demo",
        "uid-rollouts-demo",
        new ServiceRef(NS, CANARY),
        new ServiceRef(NS, STABLE),
        100,
        ruleNames,
        true,
        java.util.Optional.of(
            new RoutingConfig.InProgressLabel(
                RoutingConfigParser.DEFAULT_LABEL_KEY, RoutingConfigParser.DEFAULT_LABEL_VALUE)),
        ruleNameField,
        mirrorPercentField);
  }

  /** The weights of rule {@code i}'s backendRefs, by Service name. */
  static java.util.Map<String, Integer> weights(JsonNode route, int rule) {
    java.util.Map<String, Integer> out = new java.util.LinkedHashMap<>();
    for (JsonNode ref : route.path("spec").path("rules").path(rule).path("backendRefs")) {
      out.put(ref.path("name").asText(), ref.has("weight") ? ref.path("weight").asInt() : null);
    }
    return out;
  }

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
