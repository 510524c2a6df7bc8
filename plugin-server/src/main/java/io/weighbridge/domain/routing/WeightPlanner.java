package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.domain.routing.Desired.ExperimentWeight;
import io.weighbridge.domain.routing.Ledger.Entry;
import io.weighbridge.domain.routing.RuleSelection.ManagedIndex;
import io.weighbridge.domain.routing.RuleSelection.Target;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Plans SetWeight on one route: the canary, stable and experiment weights of the Rollout's split
 * rules, and the experiment backends it adds and removes. Every other rule, backend, filter and
 * field is left as it is; an unchanged route yields no operation (#230).
 */
final class WeightPlanner {
  private WeightPlanner() {}

  /** Resolves the port of an experiment backend the planner adds. */
  @FunctionalInterface
  interface ExperimentPorts {
    /**
     * The port for a new backendRef to {@code service}, given the stable backendRef it joins.
     *
     * @throws io.weighbridge.domain.WeighbridgeException when the Service is missing or its port
     *     cannot be chosen
     */
    int port(ServiceRef service, JsonNode stableRef);
  }

  /**
   * Computes and validates the weights: canary = {@code desiredWeight}, each experiment its weight,
   * stable = maxTrafficWeight - canary - sum(experiments).
   *
   * @throws InvalidConfigException when the weights do not add up or a destination is unusable
   */
  static Desired desired(
      int desiredWeight, List<WeightDestination> destinations, RoutingConfig config) {
    int max = config.maxTrafficWeight();
    if (desiredWeight < 0 || desiredWeight > max) {
      throw new InvalidConfigException(
          "desired canary weight "
              + desiredWeight
              + " is outside 0.."
              + max
              + " (maxTrafficWeight): fix the setWeight steps, or"
              + " spec.strategy.canary.trafficRouting.maxTrafficWeight");
    }
    List<ExperimentWeight> experiments = new ArrayList<>();
    Set<String> names = new HashSet<>();
    int sum = 0;
    for (WeightDestination d : destinations) {
      String name = d.serviceName();
      if (name == null || name.isBlank()) {
        throw new InvalidConfigException(
            "an additionalDestination (experiment) has no Service name: give the experiment"
                + " template a Service (service: {}) so that it can receive traffic");
      }
      if (name.equals(config.canaryService()) || name.equals(config.stableService())) {
        throw new InvalidConfigException(
            "additionalDestination Service "
                + name
                + " is the Rollout's canary or stable Service: experiments need Services of"
                + " their own");
      }
      if (!names.add(name)) {
        throw new InvalidConfigException(
            "additionalDestination Service " + name + " is listed twice: list it once");
      }
      if (d.weight() < 0) {
        throw new InvalidConfigException(
            "additionalDestination Service " + name + " has negative weight " + d.weight());
      }
      sum += d.weight();
      experiments.add(
          new ExperimentWeight(new ServiceRef(config.rolloutNamespace(), name), d.weight()));
    }
    int stable = max - desiredWeight - sum;
    if (stable < 0) {
      throw new InvalidConfigException(
          "canary weight "
              + desiredWeight
              + " plus experiment weights "
              + sum
              + " exceed maxTrafficWeight "
              + max
              + " (the stable Service would get "
              + stable
              + "): lower the experiment weights or the setWeight step so that they add up to at"
              + " most "
              + max);
    }
    return new Desired(desiredWeight, stable, experiments);
  }

  /**
   * Records the operations that give the route the desired weights, and the Rollout's updated
   * ledger entry (experiments it owns, in-progress flag).
   *
   * @return what differed, one line per backend, for logs and VerifyWeight's reason
   */
  static List<String> plan(
      JsonPatchBuilder b, Ledger ledger, RouteContext ctx, Desired d, ExperimentPorts ports) {
    ArrayNode rules = RouteJson.rules(b.current());
    ManagedIndex managed = RuleSelection.resolve(rules, ledger);
    List<Target> targets = RuleSelection.targets(b.current(), ctx, managed.all());
    Entry entry = ledger.entry(ctx.rolloutKey(), ctx.rolloutUid());
    Set<ServiceRef> wanted = new HashSet<>();
    d.experiments().forEach(x -> wanted.add(x.service()));
    Set<ServiceRef> stale = new HashSet<>(entry.experiments());
    stale.removeAll(wanted);
    Set<ServiceRef> owned = new LinkedHashSet<>(entry.experiments());
    owned.retainAll(wanted);

    List<String> changes = new ArrayList<>();
    String ns = ctx.id().namespace();
    for (Target t : targets) {
      int i = t.rule();
      setWeight(b, i, t.canaryRef(), d.canary(), "canary", changes);
      setWeight(b, i, t.stableRef(), d.stable(), "stable", changes);
      for (ExperimentWeight x : d.experiments()) {
        int j = find(b, i, x.service(), ns);
        if (j >= 0) {
          setWeight(b, i, j, x.weight(), "experiment", changes);
        }
      }
      ArrayNode refs = RouteJson.backendRefs(b.at(RouteJson.rule(i)));
      for (int j = refs.size() - 1; j >= 0; j--) {
        JsonNode ref = refs.get(j);
        if (stale.stream().anyMatch(s -> s.isReferencedBy(ref, ns))) {
          b.testCurrent(RouteJson.backendRef(i, j));
          b.remove(RouteJson.backendRef(i, j));
          changes.add(
              "rule " + i + ": experiment backend " + ref.path("name").asText() + " to remove");
        }
      }
      for (ExperimentWeight x : d.experiments()) {
        if (find(b, i, x.service(), ns) < 0) {
          JsonNode stableRef = b.at(RouteJson.backendRef(i, t.stableRef()));
          int port = ports.port(x.service(), stableRef);
          b.testCurrent(RouteJson.backendRef(i, t.stableRef()) + "/name");
          b.add(RouteJson.rule(i) + "/backendRefs/-", experimentRef(x, stableRef, port, ctx));
          owned.add(x.service());
          changes.add(
              "rule "
                  + i
                  + ": experiment backend "
                  + x.service()
                  + " missing (want weight "
                  + x.weight()
                  + ")");
        }
      }
    }
    List<ServiceRef> ownedSorted =
        owned.stream().sorted(Comparator.comparing(ServiceRef::toString)).toList();
    ledger.put(
        ctx.rolloutKey(),
        entry
            .withExperiments(ownedSorted)
            .withInProgress(d.canary() > 0, ctx.label().orElse(null))
            .withWeights(d));
    return changes;
  }

  /**
   * The port for a new experiment backend: the stable backendRef's port when the experiment Service
   * has it, else the Service's only port. Argo creates experiment Services with the template's
   * container ports, so copying the stable port blindly would point at a port the Service lacks.
   *
   * @throws InvalidConfigException when neither rule applies
   */
  static int choosePort(ServiceRef service, JsonNode serviceJson, JsonNode stableRef) {
    List<Integer> portList = new ArrayList<>();
    for (JsonNode p : serviceJson.path("spec").path("ports")) {
      if (p.path("port").isInt()) {
        portList.add(p.path("port").asInt());
      }
    }
    JsonNode stablePort = stableRef.path("port");
    if (stablePort.isInt() && portList.contains(stablePort.asInt())) {
      return stablePort.asInt();
    }
    if (portList.size() == 1) {
      return portList.getFirst();
    }
    throw new InvalidConfigException(
        "experiment Service "
            + service
            + " has ports "
            + portList
            + ", none of which is the stable backendRef's port "
            + (stablePort.isInt() ? stablePort.asText() : "(none)")
            + ": give the experiment Service that port, or a single port");
  }

  private static JsonNode experimentRef(
      ExperimentWeight x, JsonNode stableRef, int port, RouteContext ctx) {
    ObjectNode ref = JsonNodeFactory.instance.objectNode();
    for (String copied : List.of("group", "kind")) {
      if (stableRef.has(copied)) {
        ref.set(copied, stableRef.get(copied).deepCopy());
      }
    }
    ref.put("name", x.service().name());
    if (stableRef.has("namespace") || !ctx.id().namespace().equals(x.service().namespace())) {
      ref.put("namespace", x.service().namespace());
    }
    ref.put("port", port);
    ref.put("weight", x.weight());
    return ref;
  }

  private static int find(JsonPatchBuilder b, int rule, ServiceRef service, String ns) {
    ArrayNode refs = RouteJson.backendRefs(b.at(RouteJson.rule(rule)));
    for (int j = 0; j < refs.size(); j++) {
      if (service.isReferencedBy(refs.get(j), ns)) {
        return j;
      }
    }
    return -1;
  }

  private static void setWeight(
      JsonPatchBuilder b, int i, int j, int want, String role, List<String> changes) {
    String ptr = RouteJson.backendRef(i, j);
    JsonNode ref = b.at(ptr);
    JsonNode current = ref.get("weight");
    if (current != null && current.isIntegralNumber() && current.asLong() == want) {
      return;
    }
    b.test(ptr + "/name", TextNode.valueOf(ref.path("name").asText()));
    if (current == null) {
      b.add(ptr + "/weight", IntNode.valueOf(want));
    } else {
      b.replace(ptr + "/weight", IntNode.valueOf(want));
    }
    changes.add(
        "rule "
            + i
            + ": "
            + role
            + " backend "
            + ref.path("name").asText()
            + " has weight "
            + (current == null ? "(unset, 1)" : current.asText())
            + ", want "
            + want);
  }
}
