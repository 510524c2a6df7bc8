package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.domain.routing.RolloutStates.Defended;
import io.weighbridge.domain.routing.RolloutStates.ManagedKind;
import io.weighbridge.domain.routing.RolloutStates.ManagedSpec;
import io.weighbridge.domain.routing.RoutingConfig.RouteRef;
import io.weighbridge.domain.routing.RoutingConfig.VerifyMode;
import io.weighbridge.domain.routing.RoutingMetrics.Operation;
import io.weighbridge.domain.routing.RoutingMetrics.VerifyReason;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing engine: Argo's traffic-router calls on Gateway API routes (HTTPRoute, GRPCRoute,
 * TCPRoute, TLSRoute; Gateway or Service parents), through the {@link RouteClient} port only.
 *
 * <p>One consistency model for reads, writes and drift:
 *
 * <ul>
 *   <li>Reads: the adapter's informer cache first; a miss is confirmed with one GET before a route
 *       is called missing; a cached object older than our own last write is replaced by what that
 *       PATCH returned.
 *   <li>Writes: {@link RouteWriter} plans each route on the freshest object and sends one PATCH
 *       guarded by a resourceVersion {@code test}, none when nothing changes.
 *   <li>Defended state ({@link RolloutStates}): an intent is recorded for a route only after the
 *       call succeeded on that route, under its lock; a first application is never drift.
 *   <li>Drift ({@link DriftGuard}): watch events equal to our own PATCH's answer are ignored;
 *       others re-apply the defended state, which writes only when it differs.
 * </ul>
 *
 * <p>The parts: {@link RouteTargets} (configuration to routes), {@link RouteWriter} (per-route
 * writes), {@link RolloutStates} (per-Rollout state), {@link DriftGuard} (watches) and {@link
 * DriftResume} (restart-resume). Thread-safe; {@link #close()} stops the watches and threads.
 */
public final class GatewayApiTrafficRouter implements TrafficRouter, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayApiTrafficRouter.class);

  /** What {@link #type()} answers; Argo only logs it. */
  public static final String TYPE = "WeighbridgeGatewayAPI";

  /** The connector version shown for {@link #routePlan} (logs only). */
  private static final String ROUTE_PLAN_CALLER = "weighbridge-route-plan";

  static final String RULE_NAME_FIELD = RouteTargets.RULE_NAME_FIELD;
  static final String MIRROR_PERCENT_FIELD = RouteTargets.MIRROR_PERCENT_FIELD;

  private final RouteClient client;
  private final RoutingMetrics metrics;
  private final RouterSettings settings;
  private final Clock clock;
  private final RouteTargets targets;
  private final RouteWriter writer;
  private final RolloutStates states;
  private final ScheduledExecutorService executor;
  private final DriftGuard drift;
  private final DriftResume resume;

  /** Creates the engine with the system clock. */
  public GatewayApiTrafficRouter(
      RouteClient client, RoutingMetrics metrics, RouterSettings settings) {
    this(client, metrics, settings, Clock.systemUTC());
  }

  /** Creates the engine; {@code clock} decides when Rollouts count as idle. */
  public GatewayApiTrafficRouter(
      RouteClient client, RoutingMetrics metrics, RouterSettings settings, Clock clock) {
    this.client = client;
    this.metrics = metrics;
    this.settings = settings;
    this.clock = clock;
    this.targets = new RouteTargets(client, settings.configCacheSize());
    this.writer = new RouteWriter(client, metrics, settings);
    this.states = new RolloutStates(clock);
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "weighbridge-routing");
              t.setDaemon(true);
              return t;
            });
    this.drift =
        new DriftGuard(
            client, executor, settings.driftMinInterval(), this::restore, writer::isOwnWrite);
    this.resume = new DriftResume(client, targets, states, drift, settings.idleRolloutTimeout());
    long sweepMillis = Math.max(1000, Math.min(60_000, settings.idleRolloutTimeout().toMillis()));
    executor.scheduleWithFixedDelay(
        this::forgetIdleRollouts, sweepMillis, sweepMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void initPlugin(Caller caller) {
    LOG.info("connector {} (version {}) started", caller.pluginName(), caller.connectorVersion());
  }

  @Override
  public String type() {
    return TYPE;
  }

  /** Nothing to do: the engine needs no ReplicaSet hashes (Argo sends them before SetWeight). */
  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {}

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    RoutingConfig config = targets.config(caller, rollout);
    Desired desired = WeightPlanner.desired(desiredWeight, additionalDestinations, config);
    List<RouteContext> contexts = targets.contexts(config, rollout);
    String key = rollout.key();
    states.retain(key, contexts.stream().map(RouteContext::id).collect(Collectors.toSet()));
    states.touch(key);
    AtomicBoolean managedLeft = new AtomicBoolean();
    try {
      writer.forEachRoute(
          Operation.SET_WEIGHT,
          "SetWeight",
          contexts,
          ctx ->
              (b, ledger) -> {
                WeightPlanner.plan(b, ledger, ctx, desired, targets::experimentPort);
                if (!ledger.entry(ctx.rolloutKey(), ctx.rolloutUid()).rules().isEmpty()) {
                  managedLeft.set(true);
                }
              },
          ctx -> states.defend(key, ctx, d -> d.withDesired(desired)));
    } finally {
      if (desired.inProgress() || managedLeft.get()) {
        watchDefended(key, managedLeft.get());
      } else {
        drift.unwatch(key);
        states.remove(key);
      }
    }
  }

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {
    if (headerRoute.name() == null || headerRoute.name().isEmpty()) {
      throw new InvalidConfigException("setHeaderRoute has no name: give the step a name");
    }
    setManagedRoute(
        caller,
        rollout,
        ManagedKind.HEADER,
        headerRoute.name(),
        headerRoute.isRemoval(),
        config ->
            new ManagedSpec(
                ManagedKind.HEADER,
                headerRoute.name(),
                HeaderRoutePlanner.headerMatches(headerRoute, config),
                null));
  }

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {
    if (mirrorRoute.name() == null || mirrorRoute.name().isEmpty()) {
      throw new InvalidConfigException("setMirrorRoute has no name: give the step a name");
    }
    setManagedRoute(
        caller,
        rollout,
        ManagedKind.MIRROR,
        mirrorRoute.name(),
        mirrorRoute.isRemoval(),
        config ->
            new ManagedSpec(
                ManagedKind.MIRROR,
                mirrorRoute.name(),
                MirrorRoutePlanner.matches(mirrorRoute, config),
                mirrorRoute.percentage()));
  }

  /**
   * SetHeaderRoute and SetMirrorRoute: adds (or removes) one named managed rule on the routes that
   * may carry it, and defends it on each route it was written to.
   */
  private void setManagedRoute(
      Caller caller,
      Rollout rollout,
      ManagedKind kind,
      String name,
      boolean removal,
      java.util.function.Function<RoutingConfig, ManagedSpec> spec) {
    String key = rollout.key();
    states.touch(key);
    RoutingConfig config = targets.config(caller, rollout);
    List<RouteContext> contexts = targets.contexts(config, rollout);
    Operation operation =
        kind == ManagedKind.HEADER ? Operation.SET_HEADER_ROUTE : Operation.SET_MIRROR_ROUTE;
    String call = kind == ManagedKind.HEADER ? "SetHeaderRoute" : "SetMirrorRoute";
    if (removal) {
      ManagedSpec remove = new ManagedSpec(kind, name, List.of(), null);
      writer.forEachRoute(
          operation,
          call + " (remove \"" + name + "\")",
          contexts,
          ctx -> (b, ledger) -> remove.plan(b, ledger, ctx),
          ctx -> states.defendIfPresent(key, ctx.id(), d -> d.withManaged(remove)));
      return;
    }
    ManagedSpec wanted = spec.apply(config);
    List<RouteContext> eligible =
        contexts.stream()
            .filter(c -> c.managedRoutesAllowed() && kind.fits(c.id().kind()))
            .toList();
    if (eligible.isEmpty()) {
      throw new InvalidConfigException(noEligibleRoute(kind, name, config.pluginPath()));
    }
    try {
      writer.forEachRoute(
          operation,
          call + " \"" + name + "\"",
          eligible,
          ctx -> (b, ledger) -> wanted.plan(b, ledger, ctx),
          ctx -> states.defend(key, ctx, d -> d.withManaged(wanted)));
    } finally {
      watchDefended(key, false);
    }
  }

  private static String noEligibleRoute(ManagedKind kind, String name, String pluginPath) {
    if (kind == ManagedKind.HEADER) {
      return "setHeaderRoute \""
          + name
          + "\": no HTTPRoute or GRPCRoute in "
          + pluginPath
          + " has useHeaderRoutes: true, so there is no route to add it to: set"
          + " \"useHeaderRoutes\": true on the httpRoutes/grpcRoutes entries that should carry"
          + " it (a single httpRoute/grpcRoute has it on)";
    }
    return "setMirrorRoute \""
        + name
        + "\": no HTTPRoute in "
        + pluginPath
        + " has useHeaderRoutes: true (mirroring needs an HTTPRoute; GRPCRoute, TCPRoute"
        + " and TLSRoute cannot express Argo's HTTP matches): set \"useHeaderRoutes\": true"
        + " on the httpRoutes entries that should carry it";
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {
    String key = rollout.key();
    states.touch(key);
    RoutingConfig config = targets.config(caller, rollout);
    // Header and mirror rules and experiment backends go (their weight returns to stable), and
    // stop being defended on each route they were removed from.
    writer.forEachRoute(
        Operation.REMOVE_MANAGED_ROUTES,
        "RemoveManagedRoutes",
        targets.contexts(config, rollout),
        ctx -> (b, ledger) -> ManagedRulePlanner.removeAll(b, ledger, ctx),
        ctx -> states.defendIfPresent(key, ctx.id(), Defended::withoutManaged));
  }

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    states.touch(rollout.key());
    RoutingConfig config = targets.config(caller, rollout);
    List<RouteRef> refs = targets.resolve(config);
    if (refs.stream().allMatch(r -> r.verifyMode() == VerifyMode.OFF)) {
      metrics.verifyOutcome(VerifyResult.Verification.NOT_IMPLEMENTED, VerifyReason.DISABLED);
      return VerifyResult.notImplemented(
          "weight verification is switched off (verifyWeight: \"off\" in "
              + config.pluginPath()
              + ")");
    }
    Desired desired = WeightPlanner.desired(desiredWeight, additionalDestinations, config);
    for (RouteRef ref : refs) {
      if (ref.verifyMode() == VerifyMode.OFF) {
        continue;
      }
      RouteContext ctx = targets.context(config, rollout, ref);
      Optional<ObservedRoute> route = client.get(ref.id());
      WeightVerifier.Outcome outcome =
          route.isEmpty()
              ? new WeightVerifier.Outcome(
                  VerifyReason.ROUTE_MISSING,
                  ref.id() + " (from " + ref.source() + ") does not exist")
              : WeightVerifier.verify(route.get().object(), ctx, desired, ref.verifyMode());
      if (!outcome.verified()) {
        metrics.verifyOutcome(VerifyResult.Verification.NOT_VERIFIED, outcome.reason());
        return VerifyResult.notVerified(outcome.message());
      }
    }
    metrics.verifyOutcome(VerifyResult.Verification.VERIFIED, VerifyReason.VERIFIED);
    return VerifyResult.verified();
  }

  /**
   * The Services and routes of the Rollout's configuration under {@code pluginKey}, each route with
   * whether its parent is a Service (for the analyzer's wiring; reads only).
   *
   * @throws io.weighbridge.domain.WeighbridgeException when the configuration is invalid or the
   *     routes cannot be resolved
   */
  public RoutePlan routePlan(Rollout rollout, String pluginKey) {
    RoutingConfig config = targets.config(new Caller(pluginKey, ROUTE_PLAN_CALLER), rollout);
    List<RoutePlan.PlannedRoute> routes = new ArrayList<>();
    for (RouteRef ref : targets.resolve(config)) {
      boolean mesh =
          client
              .get(ref.id())
              .map(r -> r.object().path("spec").path("parentRefs"))
              .map(GatewayApiTrafficRouter::hasServiceParent)
              .orElse(false);
      routes.add(new RoutePlan.PlannedRoute(ref.id(), mesh));
    }
    return new RoutePlan(config.canaryService(), config.stableService(), routes);
  }

  /** GAMMA: a route whose parent is a Service splits east/west (mesh) traffic. */
  private static boolean hasServiceParent(JsonNode parentRefs) {
    for (JsonNode ref : parentRefs) {
      String group = ref.path("group").asText("");
      if ("Service".equals(ref.path("kind").asText(""))
          && (group.isEmpty() || group.equals("core"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Resumes drift restoration after a restart without waiting for Argo's next call. Finds the
   * routes whose ledger records a canary in progress, checks that each such Rollout still exists
   * with the recorded uid and still configures this plugin, and watches its routes with the
   * recorded weights (a drift made while plugin-server was down is repaired at once). Rollouts Argo
   * has called about since the start keep the state of that call; routes whose ledger disagree on
   * the weights (an interrupted SetWeight) wait for Argo. The idle timeout applies as to any
   * Rollout: without a call from Argo, a resumed Rollout is no longer enforced after {@link
   * RouterSettings#idleRolloutTimeout()}.
   *
   * <p>Runs in the background and returns at once (it must never delay readiness); a failed search
   * (API server unreachable, informer not synced) is logged and tried again with backoff, up to
   * {@link ResumeSettings#maxAttempts()}.
   *
   * @return completes with what was resumed, or exceptionally after the last failed attempt
   */
  public CompletableFuture<ResumeReport> resume(RolloutLookup lookup, ResumeSettings rs) {
    return resume.start(lookup, rs);
  }

  /** Stops watching routes and the background threads. */
  @Override
  public void close() {
    resume.close();
    drift.close();
    executor.shutdownNow();
    writer.close();
  }

  /** The routes watched for drift for the Rollout {@code namespace/name} (for tests and status). */
  Set<RouteId> watchedRoutes(String rolloutKey) {
    return drift.watched(rolloutKey);
  }

  // ---- drift and lifecycle ----

  /** Re-applies what the Rollout defends on route {@code id}; true when that wrote (drift). */
  private boolean restore(String rolloutKey, RouteId id) {
    Optional<Defended> peek = states.defended(rolloutKey, id);
    if (peek.isEmpty()) {
      return false;
    }
    boolean wrote =
        writer.apply(
            peek.get().ctx(),
            Operation.DRIFT_RESTORE,
            // read again under the lock: the state a call left on this route just before
            () ->
                states
                    .defended(rolloutKey, id)
                    .map(d -> d.restoration(targets::experimentPort))
                    .orElse(null),
            RouteWriter.Applied.nothing());
    if (wrote) {
      metrics.driftRestored(id);
      LOG.info(
          "{}: someone else changed what Rollout {} set during its canary; restored",
          id,
          rolloutKey);
    }
    return wrote;
  }

  /**
   * Watches the Rollout's defended routes while something is in progress there (or {@code always},
   * when the routes still carry managed rules the state does not know of).
   */
  private void watchDefended(String rolloutKey, boolean always) {
    Optional<RolloutStates.State> state = states.get(rolloutKey);
    if (state.isEmpty() || !(always || state.get().inProgress())) {
      return;
    }
    try {
      drift.watch(rolloutKey, state.get().routes().keySet());
    } catch (RuntimeException e) {
      // a failure to watch must not hide the call's own outcome
      LOG.warn("cannot watch the routes of Rollout {} for drift: {}", rolloutKey, e.getMessage());
    }
  }

  private void forgetIdleRollouts() {
    Instant cutoff = clock.instant().minus(settings.idleRolloutTimeout());
    states
        .forgetIdle(cutoff)
        .forEach(
            (key, lastCall) -> {
              LOG.info(
                  "Rollout {} had no call since {}: no longer watching its routes", key, lastCall);
              drift.unwatch(key);
            });
  }

  /** Runs the idle sweep now (tests). */
  void forgetIdleRolloutsNow() {
    forgetIdleRollouts();
  }
}
