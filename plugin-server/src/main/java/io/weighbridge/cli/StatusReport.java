package io.weighbridge.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What {@code status} reports, in the shape {@code -o json} prints.
 *
 * @param namespace the namespace looked at, or null for all
 * @param analyzer whether and how the analyzer was asked
 * @param rollouts the Rollouts that use Weighbridge
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StatusReport(String namespace, AnalyzerInfo analyzer, List<RolloutStatus> rollouts) {

  /** Copies the list. */
  public StatusReport {
    rollouts = List.copyOf(rollouts);
  }

  /**
   * The analyzer's answer as a whole.
   *
   * @param serverUrl plugin-server's HTTP URL, or null when none was given
   * @param state {@code not-queried}, {@code ok}, {@code disabled} (no Prometheus) or {@code
   *     unreachable}
   * @param detail why it is not ok, or null
   * @param leader whether the answering replica leads the analyzer
   * @param identity the answering replica (pod name)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record AnalyzerInfo(
      String serverUrl, String state, String detail, Boolean leader, String identity) {}

  /**
   * One Rollout.
   *
   * @param namespace its namespace
   * @param name its name
   * @param plugin the plugins key it configures Weighbridge under
   * @param phase status.phase
   * @param message status.message
   * @param paused paused by spec or a pause condition
   * @param aborted status.abort
   * @param step status.currentStepIndex
   * @param steps number of canary steps
   * @param stepWeight the setWeight in force at the current step
   * @param weight status.canary.weights.canary.weight (what Argo last set)
   * @param maxTrafficWeight the unit of every weight
   * @param verified status.canary.weights.verified
   * @param routes every route the configuration resolves to
   * @param error why the routes could not all be read or planned, or null
   * @param analysis the analyzer's entry for this Rollout (shape of GET /api/v1/analyses)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record RolloutStatus(
      String namespace,
      String name,
      String plugin,
      String phase,
      String message,
      boolean paused,
      boolean aborted,
      Integer step,
      int steps,
      Integer stepWeight,
      Integer weight,
      int maxTrafficWeight,
      Boolean verified,
      List<RouteStatus> routes,
      String error,
      JsonNode analysis) {

    /** Copies the list. */
    public RolloutStatus {
      routes = List.copyOf(routes);
    }
  }

  /**
   * One route of a Rollout.
   *
   * @param kind HTTPRoute, GRPCRoute, TCPRoute or TLSRoute
   * @param namespace its namespace
   * @param name its name
   * @param exists whether it exists
   * @param rules the rules that route to the canary or stable Service, with their weights
   * @param managedRules header and mirror rules this Rollout added (from the route's ledger)
   * @param inProgressLabel the GitOps in-progress label on the route, or null
   * @param drift whether the route differs from what Argo's last weight makes it (null: unknown)
   * @param diff what SetWeight(weight) would change to repair it (empty without drift)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record RouteStatus(
      String kind,
      String namespace,
      String name,
      boolean exists,
      List<RuleWeights> rules,
      List<ManagedRule> managedRules,
      String inProgressLabel,
      Boolean drift,
      List<String> diff) {

    /** Copies the lists. */
    public RouteStatus {
      rules = List.copyOf(rules);
      managedRules = List.copyOf(managedRules);
      diff = List.copyOf(diff);
    }
  }

  /**
   * The canary and stable weights in one rule.
   *
   * @param index the rule's index in spec.rules
   * @param name the rule's name, or null
   * @param stable the stable backend's weight (null: absent from the rule)
   * @param canary the canary backend's weight (null: absent from the rule)
   * @param managedRoute the managed route that added the rule, or null for the user's own rules
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record RuleWeights(
      int index, String name, Integer stable, Integer canary, String managedRoute) {}

  /**
   * A rule a Rollout added for one of Argo's managed routes.
   *
   * @param managedRoute Argo's managed route name
   * @param type header or mirror
   * @param rule the rule's name, or null when the served schema has no rule names
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ManagedRule(String managedRoute, String type, String rule) {}
}
