package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.WeightDestination;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * An Argo Rollouts Rollout as read from the cluster, with the parts of its spec and status the CLI
 * shows. Read-only view over the object's JSON.
 *
 * @param rollout the Rollout as the engine takes it (as Argo would send it)
 * @param pluginKey the key under {@code trafficRouting.plugins} that configures Weighbridge
 */
public record ArgoRollout(Rollout rollout, String pluginKey) {

  private JsonNode json() {
    return rollout.json();
  }

  private JsonNode canary() {
    return json().path("spec").path("strategy").path("canary");
  }

  /** {@code namespace/name}. */
  public String key() {
    return rollout.key();
  }

  /** status.phase (Progressing, Paused, Healthy, Degraded), or empty. */
  public String phase() {
    return json().path("status").path("phase").asText("");
  }

  /** status.message, or empty. */
  public String message() {
    return json().path("status").path("message").asText("");
  }

  /** status.abort: Argo aborted the update. */
  public boolean aborted() {
    return json().path("status").path("abort").asBoolean(false);
  }

  /** spec.paused or status.pauseConditions present. */
  public boolean paused() {
    return json().path("spec").path("paused").asBoolean(false)
        || !json().path("status").path("pauseConditions").isEmpty();
  }

  /** status.currentStepIndex, when Argo has set it. */
  public OptionalInt currentStep() {
    JsonNode index = json().path("status").path("currentStepIndex");
    return index.isIntegralNumber() ? OptionalInt.of(index.asInt()) : OptionalInt.empty();
  }

  /** The number of canary steps. */
  public int stepCount() {
    return canary().path("steps").size();
  }

  /** The setWeight of the current step, or of the last setWeight step before it. */
  public OptionalInt stepWeight() {
    OptionalInt current = currentStep();
    if (current.isEmpty()) {
      return OptionalInt.empty();
    }
    JsonNode steps = canary().path("steps");
    for (int i = Math.min(current.getAsInt(), steps.size() - 1); i >= 0; i--) {
      JsonNode w = steps.path(i).path("setWeight");
      if (w.isIntegralNumber()) {
        return OptionalInt.of(w.asInt());
      }
    }
    return OptionalInt.empty();
  }

  /** status.canary.weights.canary.weight: the weight Argo last set, in maxTrafficWeight units. */
  public OptionalInt statusCanaryWeight() {
    JsonNode w = json().path("status").path("canary").path("weights").path("canary").path("weight");
    return w.isIntegralNumber() ? OptionalInt.of(w.asInt()) : OptionalInt.empty();
  }

  /** status.canary.weights.verified, when present. */
  public Optional<Boolean> weightsVerified() {
    JsonNode v = json().path("status").path("canary").path("weights").path("verified");
    return v.isBoolean() ? Optional.of(v.asBoolean()) : Optional.empty();
  }

  /** status.canary.weights.additional: the experiment destinations Argo last set. */
  public List<WeightDestination> statusAdditionalDestinations() {
    List<WeightDestination> out = new ArrayList<>();
    for (JsonNode d : json().path("status").path("canary").path("weights").path("additional")) {
      out.add(
          new WeightDestination(
              d.path("serviceName").asText(""),
              d.path("podTemplateHash").asText(""),
              d.path("weight").asInt(0)));
    }
    return out;
  }

  /** trafficRouting.maxTrafficWeight (default 100). */
  public int maxTrafficWeight() {
    return canary().path("trafficRouting").path("maxTrafficWeight").asInt(100);
  }

  /** spec.strategy.canary.canaryService, or empty. */
  public String canaryService() {
    return canary().path("canaryService").asText("");
  }

  /** spec.strategy.canary.stableService, or empty. */
  public String stableService() {
    return canary().path("stableService").asText("");
  }

  /**
   * The setHeaderRoute step named {@code name}, as Argo would send it.
   *
   * @throws IllegalArgumentException when no step sets that header route
   */
  public HeaderRoute headerRouteStep(String name) {
    JsonNode set = step("setHeaderRoute", name);
    List<HeaderMatch> matches = new ArrayList<>();
    for (JsonNode m : set.path("match")) {
      matches.add(
          new HeaderMatch(m.path("headerName").asText(""), stringMatch(m.path("headerValue"))));
    }
    return new HeaderRoute(name, matches);
  }

  /**
   * The setMirrorRoute step named {@code name}, as Argo would send it.
   *
   * @throws IllegalArgumentException when no step sets that mirror route
   */
  public MirrorRoute mirrorRouteStep(String name) {
    JsonNode set = step("setMirrorRoute", name);
    List<RequestMatch> matches = new ArrayList<>();
    for (JsonNode m : set.path("match")) {
      Map<String, StringMatch> headers = new LinkedHashMap<>();
      m.path("headers")
          .properties()
          .forEach(h -> headers.put(h.getKey(), stringMatch(h.getValue())));
      matches.add(
          new RequestMatch(
              m.has("method") ? stringMatch(m.path("method")) : null,
              m.has("path") ? stringMatch(m.path("path")) : null,
              headers));
    }
    JsonNode pct = set.path("percentage");
    return new MirrorRoute(name, matches, pct.isIntegralNumber() ? pct.asInt() : null);
  }

  private static StringMatch stringMatch(JsonNode v) {
    return new StringMatch(
        v.path("exact").asText(""), v.path("prefix").asText(""), v.path("regex").asText(""));
  }

  /** The first step {@code {<type>: {name: <name>, ...}}}. */
  private JsonNode step(String type, String name) {
    List<String> names = new ArrayList<>();
    for (JsonNode step : canary().path("steps")) {
      JsonNode set = step.path(type);
      if (set.isObject()) {
        if (set.path("name").asText("").equals(name)) {
          return set;
        }
        names.add(set.path("name").asText(""));
      }
    }
    throw new IllegalArgumentException(
        "Rollout "
            + key()
            + " has no "
            + type
            + " step named '"
            + name
            + "'"
            + (names.isEmpty()
                ? ": it has no " + type + " step at all"
                : ": its " + type + " steps are " + String.join(", ", names)));
  }
}
