package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.domain.analysis.CanaryRouting;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget;
import io.weighbridge.domain.routing.RoutingConfig.RouteRef;
import io.weighbridge.domain.routing.RoutingConfig.RouteSelector;
import io.weighbridge.domain.routing.RoutingConfig.VerifyMode;
import io.weighbridge.domain.routing.RoutingMetrics.Operation;
import io.weighbridge.domain.routing.RoutingMetrics.VerifyReason;
import io.weighbridge.domain.routing.WeightPlanner.Desired;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing engine: Argo's traffic-router calls on Gateway API routes (HTTPRoute, GRPCRoute,
 * TCPRoute, TLSRoute; Gateway or Service parents), through the {@link RouteClient} port only.
 *
 * <p>Each call parses (or takes from a cache) the Rollout's configuration, resolves its routes, and
 * changes them one at a time under a per-route lock with a JSON patch computed by a pure planner
 * from the freshest object. Only the fields the Rollout owns change; ownership of added rules and
 * backends is recorded on the route (see {@link Ledger}). While a canary is in progress the routes
 * are watched and weights changed by others are restored ({@link DriftGuard}).
 *
 * <p>Thread-safe; {@link #close()} stops the watches and the background thread.
 */
public final class GatewayApiTrafficRouter implements TrafficRouter, CanaryRouting, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayApiTrafficRouter.class);

  /** What {@link #type()} answers; Argo only logs it. */
  public static final String TYPE = "WeighbridgeGatewayAPI";

  /** The connector version shown for the analyzer's own calls (logs only). */
  static final String ANALYZER_CALLER = "weighbridge-analyzer";

  static final String RULE_NAME_FIELD = "spec.rules[].name";
  static final String MIRROR_PERCENT_FIELD = "spec.rules[].filters[].requestMirror.percent";

  private final RouteClient client;
  private final RoutingMetrics metrics;
  private final RouterSettings settings;
  private final Clock clock;
  private final RouteLocks locks;
  private final Map<String, RoutingConfig> configCache;
  private final Map<String, RolloutState> rollouts = new ConcurrentHashMap<>();
  private final Map<String, RolloutHashes> hashes = new ConcurrentHashMap<>();
  private final ScheduledExecutorService executor;
  private final DriftGuard drift;
  private final List<WeightListener> weightListeners = new CopyOnWriteArrayList<>();
  private final List<WeightVeto> weightVetoes = new CopyOnWriteArrayList<>();

  /**
   * The hashes Argo last sent for a Rollout in UpdateHash, for the analyzer.
   *
   * @param canaryHash rollouts-pod-template-hash of the canary ReplicaSet (may be empty)
   * @param stableHash rollouts-pod-template-hash of the stable ReplicaSet (may be empty)
   * @param additionalDestinations the experiment destinations
   * @param updatedAt when Argo sent them
   */
  public record RolloutHashes(
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations,
      Instant updatedAt) {

    /** Copies the list. */
    public RolloutHashes {
      additionalDestinations = List.copyOf(additionalDestinations);
    }
  }

  /**
   * What the engine remembers about a Rollout between calls, to restore it when others change its
   * routes: the last SetWeight (null before the first), the header and mirror routes Argo set and
   * has not removed, and the routes with their planning contexts.
   */
  private record RolloutState(
      Desired desired,
      Map<RouteId, RouteContext> routes,
      Map<String, List<ObjectNode>> headers,
      Map<String, MirrorSpec> mirrors,
      Instant lastCall) {

    static RolloutState empty(Instant now) {
      return new RolloutState(null, Map.of(), Map.of(), Map.of(), now);
    }

    RolloutState withDesired(Desired d) {
      return new RolloutState(d, routes, headers, mirrors, lastCall);
    }

    RolloutState withRoutes(Map<RouteId, RouteContext> r) {
      return new RolloutState(desired, Map.copyOf(r), headers, mirrors, lastCall);
    }

    RolloutState withHeader(String name, List<ObjectNode> matches) {
      Map<String, List<ObjectNode>> h = new LinkedHashMap<>(headers);
      if (matches == null) {
        h.remove(name);
      } else {
        h.put(name, List.copyOf(matches));
      }
      return new RolloutState(desired, routes, Collections.unmodifiableMap(h), mirrors, lastCall);
    }

    RolloutState withMirror(String name, MirrorSpec mirror) {
      Map<String, MirrorSpec> m = new LinkedHashMap<>(mirrors);
      if (mirror == null) {
        m.remove(name);
      } else {
        m.put(name, mirror);
      }
      return new RolloutState(desired, routes, headers, Collections.unmodifiableMap(m), lastCall);
    }

    RolloutState withoutManaged() {
      Desired d = desired;
      if (d != null && !d.experiments().isEmpty()) {
        int freed = d.experiments().stream().mapToInt(x -> x.weight()).sum();
        d = new Desired(d.canary(), d.stable() + freed, List.of());
      }
      return new RolloutState(d, routes, Map.of(), Map.of(), lastCall);
    }

    RolloutState touched(Instant now) {
      return new RolloutState(desired, routes, headers, mirrors, now);
    }

    boolean hasManaged() {
      return !headers.isEmpty() || !mirrors.isEmpty();
    }
  }

  /** A mirror route Argo set: its converted matches and percentage. */
  private record MirrorSpec(List<ObjectNode> matches, Integer percentage) {}

  /** One planning step on a route's working copy and ledger. */
  @FunctionalInterface
  interface Step {
    void apply(JsonPatchBuilder b, Ledger ledger);
  }

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
    this.locks = new RouteLocks(settings.lockTimeout());
    this.configCache = lruCache(settings.configCacheSize());
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "weighbridge-routing");
              t.setDaemon(true);
              return t;
            });
    this.drift = new DriftGuard(client, executor, settings.driftMinInterval(), this::restore);
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

  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {
    hashes.put(
        rollout.key(),
        new RolloutHashes(
            canaryHash == null ? "" : canaryHash,
            stableHash == null ? "" : stableHash,
            additionalDestinations,
            clock.instant()));
  }

  /** The hashes Argo last sent for the Rollout, if any (kept while Argo keeps calling). */
  public Optional<RolloutHashes> hashes(String namespace, String name) {
    return Optional.ofNullable(hashes.get(namespace + "/" + name));
  }

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    RoutingConfig config = config(caller, rollout);
    if (desiredWeight > 0) {
      for (WeightVeto veto : weightVetoes) {
        Optional<String> why = veto.vetoCanary(rollout, config.pluginKey(), desiredWeight);
        if (why.isPresent()) {
          throw new RejectedException(why.get());
        }
      }
    }
    Desired desired = WeightPlanner.desired(desiredWeight, additionalDestinations, config);
    List<RouteContext> targets = contexts(config, rollout);
    Map<RouteId, RouteContext> byId = new LinkedHashMap<>();
    targets.forEach(c -> byId.put(c.id(), c));
    // Published before the writes: a drift restoration that runs in between must restore the
    // new weights, not the old ones.
    update(rollout, s -> s.withDesired(desired).withRoutes(byId));
    boolean[] managedLeft = {false};
    try {
      forEachRoute(
          Operation.SET_WEIGHT,
          "SetWeight",
          targets,
          ctx ->
              (b, ledger) -> {
                WeightPlanner.plan(b, ledger, ctx, desired, this::experimentPort);
                if (!ledger.entry(ctx.rolloutKey(), ctx.rolloutUid()).rules().isEmpty()) {
                  managedLeft[0] = true;
                }
              });
      for (WeightListener listener : weightListeners) {
        try {
          listener.weightSet(rollout, config.pluginKey(), desiredWeight);
        } catch (RuntimeException e) {
          LOG.warn("weight listener failed for Rollout {}", rollout.key(), e);
        }
      }
    } finally {
      boolean inProgress =
          desired.canary() > 0 || !desired.experiments().isEmpty() || managedLeft[0];
      if (inProgress) {
        watch(rollout.key(), byId.keySet());
      } else {
        drift.unwatch(rollout.key());
        rollouts.remove(rollout.key());
      }
    }
  }

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {
    touch(rollout);
    RoutingConfig config = config(caller, rollout);
    List<RouteContext> targets = contexts(config, rollout);
    if (headerRoute.name() == null || headerRoute.name().isEmpty()) {
      throw new InvalidConfigException("setHeaderRoute has no name: give the step a name");
    }
    if (headerRoute.isRemoval()) {
      update(rollout, s -> s.withHeader(headerRoute.name(), null));
      forEachRoute(
          Operation.SET_HEADER_ROUTE,
          "SetHeaderRoute (remove \"" + headerRoute.name() + "\")",
          targets,
          ctx ->
              (b, ledger) ->
                  HeaderRoutePlanner.plan(b, ledger, ctx, headerRoute.name(), List.of()));
      return;
    }
    List<ObjectNode> matches = HeaderRoutePlanner.headerMatches(headerRoute, config);
    List<RouteContext> eligible =
        targets.stream()
            .filter(c -> c.managedRoutesAllowed())
            .filter(c -> c.id().kind() == RouteKind.HTTP || c.id().kind() == RouteKind.GRPC)
            .toList();
    if (eligible.isEmpty()) {
      throw new InvalidConfigException(
          "setHeaderRoute \""
              + headerRoute.name()
              + "\": no HTTPRoute or GRPCRoute in "
              + config.pluginPath()
              + " has useHeaderRoutes: true, so there is no route to add it to: set"
              + " \"useHeaderRoutes\": true on the httpRoutes/grpcRoutes entries that should carry"
              + " it (a single httpRoute/grpcRoute has it on)");
    }
    RolloutState state = update(rollout, s -> s.withHeader(headerRoute.name(), matches));
    try {
      forEachRoute(
          Operation.SET_HEADER_ROUTE,
          "SetHeaderRoute \"" + headerRoute.name() + "\"",
          eligible,
          ctx ->
              (b, ledger) -> HeaderRoutePlanner.plan(b, ledger, ctx, headerRoute.name(), matches));
    } finally {
      watchManaged(rollout, state, targets);
    }
  }

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {
    touch(rollout);
    RoutingConfig config = config(caller, rollout);
    List<RouteContext> targets = contexts(config, rollout);
    if (mirrorRoute.name() == null || mirrorRoute.name().isEmpty()) {
      throw new InvalidConfigException("setMirrorRoute has no name: give the step a name");
    }
    if (mirrorRoute.isRemoval()) {
      update(rollout, s -> s.withMirror(mirrorRoute.name(), null));
      forEachRoute(
          Operation.SET_MIRROR_ROUTE,
          "SetMirrorRoute (remove \"" + mirrorRoute.name() + "\")",
          targets,
          ctx ->
              (b, ledger) ->
                  MirrorRoutePlanner.plan(b, ledger, ctx, mirrorRoute.name(), List.of(), null));
      return;
    }
    List<ObjectNode> matches = MirrorRoutePlanner.matches(mirrorRoute, config);
    List<RouteContext> eligible =
        targets.stream()
            .filter(c -> c.managedRoutesAllowed() && c.id().kind() == RouteKind.HTTP)
            .toList();
    if (eligible.isEmpty()) {
      throw new InvalidConfigException(
          "setMirrorRoute \""
              + mirrorRoute.name()
              + "\": no HTTPRoute in "
              + config.pluginPath()
              + " has useHeaderRoutes: true (mirroring needs an HTTPRoute; GRPCRoute, TCPRoute"
              + " and TLSRoute cannot express Argo's HTTP matches): set \"useHeaderRoutes\": true"
              + " on the httpRoutes entries that should carry it");
    }
    RolloutState state =
        update(
            rollout,
            s ->
                s.withMirror(
                    mirrorRoute.name(), new MirrorSpec(matches, mirrorRoute.percentage())));
    try {
      forEachRoute(
          Operation.SET_MIRROR_ROUTE,
          "SetMirrorRoute \"" + mirrorRoute.name() + "\"",
          eligible,
          ctx ->
              (b, ledger) ->
                  MirrorRoutePlanner.plan(
                      b, ledger, ctx, mirrorRoute.name(), matches, mirrorRoute.percentage()));
    } finally {
      watchManaged(rollout, state, targets);
    }
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {
    touch(rollout);
    RoutingConfig config = config(caller, rollout);
    // Header and mirror rules and experiment backends go (their weight returns to stable): a
    // drift restoration must not put them back before Argo's next call.
    rollouts.computeIfPresent(rollout.key(), (k, s) -> s.withoutManaged().touched(clock.instant()));
    forEachRoute(
        Operation.REMOVE_MANAGED_ROUTES,
        "RemoveManagedRoutes",
        contexts(config, rollout),
        ctx -> (b, ledger) -> ManagedRulePlanner.removeAll(b, ledger, ctx));
  }

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    touch(rollout);
    RoutingConfig config = config(caller, rollout);
    List<RouteRef> refs = resolve(config);
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
      RouteContext ctx = context(config, rollout, ref);
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

  /** Stops watching routes and the background thread. */
  @Override
  public void close() {
    drift.close();
    executor.shutdownNow();
  }

  /** Tells {@code listener} of every SetWeight applied from now on (the analyzer's lifecycle). */
  public void addWeightListener(WeightListener listener) {
    weightListeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /**
   * Lets {@code veto} refuse SetWeight calls above 0 (the analyzer, after it reverted a canary).
   */
  public void addWeightVeto(WeightVeto veto) {
    weightVetoes.add(Objects.requireNonNull(veto, "veto"));
  }

  @Override
  public CanaryPlan plan(Rollout rollout, String pluginKey) {
    RoutingConfig config = config(new Caller(pluginKey, ANALYZER_CALLER), rollout);
    List<RolloutAnalysisTarget.Route> routes = new ArrayList<>();
    for (RouteRef ref : resolve(config)) {
      RouteId id = ref.id();
      boolean mesh =
          client
              .get(id)
              .map(r -> r.object().path("spec").path("parentRefs"))
              .map(GatewayApiTrafficRouter::hasServiceParent)
              .orElse(false);
      routes.add(
          new RolloutAnalysisTarget.Route(
              id.namespace(),
              id.name(),
              id.kind() == RouteKind.GRPC,
              mesh
                  ? RolloutAnalysisTarget.Plane.EAST_WEST
                  : RolloutAnalysisTarget.Plane.NORTH_SOUTH));
    }
    return new CanaryPlan(
        config.analysis(), config.canaryService(), config.stableService(), routes);
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

  @Override
  public void revert(Rollout rollout, String pluginKey) {
    setWeight(new Caller(pluginKey, ANALYZER_CALLER), rollout, 0, List.of());
  }

  /** The routes watched for drift for the Rollout {@code namespace/name} (for tests and status). */
  Set<RouteId> watchedRoutes(String rolloutKey) {
    return drift.watched(rolloutKey);
  }

  // ---- configuration and routes ----

  private RoutingConfig config(Caller caller, Rollout rollout) {
    String plugin = caller.pluginName();
    if (plugin == null || plugin.isBlank()) {
      throw new InvalidConfigException(
          "the connector did not say which plugin name it runs as, so the Rollout's plugin"
              + " configuration cannot be found: upgrade the connector");
    }
    if (rollout.uid() == null || rollout.uid().isEmpty() || settings.configCacheSize() == 0) {
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
  private List<RouteRef> resolve(RoutingConfig config) {
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

  private List<RouteContext> contexts(RoutingConfig config, Rollout rollout) {
    return resolve(config).stream().map(ref -> context(config, rollout, ref)).toList();
  }

  private RouteContext context(RoutingConfig config, Rollout rollout, RouteRef ref) {
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

  private int experimentPort(ServiceRef service, JsonNode stableRef) {
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

  // ---- applying plans ----

  /**
   * Applies a step to each route in turn; when some fail, the others are still changed and the
   * failure names both (PartialFailureException), so that an operator knows which routes carry the
   * new state.
   */
  private void forEachRoute(
      Operation operation,
      String verb,
      List<RouteContext> targets,
      Function<RouteContext, Step> step) {
    List<String> succeeded = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    List<String> details = new ArrayList<>();
    WeighbridgeException first = null;
    for (RouteContext ctx : targets) {
      try {
        apply(ctx, operation, () -> step.apply(ctx));
        succeeded.add(ctx.id().toString());
      } catch (WeighbridgeException e) {
        metrics.routeFailed(ctx.id(), operation, e);
        failed.add(ctx.id().toString());
        details.add(e.getMessage());
        if (first == null) {
          first = e;
        }
      }
    }
    if (first == null) {
      return;
    }
    if (targets.size() == 1) {
      throw first;
    }
    throw new PartialFailureException(
        verb
            + " updated "
            + (succeeded.isEmpty() ? "no route" : String.join(", ", succeeded))
            + " but failed on "
            + failed.size()
            + " of "
            + targets.size()
            + " routes: "
            + String.join("; ", details),
        succeeded,
        failed,
        first);
  }

  /**
   * Plans and patches one route under its lock. The step is obtained under the lock, so that it
   * sees the state left by the call before it.
   *
   * @return whether anything was written
   */
  private boolean apply(RouteContext ctx, Operation operation, Supplier<Step> step) {
    return locks.withLock(
        ctx.id(),
        () -> {
          if (client.get(ctx.id()).isEmpty()) {
            throw new NotFoundException(
                ctx.id()
                    + " (from "
                    + ctx.source()
                    + ") does not exist: create it, or fix the name in the plugin configuration");
          }
          Step s = step.get();
          if (s == null) {
            return false;
          }
          boolean[] wrote = {false};
          client.patch(
              ctx.id(),
              fresh -> {
                List<JsonNode> ops = plan(fresh, ctx, s);
                wrote[0] = !ops.isEmpty();
                return ops;
              });
          if (wrote[0]) {
            metrics.routeWritten(ctx.id(), operation);
          } else {
            metrics.writeSkipped(ctx.id(), operation);
          }
          return wrote[0];
        });
  }

  /**
   * The patch for one route: the step's changes plus the ledger and label bookkeeping; empty when
   * nothing changes (no write at all, #230).
   */
  static List<JsonNode> plan(ObservedRoute route, RouteContext ctx, Step step) {
    Ledger before = Ledger.read(route.object(), route.id());
    Ledger after = before.copy();
    JsonPatchBuilder b = new JsonPatchBuilder(route.object());
    step.apply(b, after);
    Ledger.write(b, before, after, ctx);
    return b.changesNothing() ? List.of() : b.ops();
  }

  // ---- drift and lifecycle ----

  private boolean restore(String rolloutKey, RouteId id) {
    RolloutState peek = rollouts.get(rolloutKey);
    if (peek == null || !peek.routes().containsKey(id)) {
      return false;
    }
    boolean wrote =
        apply(
            peek.routes().get(id),
            Operation.DRIFT_RESTORE,
            () -> {
              RolloutState state = rollouts.get(rolloutKey);
              RouteContext ctx = state == null ? null : state.routes().get(id);
              return ctx == null ? null : restoration(state, ctx);
            });
    if (wrote) {
      metrics.driftRestored(id);
      LOG.info(
          "{}: someone else changed what Rollout {} set during its canary; restored",
          id,
          rolloutKey);
    }
    return wrote;
  }

  /** Everything the Rollout wants on one route, composed on one working copy. */
  private Step restoration(RolloutState state, RouteContext ctx) {
    RouteKind kind = ctx.id().kind();
    boolean headers =
        ctx.managedRoutesAllowed() && (kind == RouteKind.HTTP || kind == RouteKind.GRPC);
    boolean mirrors = ctx.managedRoutesAllowed() && kind == RouteKind.HTTP;
    return (b, ledger) -> {
      if (state.desired() != null) {
        WeightPlanner.plan(b, ledger, ctx, state.desired(), this::experimentPort);
      }
      if (headers) {
        state.headers().forEach((name, m) -> HeaderRoutePlanner.plan(b, ledger, ctx, name, m));
      }
      if (mirrors) {
        state
            .mirrors()
            .forEach(
                (name, m) ->
                    MirrorRoutePlanner.plan(b, ledger, ctx, name, m.matches(), m.percentage()));
      }
    };
  }

  /** Applies {@code change} to the Rollout's state (creating it) and returns the new state. */
  private RolloutState update(Rollout rollout, UnaryOperator<RolloutState> change) {
    return rollouts.compute(
        rollout.key(),
        (k, s) ->
            change
                .apply(s == null ? RolloutState.empty(clock.instant()) : s)
                .touched(clock.instant()));
  }

  /**
   * After a header/mirror call: watch the Rollout's routes while it has managed routes, or forget
   * it when it has neither managed routes nor a weight in progress.
   */
  private void watchManaged(Rollout rollout, RolloutState state, List<RouteContext> targets) {
    Map<RouteId, RouteContext> byId = new LinkedHashMap<>();
    targets.forEach(c -> byId.put(c.id(), c));
    if (state.routes().isEmpty()) {
      rollouts.computeIfPresent(rollout.key(), (k, s) -> s.withRoutes(byId));
    }
    boolean weightInProgress =
        state.desired() != null
            && (state.desired().canary() > 0 || !state.desired().experiments().isEmpty());
    if (state.hasManaged() || weightInProgress) {
      RolloutState current = rollouts.get(rollout.key());
      watch(rollout.key(), current == null ? byId.keySet() : current.routes().keySet());
    }
  }

  /** Starts watching; a failure to watch must not hide the call's own outcome. */
  private void watch(String rolloutKey, Set<RouteId> routes) {
    try {
      drift.watch(rolloutKey, routes);
    } catch (RuntimeException e) {
      LOG.warn("cannot watch the routes of Rollout {} for drift: {}", rolloutKey, e.getMessage());
    }
  }

  private void forgetIdleRollouts() {
    Instant cutoff = clock.instant().minus(settings.idleRolloutTimeout());
    rollouts.forEach(
        (key, state) -> {
          if (state.lastCall().isBefore(cutoff)) {
            LOG.info(
                "Rollout {} had no call since {}: no longer watching its routes",
                key,
                state.lastCall());
            drift.unwatch(key);
            rollouts.remove(key, state);
          }
        });
    hashes.entrySet().removeIf(e -> e.getValue().updatedAt().isBefore(cutoff));
  }

  /** Runs the idle sweep now (tests). */
  void forgetIdleRolloutsNow() {
    forgetIdleRollouts();
  }

  private static <K, V> Map<K, V> lruCache(int maxEntries) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
        return size() > maxEntries;
      }
    };
  }

  /** Marks the Rollout as recently called, so that its drift watch is kept. */
  private void touch(Rollout rollout) {
    rollouts.computeIfPresent(rollout.key(), (k, s) -> s.touched(clock.instant()));
  }
}
