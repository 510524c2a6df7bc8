package io.weighbridge.domain.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.CanaryRouting.CanaryPlan;
import io.weighbridge.domain.analysis.Verdict.CheckResult;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The analyzer's lifecycle: which Rollouts are analysed, since when, and what is done about a
 * verdict. It learns of canary steps from two sources, so that it survives restarts and does not
 * wait for the Rollout's status: the engine's SetWeight calls ({@link #weightSet}) and the Rollouts
 * as watched in the cluster ({@link #rolloutObserved}).
 *
 * <p>An analysis runs while a Rollout configured with one of our plugin names has a canary weight
 * above 0, a canary pod-template hash different from stable's, and is not aborted. A new analysis
 * (a new {@link RolloutAnalysisTarget} with {@code since} = now) starts whenever the weight
 * changes. Only the leader ({@link Leadership}) evaluates and acts. A FAILED verdict acts at once;
 * an INCONCLUSIVE one acts only when the user chose {@code onInconclusive} and it has lasted {@link
 * Settings#inconclusiveGrace()}; otherwise one Event says so.
 *
 * <p>Thread-safe: inputs come from gRPC and informer threads, {@link #tick()} from its own thread.
 */
public final class AnalysisCoordinator implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AnalysisCoordinator.class);

  /** Event reason: the analyzer aborted a canary. */
  public static final String REASON_ABORTED = "WeighbridgeCanaryAborted";

  /** Event reason: the analyzer paused a canary. */
  public static final String REASON_PAUSED = "WeighbridgeCanaryPaused";

  /** Event reason: the analyzer could not decide (no data, NaN, Prometheus unreachable). */
  public static final String REASON_INCONCLUSIVE = "WeighbridgeAnalysisInconclusive";

  /**
   * How the lifecycle runs.
   *
   * @param interval time between two evaluations of every analysed Rollout
   * @param inconclusiveGrace how long an analysis must stay inconclusive before it counts (a fresh
   *     step has no data until the next scrape)
   * @param pluginCallPrecedence for this long after a SetWeight call, the weight in the watched
   *     Rollout's status is not trusted over it (Argo writes the status after the call)
   * @param keepFinished how long a finished analysis stays visible in {@link #snapshot()}
   * @param pluginNames the plugin names whose configuration marks a Rollout as ours
   */
  public record Settings(
      Duration interval,
      Duration inconclusiveGrace,
      Duration pluginCallPrecedence,
      Duration keepFinished,
      Set<String> pluginNames) {

    /** Copies the set and checks the parts. */
    public Settings {
      Objects.requireNonNull(interval, "interval");
      Objects.requireNonNull(inconclusiveGrace, "inconclusiveGrace");
      Objects.requireNonNull(pluginCallPrecedence, "pluginCallPrecedence");
      Objects.requireNonNull(keepFinished, "keepFinished");
      pluginNames = Set.copyOf(pluginNames);
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("interval must be > 0: " + interval);
      }
    }

    /** These settings with another interval. */
    public Settings withInterval(Duration d) {
      return new Settings(d, inconclusiveGrace, pluginCallPrecedence, keepFinished, pluginNames);
    }

    /** Every 2 s, 60 s grace, 30 s precedence, finished kept 15 min. */
    public static Settings defaults(Set<String> pluginNames) {
      return new Settings(
          Duration.ofSeconds(2),
          Duration.ofSeconds(60),
          Duration.ofSeconds(30),
          Duration.ofMinutes(15),
          pluginNames);
    }
  }

  /** Where an analysis stands, as the status API shows it. */
  public enum Phase {
    /** Being evaluated; no evidence against the canary so far. */
    ANALYZING,
    /** The canary left its step (promoted or next step) after healthy verdicts only. */
    PASSED,
    /**
     * The canary left its step without any decisive verdict (no data, Prometheus unreachable, too
     * few samples): nothing was judged, so nothing passed.
     */
    UNJUDGED,
    /** The analyzer aborted the Rollout. */
    ABORTED,
    /** The analyzer paused the Rollout. */
    PAUSED,
    /** Being evaluated; the last verdict could not decide. */
    INCONCLUSIVE;
  }

  /**
   * One analysis as the status API shows it.
   *
   * @param namespace the Rollout's namespace
   * @param rollout the Rollout's name
   * @param phase where it stands
   * @param canaryWeight the canary weight of the step, in units of maxTrafficWeight
   * @param since when the step (and so the analysis) started
   * @param verdict the last verdict, when one was made
   */
  public record AnalysisView(
      String namespace,
      String rollout,
      Phase phase,
      int canaryWeight,
      Instant since,
      Optional<Verdict> verdict) {}

  /**
   * The state of all analyses.
   *
   * @param leader whether this replica evaluates and acts
   * @param identity this replica's identity
   * @param analyses the current and recently finished analyses, by namespace and name
   */
  public record Snapshot(boolean leader, String identity, List<AnalysisView> analyses) {

    /** Copies the list. */
    public Snapshot {
      analyses = List.copyOf(analyses);
    }
  }

  /** Everything known about one Rollout of ours. Guarded by its own monitor. */
  private static final class Tracked {
    Rollout rollout;
    String pluginKey;
    int weight;
    Instant pluginCallAt = Instant.MIN;
    boolean aborted;
    boolean paused;
    String canaryHash = "";
    String stableHash = "";

    // the current analysis (one canary step); since == null: none
    Instant since;
    int targetWeight;
    RolloutAnalysisTarget target;
    Phase phase;
    Verdict lastVerdict;
    Instant firstBadAt;
    Instant inconclusiveSince;
    boolean inconclusiveReported;

    /** A HEALTHY verdict was reached in this step (PASSED rather than UNJUDGED at its end). */
    boolean judgedHealthy;

    Instant finishedAt;
    // after our abort: no new analysis of this canary until Argo shows the abort and it is retried
    boolean holdAfterAbort;
    boolean sawAbort;
    // after our pause: no new action until the user resumes
    boolean holdAfterPause;
  }

  private final Analyzer analyzer;
  private final CanaryRouting routing;
  private final RolloutActions actions;
  private final Leadership leadership;
  private final AnalysisMetrics metrics;
  private final Settings settings;
  private final Clock clock;
  private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
  private volatile ScheduledExecutorService executor;

  /** Creates the coordinator; {@link #start()} begins the periodic evaluation. */
  public AnalysisCoordinator(
      Analyzer analyzer,
      CanaryRouting routing,
      RolloutActions actions,
      Leadership leadership,
      AnalysisMetrics metrics,
      Settings settings,
      Clock clock) {
    this.analyzer = Objects.requireNonNull(analyzer, "analyzer");
    this.routing = Objects.requireNonNull(routing, "routing");
    this.actions = Objects.requireNonNull(actions, "actions");
    this.leadership = Objects.requireNonNull(leadership, "leadership");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** Evaluates every {@link Settings#interval()} on a daemon thread until {@link #close()}. */
  public synchronized void start() {
    if (executor != null) {
      return;
    }
    executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("weighbridge-analyzer").daemon().unstarted(r));
    long millis = settings.interval().toMillis();
    executor.scheduleWithFixedDelay(this::tickSafely, millis, millis, TimeUnit.MILLISECONDS);
  }

  @Override
  public synchronized void close() {
    if (executor != null) {
      executor.shutdownNow();
      executor = null;
    }
  }

  private void tickSafely() {
    try {
      tick();
    } catch (RuntimeException e) {
      LOG.error("analyzer round failed; retrying in {}", settings.interval(), e);
    }
  }

  // ---- inputs ----

  /**
   * Argo applied SetWeight through the engine: the weight is current now, before the Rollout's
   * status says so.
   */
  public void weightSet(Rollout rollout, String pluginKey, int desiredWeight) {
    Instant now = clock.instant();
    Tracked t = tracked.computeIfAbsent(rollout.key(), k -> new Tracked());
    synchronized (t) {
      readStatus(t, rollout, pluginKey, false);
      t.weight = desiredWeight;
      t.pluginCallAt = now;
      reconcile(t, now);
    }
  }

  /** A Rollout as watched in the cluster (added or changed). */
  public void rolloutObserved(Rollout rollout) {
    Optional<String> plugin = pluginKey(rollout.json());
    if (plugin.isEmpty()) {
      tracked.remove(rollout.key());
      return;
    }
    Instant now = clock.instant();
    Tracked t = tracked.computeIfAbsent(rollout.key(), k -> new Tracked());
    synchronized (t) {
      readStatus(t, rollout, plugin.get(), true);
      JsonNode w = rollout.json().at("/status/canary/weights/canary/weight");
      boolean callIsFresh =
          Duration.between(t.pluginCallAt, now).compareTo(settings.pluginCallPrecedence()) < 0;
      if (w.isNumber() && (!callIsFresh || t.aborted)) {
        t.weight = w.asInt();
      } else if (!w.isNumber() && !callIsFresh) {
        t.weight = 0;
      }
      reconcile(t, now);
    }
  }

  /**
   * Why a SetWeight above 0 must not be applied now: the analyzer reverted this revision of the
   * canary and Argo has not taken the abort yet (its call started before it). Empty otherwise,
   * including for a new revision and after the user retried the Rollout.
   */
  public Optional<String> vetoCanary(Rollout rollout, String pluginKey, int desiredWeight) {
    Tracked t = tracked.get(rollout.key());
    if (t == null) {
      return Optional.empty();
    }
    synchronized (t) {
      if (!t.holdAfterAbort) {
        return Optional.empty();
      }
      String hash = rollout.json().at("/status/currentPodHash").asText("");
      if (!hash.isEmpty() && !t.canaryHash.isEmpty() && !hash.equals(t.canaryHash)) {
        return Optional.empty(); // a new revision: not what was aborted
      }
      return Optional.of(
          "the Weighbridge analyzer aborted the canary of Rollout "
              + rollout.key()
              + (t.canaryHash.isEmpty() ? "" : " (pod-template hash " + t.canaryHash + ")")
              + " and set its weight to 0, so SetWeight("
              + desiredWeight
              + ") is refused: Argo sets the weight to 0 once it sees status.abort; to try the"
              + " canary again, retry the Rollout (kubectl argo rollouts retry rollout "
              + rollout.name()
              + ")");
    }
  }

  /** The Rollout was deleted: its analysis ends without a trace. */
  public void rolloutDeleted(String namespace, String name) {
    tracked.remove(namespace + "/" + name);
  }

  /**
   * Takes the Rollout's hashes and, from the watch only, its abort and pause state: the Rollout in
   * a plugin call is as Argo saw it when the call began, so it may predate our own abort or pause.
   */
  private void readStatus(Tracked t, Rollout rollout, String pluginKey, boolean watched) {
    JsonNode json = rollout.json();
    t.rollout = rollout;
    t.pluginKey = pluginKey;
    readHashes(t, json);
    if (!watched) {
      return;
    }
    boolean aborted = json.at("/status/abort").asBoolean(false);
    if (aborted) {
      t.sawAbort = true;
    } else if (t.sawAbort) {
      // the user retried the aborted Rollout: a fresh analysis, on fresh data, may start
      t.holdAfterAbort = false;
      t.sawAbort = false;
      t.since = null;
    }
    t.aborted = aborted;
    boolean paused = json.at("/spec/paused").asBoolean(false);
    if (t.paused && !paused && t.holdAfterPause) {
      // resumed by the user after our pause: judge only what comes from now on
      t.holdAfterPause = false;
      t.since = null;
    }
    t.paused = paused;
  }

  private static void readHashes(Tracked t, JsonNode json) {
    // a Rollout without status (just created, or an older copy) says nothing about the hashes
    String canaryHash = json.at("/status/currentPodHash").asText("");
    String stableHash = json.at("/status/stableRS").asText("");
    if (!canaryHash.isEmpty()) {
      if (!t.canaryHash.isEmpty() && !canaryHash.equals(t.canaryHash)) {
        t.holdAfterAbort = false; // a new revision
        t.holdAfterPause = false;
      }
      t.canaryHash = canaryHash;
    }
    if (!stableHash.isEmpty()) {
      t.stableHash = stableHash;
    }
  }

  /** The first of the Rollout's traffic-router plugins that is one of ours. */
  private Optional<String> pluginKey(JsonNode rollout) {
    JsonNode plugins = rollout.at("/spec/strategy/canary/trafficRouting/plugins");
    for (Iterator<String> it = plugins.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (settings.pluginNames().contains(name)) {
        return Optional.of(name);
      }
    }
    return Optional.empty();
  }

  /** Starts, restarts or ends the analysis after the Rollout's state changed. */
  private void reconcile(Tracked t, Instant now) {
    boolean inCanary =
        t.weight > 0
            && !t.aborted
            && !(t.canaryHash.equals(t.stableHash) && !t.canaryHash.isEmpty());
    if (!inCanary) {
      if (t.since != null) {
        finish(t, now, t.aborted ? "the Rollout was aborted" : "the canary left its step");
      }
      return;
    }
    if (t.holdAfterAbort) {
      return;
    }
    boolean running = t.since != null && t.finishedAt == null;
    if (running && t.targetWeight == t.weight) {
      return;
    }
    if (running) {
      LOG.info(
          "Rollout {}: canary weight {} -> {}, new analysis from now",
          t.rollout.key(),
          t.targetWeight,
          t.weight);
    } else {
      LOG.info("Rollout {}: canary at weight {}, analysis starts", t.rollout.key(), t.weight);
    }
    t.since = now;
    t.targetWeight = t.weight;
    t.target = null;
    t.phase = Phase.ANALYZING;
    t.lastVerdict = null;
    t.firstBadAt = null;
    t.inconclusiveSince = null;
    t.inconclusiveReported = false;
    t.judgedHealthy = false;
    t.finishedAt = null;
    t.holdAfterPause = false;
  }

  private void finish(Tracked t, Instant now, String why) {
    if (t.finishedAt != null) {
      return;
    }
    if (t.phase == Phase.ANALYZING || t.phase == Phase.INCONCLUSIVE) {
      if (t.aborted) {
        // aborted by someone else: nothing of ours to show
        t.since = null;
        return;
      }
      t.phase = t.judgedHealthy ? Phase.PASSED : Phase.UNJUDGED;
    }
    t.finishedAt = now;
    LOG.info("Rollout {}: analysis ends ({}), {}", t.rollout.key(), why, t.phase);
  }

  // ---- evaluation ----

  /** One round: evaluates every running analysis and acts on the verdicts (leader only). */
  public void tick() {
    Instant now = clock.instant();
    tracked.values().removeIf(t -> expired(t, now));
    if (!leadership.isLeader()) {
      return;
    }
    for (Tracked t : List.copyOf(tracked.values())) {
      RolloutAnalysisTarget target;
      synchronized (t) {
        if (t.since == null || t.finishedAt != null || t.holdAfterPause || t.holdAfterAbort) {
          continue;
        }
        if (t.target == null) {
          try {
            CanaryPlan plan = routing.plan(t.rollout, t.pluginKey);
            t.target =
                new RolloutAnalysisTarget(
                    t.rollout.namespace(),
                    t.rollout.name(),
                    plan.canaryService(),
                    plan.stableService(),
                    t.canaryHash,
                    t.stableHash,
                    plan.routes(),
                    t.since,
                    plan.config());
          } catch (WeighbridgeException e) {
            LOG.warn("Rollout {}: cannot analyse: {}", t.rollout.key(), e.getMessage());
            continue;
          }
        }
        target = t.target;
      }
      if (!target.config().enabled()) {
        continue;
      }
      Verdict verdict = analyzer.evaluate(target, now);
      metrics.verdict(verdict.outcome());
      Decision decision;
      synchronized (t) {
        if (t.target != target || t.finishedAt != null) {
          continue; // the step changed while we were asking Prometheus
        }
        decision = judge(t, verdict, now);
      }
      if (decision != null) {
        act(t, decision);
      }
    }
  }

  private boolean expired(Tracked t, Instant now) {
    return t.finishedAt != null
        && Duration.between(t.finishedAt, now).compareTo(settings.keepFinished()) > 0
        && t.weight == 0;
  }

  /** What to do, decided under the lock and done outside it. */
  private record Decision(
      Rollout rollout,
      String pluginKey,
      Action action,
      String trigger,
      Verdict verdict,
      Optional<Duration> sinceFirstBad) {}

  private Decision judge(Tracked t, Verdict v, Instant now) {
    t.lastVerdict = v;
    if (t.firstBadAt == null && v.checks().stream().anyMatch(AnalysisCoordinator::canaryWorse)) {
      t.firstBadAt = now;
    }
    Optional<Duration> sinceFirstBad =
        Optional.ofNullable(t.firstBadAt).map(at -> Duration.between(at, now));
    switch (v.outcome()) {
      case HEALTHY -> {
        t.phase = Phase.ANALYZING;
        t.judgedHealthy = true;
        t.inconclusiveSince = null;
        return null;
      }
      case FAILED -> {
        Action action = v.action().orElse(Action.ABORT);
        hold(t, action);
        if (action == Action.PAUSE && t.paused) {
          return null; // already paused (by us before a restart, or by a user): nothing to add
        }
        return new Decision(t.rollout, t.pluginKey, action, "failed", v, sinceFirstBad);
      }
      default -> {
        t.phase = Phase.INCONCLUSIVE;
        if (t.inconclusiveSince == null) {
          t.inconclusiveSince = now;
        }
        if (Duration.between(t.inconclusiveSince, now).compareTo(settings.inconclusiveGrace())
            < 0) {
          return null;
        }
        if (v.action().isPresent()) {
          hold(t, v.action().get());
          return new Decision(
              t.rollout, t.pluginKey, v.action().get(), "inconclusive", v, sinceFirstBad);
        }
        if (!t.inconclusiveReported) {
          t.inconclusiveReported = true;
          return new Decision(t.rollout, t.pluginKey, null, "inconclusive", v, sinceFirstBad);
        }
        return null;
      }
    }
  }

  /** Marks the analysis as acted upon, so that no second action follows. */
  private static void hold(Tracked t, Action action) {
    if (action == Action.ABORT) {
      t.phase = Phase.ABORTED;
      t.holdAfterAbort = true;
    } else {
      t.phase = Phase.PAUSED;
      t.holdAfterPause = true;
    }
  }

  /** True when a check's figures show the canary worse than stable (the first bad sample). */
  private static boolean canaryWorse(CheckResult c) {
    if (c.outcome() == Outcome.FAILED) {
      return true;
    }
    return !Double.isNaN(c.canary())
        && !Double.isNaN(c.stable())
        && c.canary() > c.stable()
        && c.canarySamples() != 0
        && !c.name().startsWith("latency/")
        && c.canary() > 0;
  }

  private void act(Tracked t, Decision d) {
    Rollout rollout = d.rollout();
    String evidence = d.verdict().describe();
    if (d.action() == null) {
      LOG.warn(
          "Rollout {}: analysis inconclusive, no action (onInconclusive)\n{}",
          rollout.key(),
          evidence);
      event(
          rollout,
          false,
          REASON_INCONCLUSIVE,
          "Weighbridge cannot judge the canary (no action: onInconclusive is nothing; the"
              + " Rollout's own steps decide). "
              + evidence);
      return;
    }
    String notes = "";
    boolean done;
    if (d.action() == Action.ABORT) {
      LOG.warn("Rollout {}: aborting the canary ({})\n{}", rollout.key(), d.trigger(), evidence);
      try {
        routing.revert(rollout, d.pluginKey());
      } catch (WeighbridgeException e) {
        notes = " Setting the canary weight to 0 failed (Argo does it on abort): " + e.getMessage();
        LOG.error("Rollout {}: revert to weight 0 failed: {}", rollout.key(), e.getMessage());
      }
      done = tryAction(() -> actions.abort(rollout.namespace(), rollout.name()), rollout, "abort");
    } else {
      LOG.warn("Rollout {}: pausing the canary ({})\n{}", rollout.key(), d.trigger(), evidence);
      done = tryAction(() -> actions.pause(rollout.namespace(), rollout.name()), rollout, "pause");
    }
    metrics.action(d.action(), d.trigger(), d.sinceFirstBad(), done);
    if (!done) {
      synchronized (t) {
        // let the next round try again
        t.holdAfterAbort = false;
        t.holdAfterPause = false;
        t.phase = Phase.ANALYZING;
      }
      return;
    }
    String verb = d.action() == Action.ABORT ? "aborted" : "paused";
    String trigger =
        d.trigger().equals("failed")
            ? "the canary is worse than stable"
            : "the analysis stayed inconclusive and onInconclusive is "
                + d.action().name().toLowerCase(Locale.ROOT);
    event(
        rollout,
        true,
        d.action() == Action.ABORT
            ? (d.trigger().equals("failed") ? REASON_ABORTED : REASON_INCONCLUSIVE)
            : (d.trigger().equals("failed") ? REASON_PAUSED : REASON_INCONCLUSIVE),
        "Weighbridge "
            + verb
            + " the canary: "
            + trigger
            + (d.action() == Action.ABORT ? " (canary weight set to 0)." : " (weight held).")
            + notes
            + " "
            + evidence);
  }

  private boolean tryAction(Runnable action, Rollout rollout, String what) {
    try {
      action.run();
      return true;
    } catch (WeighbridgeException e) {
      LOG.error(
          "Rollout {}: {} failed, retrying next round: {}", rollout.key(), what, e.getMessage());
      return false;
    }
  }

  private void event(Rollout rollout, boolean warning, String reason, String message) {
    try {
      actions.event(rollout, warning, reason, message);
    } catch (WeighbridgeException e) {
      LOG.warn("Rollout {}: cannot write Event {}: {}", rollout.key(), reason, e.getMessage());
    }
  }

  // ---- status ----

  /** The analyses for the status API, sorted by namespace and name. */
  public Snapshot snapshot() {
    List<AnalysisView> views = new ArrayList<>();
    for (Tracked t : tracked.values()) {
      synchronized (t) {
        if (t.since == null || t.rollout == null) {
          continue;
        }
        views.add(
            new AnalysisView(
                t.rollout.namespace(),
                t.rollout.name(),
                t.phase,
                t.targetWeight,
                t.since,
                Optional.ofNullable(t.lastVerdict)));
      }
    }
    views.sort(Comparator.comparing(AnalysisView::namespace).thenComparing(AnalysisView::rollout));
    return new Snapshot(leadership.isLeader(), leadership.identity(), views);
  }

  /** Number of analyses running now. */
  public int running() {
    int n = 0;
    for (Tracked t : tracked.values()) {
      synchronized (t) {
        if (t.since != null && t.finishedAt == null && !t.holdAfterAbort && !t.holdAfterPause) {
          n++;
        }
      }
    }
    return n;
  }
}
