package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * What the engine defends per Rollout between Argo's calls: for each route, the weights and the
 * header/mirror rules that a call <em>successfully</em> applied to that very route. An intent
 * enters this state only from {@link RouteWriter}'s success callback, under the route's lock, so
 * that a failed (or partly failed) call leaves nothing to "restore" on the routes it did not write,
 * and a drift restoration never runs between a call's decision and its write.
 *
 * <p>Thread-safe.
 */
final class RolloutStates {

  /** Which kind of managed rule Argo asked for. */
  enum ManagedKind {
    /** SetHeaderRoute: a rule matching headers, sending to canary (HTTPRoute, GRPCRoute). */
    HEADER,
    /** SetMirrorRoute: a rule mirroring matched requests to canary (HTTPRoute only). */
    MIRROR;

    /** Whether a route of {@code kind} can carry this rule. */
    boolean fits(RouteKind kind) {
      return kind == RouteKind.HTTP || (this == HEADER && kind == RouteKind.GRPC);
    }
  }

  /**
   * One header or mirror rule Argo set and has not removed.
   *
   * @param kind header or mirror
   * @param name the step's name
   * @param matches the converted matches (empty: remove the rule)
   * @param percentage the mirror percentage (null: all, or not a mirror)
   */
  record ManagedSpec(ManagedKind kind, String name, List<ObjectNode> matches, Integer percentage) {

    /** Copies the list. */
    ManagedSpec {
      matches = List.copyOf(matches);
    }

    /** Puts this rule (or removes it, when {@code matches} is empty) on a route's working copy. */
    void plan(JsonPatchBuilder b, Ledger ledger, RouteContext ctx) {
      if (kind == ManagedKind.HEADER) {
        HeaderRoutePlanner.plan(b, ledger, ctx, name, matches);
      } else {
        MirrorRoutePlanner.plan(b, ledger, ctx, name, matches, percentage);
      }
    }

    String key() {
      return kind + "/" + name;
    }
  }

  /**
   * What one route carries for the Rollout, as last written successfully.
   *
   * @param ctx the route's planning context of that call
   * @param desired the last SetWeight applied to the route (null before the first)
   * @param managed the header and mirror rules applied and not removed, by kind/name
   */
  record Defended(RouteContext ctx, Desired desired, Map<String, ManagedSpec> managed) {

    Defended {
      managed = Collections.unmodifiableMap(new LinkedHashMap<>(managed));
    }

    static Defended empty(RouteContext ctx) {
      return new Defended(ctx, null, Map.of());
    }

    Defended withDesired(Desired d) {
      return new Defended(ctx, d, managed);
    }

    /** With {@code spec} added, or its rule dropped when the spec is a removal. */
    Defended withManaged(ManagedSpec spec) {
      Map<String, ManagedSpec> m = new LinkedHashMap<>(managed);
      if (spec.matches().isEmpty()) {
        m.remove(spec.key());
      } else {
        m.put(spec.key(), spec);
      }
      return new Defended(ctx, desired, m);
    }

    /** After RemoveManagedRoutes: no rules, experiments' weight back to stable. */
    Defended withoutManaged() {
      return new Defended(ctx, desired == null ? null : desired.withoutExperiments(), Map.of());
    }

    /**
     * Whether the route's ledger, written in the same PATCH as every weight we set, shows that this
     * Rollout's record on the route is no longer the one this state wrote: Argo's later call was
     * served by another plugin-server replica (Argo reaches any replica behind the Service), which
     * recorded other weights or ended the canary and dropped the record. This replica's state is
     * then stale, and restoring it would fight the replica that holds the newest one. A foreign
     * edit of the weights alone leaves the ledger as it was, so it is still repaired.
     */
    boolean superseded(Ledger ledger) {
      Ledger.Entry recorded = ledger.entries().get(ctx.rolloutKey());
      if (recorded == null) {
        return inProgress();
      }
      if (ctx.rolloutUid() != null && !ctx.rolloutUid().equals(recorded.uid())) {
        return true;
      }
      return desired != null
          && desired.inProgress()
          && recorded.weights() != null
          && !recorded.weights().equals(desired);
    }

    /** Whether a drift restoration has anything to defend. */
    boolean inProgress() {
      return (desired != null && desired.inProgress()) || !managed.isEmpty();
    }

