package io.weighbridge.domain.analysis;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What the lifecycle hands the {@link Analyzer}: one Rollout in one canary step. The analysis is
 * cumulative from {@code since} (the step's start): the sequential test is valid for any number of
 * looks within one step, and the lifecycle starts a new target when the canary weight changes.
 *
 * @param namespace the Rollout's namespace (where the canary and stable Services live)
 * @param rollout the Rollout's name
 * @param canaryService spec.strategy.canary.canaryService
 * @param stableService spec.strategy.canary.stableService
 * @param canaryHash the canary ReplicaSet's rollouts-pod-template-hash ("" when unknown)
 * @param stableHash the stable ReplicaSet's rollouts-pod-template-hash ("" when unknown)
 * @param routes the routes whose weights the plugin sets
 * @param since when this canary step started (data before it is ignored)
 * @param config the Rollout's analysis configuration
 */
public record RolloutAnalysisTarget(
    String namespace,
    String rollout,
    String canaryService,
    String stableService,
    String canaryHash,
    String stableHash,
    List<Route> routes,
    Instant since,
    AnalysisConfig config) {

  /** Copies the list and checks the parts. */
  public RolloutAnalysisTarget {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(rollout, "rollout");
    Objects.requireNonNull(canaryService, "canaryService");
    Objects.requireNonNull(stableService, "stableService");
    Objects.requireNonNull(canaryHash, "canaryHash");
    Objects.requireNonNull(stableHash, "stableHash");
    Objects.requireNonNull(since, "since");
    Objects.requireNonNull(config, "config");
    routes = List.copyOf(routes);
  }

  /** {@code namespace/name}, for messages. */
  public String key() {
    return namespace + "/" + rollout;
  }

  /** Where the traffic of a route is split, which decides whose metrics describe it. */
  public enum Plane {
    /** Parent is a Gateway (Traefik): traefik_service_* metrics. */
    NORTH_SOUTH,
    /** Parent is a Service (GAMMA, Linkerd): outbound_*_route_backend_* metrics. */
    EAST_WEST;
  }

  /**
   * One route of the Rollout.
   *
   * @param namespace the route's namespace
   * @param name the route's name
   * @param grpc true for a GRPCRoute (status codes are gRPC codes)
   * @param plane north/south or east/west
   */
  public record Route(String namespace, String name, boolean grpc, Plane plane) {

    /** Checks the parts. */
    public Route {
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(plane, "plane");
    }
  }

  /** The two sides compared. */
  public enum Side {
    /** The new version. */
    CANARY,
    /** The running version, the baseline. */
    STABLE;
  }

  /** The Service of one side. */
  public String service(Side side) {
    return side == Side.CANARY ? canaryService : stableService;
  }

  /** The pod-template hash of one side. */
  public String hash(Side side) {
    return side == Side.CANARY ? canaryHash : stableHash;
  }
}