    /**
     * Everything the Rollout wants on this route, composed on one working copy; nothing when the
     * route's ledger shows this state was {@link #superseded} by a later call served elsewhere.
     */
    RouteWriter.Step restoration(WeightPlanner.ExperimentPorts ports) {
      return (b, ledger) -> {
        if (superseded(ledger)) {
          return;
        }
        if (desired != null) {
          WeightPlanner.plan(b, ledger, ctx, desired, ports);
        }
        managed.values().forEach(spec -> spec.plan(b, ledger, ctx));
      };
    }
  }

  /** One Rollout's defended routes and when Argo (or resume) last called about it. */
  record State(Map<RouteId, Defended> routes, Instant lastCall) {
    State {
      routes = Collections.unmodifiableMap(new LinkedHashMap<>(routes));
    }

    boolean inProgress() {
      return routes.values().stream().anyMatch(Defended::inProgress);
    }
  }

  private final Map<String, State> states = new ConcurrentHashMap<>();
  private final Clock clock;

  RolloutStates(Clock clock) {
    this.clock = clock;
  }

  /** Records that {@code change} was applied to route {@code ctx.id()}; marks the call. */
  void defend(String rolloutKey, RouteContext ctx, UnaryOperator<Defended> change) {
    states.compute(
        rolloutKey,
        (k, s) -> {
          Map<RouteId, Defended> routes = new LinkedHashMap<>(s == null ? Map.of() : s.routes());
          Defended before = routes.get(ctx.id());
          Defended base =
              before == null
                  ? Defended.empty(ctx)
                  : new Defended(ctx, before.desired(), before.managed());
          routes.put(ctx.id(), change.apply(base));
          return new State(routes, clock.instant());
        });
  }

  /** Like {@link #defend}, but only for a route already defended. */
  void defendIfPresent(String rolloutKey, RouteId id, UnaryOperator<Defended> change) {
    states.computeIfPresent(
        rolloutKey,
        (k, s) -> {
          Defended before = s.routes().get(id);
          if (before == null) {
            return s;
          }
          Map<RouteId, Defended> routes = new LinkedHashMap<>(s.routes());
          routes.put(id, change.apply(before));
          return new State(routes, s.lastCall());
        });
  }

  /** Forgets the routes the Rollout no longer configures. */
  void retain(String rolloutKey, Set<RouteId> configured) {
    states.computeIfPresent(
        rolloutKey,
        (k, s) -> {
          Map<RouteId, Defended> routes = new LinkedHashMap<>(s.routes());
          routes.keySet().retainAll(configured);
          return new State(routes, s.lastCall());
        });
  }

  /** What route {@code id} carries for the Rollout, if anything is defended there. */
  Optional<Defended> defended(String rolloutKey, RouteId id) {
    State s = states.get(rolloutKey);
    return Optional.ofNullable(s == null ? null : s.routes().get(id));
  }

  /** The Rollout's state, if it has one. */
  Optional<State> get(String rolloutKey) {
    return Optional.ofNullable(states.get(rolloutKey));
  }

  /** Whether the Rollout has a state (Argo called, or resume restored it). */
  boolean contains(String rolloutKey) {
    return states.containsKey(rolloutKey);
  }

  /** Installs a resumed state unless Argo called about the Rollout meanwhile. */
  boolean putIfAbsent(String rolloutKey, Map<RouteId, Defended> routes) {
    return states.putIfAbsent(rolloutKey, new State(routes, clock.instant())) == null;
  }

  /** Marks the Rollout as recently called, so that its drift watch is kept. */
  void touch(String rolloutKey) {
    states.computeIfPresent(rolloutKey, (k, s) -> new State(s.routes(), clock.instant()));
  }

  /** Forgets the Rollout. */
  void remove(String rolloutKey) {
    states.remove(rolloutKey);
  }

  /** Forgets the Rollouts without a call since {@code cutoff} and returns them with that time. */
  Map<String, Instant> forgetIdle(Instant cutoff) {
    Map<String, Instant> gone = new LinkedHashMap<>();
    List<Map.Entry<String, State>> all = new ArrayList<>(states.entrySet());
    for (Map.Entry<String, State> e : all) {
      if (e.getValue().lastCall().isBefore(cutoff) && states.remove(e.getKey(), e.getValue())) {
        gone.put(e.getKey(), e.getValue().lastCall());
      }
    }
    return gone;
  }
}
