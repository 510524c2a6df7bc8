package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisConfig.OnInconclusive;
import io.weighbridge.domain.analysis.AnalysisConfig.Policy;
import io.weighbridge.domain.analysis.AnalysisCoordinator.AnalysisView;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Phase;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Plane;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The lifecycle with fakes for Prometheus, the engine, the cluster and the lease. */
class AnalysisCoordinatorTest {

  private static final String PLUGIN = "weighbridge/gateway-api";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Cumulative counters per side, or down / empty. */
  static final class FakeMetrics implements MetricsSource {
    long canaryTotal;
    long canaryErrors;
    long stableTotal;
    long stableErrors;
    boolean down;
    boolean empty;
    final List<String> queries = new ArrayList<>();

    @Override
    public QueryResult query(String promql, Instant time) {
      queries.add(promql);
      check();
      boolean canary = promql.contains("web-canary");
      boolean errors = promql.contains("or vector(0)");
      return new QueryResult.Value(
          canary ? (errors ? canaryErrors : canaryTotal) : (errors ? stableErrors : stableTotal));
    }

    @Override
    public QueryResult histogram(String promql, Instant time) {
      check();
      long n = promql.contains("web-canary") ? canaryTotal : stableTotal;
      TreeMap<Double, Double> m = new TreeMap<>();
      m.put(0.1, n * 0.9);
      m.put(0.3, n * 0.99);
      m.put(Double.POSITIVE_INFINITY, (double) n);
      return new QueryResult.Buckets(new LatencyStatistics.Histogram(m));
    }

    private void check() {
      if (down) {
        throw new UnavailableException("connection refused (fake Prometheus is down)");
      }
      if (empty) {
        throw new EmptyAnswer();
      }
    }

    /** Lets {@link #query} answer NoData from the catch below. */
    static final class EmptyAnswer extends RuntimeException {}
  }

  /** A metrics source that answers NoData when {@link FakeMetrics#empty}. */
  static final class Source implements MetricsSource {
    final FakeMetrics m;

    Source(FakeMetrics m) {
      this.m = m;
    }

    @Override
    public QueryResult query(String promql, Instant time) {
      try {
        return m.query(promql, time);
      } catch (FakeMetrics.EmptyAnswer e) {
        return new QueryResult.NoData("the query matched no series");
      }
    }

    @Override
    public QueryResult histogram(String promql, Instant time) {
      try {
        return m.histogram(promql, time);
      } catch (FakeMetrics.EmptyAnswer e) {
        return new QueryResult.NoData("the query matched no series");
      }
    }
  }

  static final class FakeRouting implements CanaryRouting {
    AnalysisConfig config = AnalysisConfig.DEFAULTS;
    final List<String> reverts = new ArrayList<>();
    int plans;

    @Override
    public CanaryPlan plan(Rollout rollout, String pluginKey) {
      plans++;
      return new CanaryPlan(
          config,
          "web-canary",
          "web-stable",
          List.of(new Route(rollout.namespace(), "web", false, Plane.NORTH_SOUTH)));
    }

    @Override
    public void revert(Rollout rollout, String pluginKey) {
      reverts.add(rollout.key() + "@" + pluginKey);
    }
  }

  record Event(String rollout, boolean warning, String reason, String message) {}

  static final class FakeActions implements RolloutActions {
    final List<String> calls = new ArrayList<>();
    final List<Event> events = new ArrayList<>();
    boolean failAbort;

    @Override
    public void abort(String namespace, String name) {
      if (failAbort) {
        throw new UnavailableException("API server down");
      }
      calls.add("abort " + namespace + "/" + name);
    }

    @Override
    public void pause(String namespace, String name) {
      calls.add("pause " + namespace + "/" + name);
    }

    @Override
    public void event(Rollout rollout, boolean warning, String reason, String message) {
      events.add(new Event(rollout.key(), warning, reason, message));
    }
  }

  static final class MutableClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }
  }

  static final class RecordingMetrics implements AnalysisMetrics {
    final List<Outcome> verdicts = new ArrayList<>();
    final List<String> actions = new ArrayList<>();
    final List<Duration> timesToAction = new ArrayList<>();

    @Override
    public void verdict(Outcome outcome) {
      verdicts.add(outcome);
    }

    @Override
    public void action(
        Action action, String trigger, Optional<Duration> sinceFirstBad, boolean succeeded) {
      actions.add(action + "/" + trigger + "/" + succeeded);
      sinceFirstBad.ifPresent(timesToAction::add);
    }
  }

  final FakeMetrics prometheus = new FakeMetrics();
  final FakeRouting routing = new FakeRouting();
  final FakeActions actions = new FakeActions();
  final MutableClock clock = new MutableClock();
  final RecordingMetrics metrics = new RecordingMetrics();
  boolean leader = true;
  final AnalysisCoordinator coordinator =
      new AnalysisCoordinator(
          new Analyzer(new Source(prometheus)),
          routing,
          actions,
          new Leadership() {
            @Override
            public boolean isLeader() {
              return leader;
            }

            @Override
            public String identity() {
              return "pod-a";
            }
          },
          metrics,
          AnalysisCoordinator.Settings.defaults(Set.of(PLUGIN)),
          clock);

  /** A Rollout as the informer delivers it. */
  static Rollout rollout(int weight, boolean abort, String canaryHash, String stableHash) {
    ObjectNode json = MAPPER.createObjectNode();
    json.putObject("metadata").put("namespace", "shop").put("name", "web").put("uid", "u1");
    ObjectNode canary = json.putObject("spec").putObject("strategy").putObject("canary");
    canary.put("canaryService", "web-canary").put("stableService", "web-stable");
    canary
        .putObject("trafficRouting")
        .putObject("plugins")
        .putObject(PLUGIN)
        .put("httpRoute", "web");
    ObjectNode status = json.putObject("status");
    status.put("currentPodHash", canaryHash).put("stableRS", stableHash);
    if (abort) {
      status.put("abort", true);
    }
    if (weight >= 0) {
      status
          .putObject("canary")
          .putObject("weights")
          .putObject("canary")
          .put("weight", weight)
          .put("podTemplateHash", canaryHash);
    }
    return new Rollout("shop", "web", "u1", 1, "1", json);
  }

  static Rollout inStep(int weight) {
    return rollout(weight, false, "c0ffee", "beef00");
  }

  /** Five scrapes' worth of traffic: 1% canary at 100 req/s. */
  void traffic(double canaryErrorRate, int seconds) {
    long c = seconds;
    long s = 99L * seconds;
    prometheus.canaryTotal += c;
    prometheus.canaryErrors += Math.round(c * canaryErrorRate);
    prometheus.stableTotal += s;
    prometheus.stableErrors += Math.round(s * 0.005);
  }

  void round(double canaryErrorRate) {
    clock.advance(Duration.ofSeconds(5));
    traffic(canaryErrorRate, 5);
    coordinator.tick();
  }

  AnalysisView view() {
    return coordinator.snapshot().analyses().getFirst();
  }

  @Test
  @DisplayName(
      "When the canary fails every request, then weights go to 0, it is aborted once, and"
          + " an Event carries the evidence")
  void failingCanaryIsAbortedOnce() {
    coordinator.rolloutObserved(inStep(5));
    round(0.0);
    round(1.0);
    round(1.0);
    round(1.0);

    assertThat(routing.reverts).containsExactly("shop/web@" + PLUGIN);
    assertThat(actions.calls).containsExactly("abort shop/web");
    assertThat(actions.events).hasSize(1);
    Event e = actions.events.getFirst();
    assertThat(e.reason()).isEqualTo(AnalysisCoordinator.REASON_ABORTED);
    assertThat(e.warning()).isTrue();
    assertThat(e.message())
        .contains("success-rate/traefik FAILED")
        .contains("(n=")
        .contains("p=")
        .contains("canary weight set to 0");
    assertThat(view().phase()).isEqualTo(Phase.ABORTED);
    assertThat(metrics.actions).containsExactly("ABORT/failed/true");
    assertThat(metrics.timesToAction).hasSize(1);

    // Argo, not yet seeing the abort, repeats SetWeight(5): the engine is told to refuse it
    assertThat(coordinator.vetoCanary(inStep(5), PLUGIN, 5))
        .get()
        .asString()
        .contains("aborted the canary of Rollout shop/web")
        .contains("kubectl argo rollouts retry rollout web");
    assertThat(coordinator.vetoCanary(rollout(5, false, "d00d", "beef00"), PLUGIN, 5))
        .as("a new revision")
        .isEmpty();
    // had the call got through anyway: no new analysis, no second action
    coordinator.weightSet(inStep(5), PLUGIN, 5);
    round(1.0);
    assertThat(actions.calls).hasSize(1);
    // Argo shows the abort: the analysis is over
    coordinator.rolloutObserved(rollout(0, true, "c0ffee", "beef00"));
    round(1.0);
    assertThat(actions.calls).hasSize(1);
    assertThat(coordinator.vetoCanary(inStep(5), PLUGIN, 5)).as("still aborted").isPresent();
    // the user retries: status.abort goes back to false, Argo starts the step again
    coordinator.rolloutObserved(rollout(0, false, "c0ffee", "beef00"));
    assertThat(coordinator.vetoCanary(inStep(5), PLUGIN, 5)).isEmpty();
  }

  @Test
  @DisplayName("When the canary is as good as stable, then nothing is done and it stays ANALYZING")
  void healthyCanary() {
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 60; i++) {
      round(0.005);
    }
    assertThat(actions.calls).isEmpty();
    assertThat(routing.reverts).isEmpty();
    assertThat(view().phase()).isEqualTo(Phase.ANALYZING);
    assertThat(view().verdict()).get().extracting(Verdict::outcome).isEqualTo(Outcome.HEALTHY);
    assertThat(metrics.verdicts).hasSize(60).containsOnly(Outcome.HEALTHY);
  }

  @Test
  @DisplayName(
      "When the policy is pause, then the Rollout is paused, the weight held, an Event"
          + " written")
  void pausePolicy() {
    Policy pause = new Policy(Action.PAUSE, 0.002, 10, OnInconclusive.NOTHING);
    routing.config =
        new AnalysisConfig(
            true,
            new AnalysisConfig.SuccessRateCheck(true, pause, OptionalDouble.empty()),
            new AnalysisConfig.LatencyCheck(true, pause, 0.95, 0.5, OptionalDouble.empty()),
            AnalysisConfig.DEFAULT_GRPC_FAILURE_CODES,
            List.of());
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 5; i++) {
      round(1.0);
    }
    assertThat(actions.calls).containsExactly("pause shop/web");
    assertThat(routing.reverts).isEmpty();
    assertThat(actions.events)
        .singleElement()
        .extracting(Event::reason)
        .isEqualTo(AnalysisCoordinator.REASON_PAUSED);
    assertThat(view().phase()).isEqualTo(Phase.PAUSED);
  }

  @Test
  @DisplayName(
      "When Prometheus is down, then nothing is aborted; one Event after the grace says so")
  void prometheusDown() {
    prometheus.down = true;
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 30; i++) {
      round(1.0);
    }
    assertThat(actions.calls).isEmpty();
    assertThat(routing.reverts).isEmpty();
    assertThat(view().phase()).isEqualTo(Phase.INCONCLUSIVE);
    assertThat(actions.events)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.reason()).isEqualTo(AnalysisCoordinator.REASON_INCONCLUSIVE);
              assertThat(e.warning()).isFalse();
              assertThat(e.message()).contains("metrics unavailable").contains("no action");
            });
  }

  @Test
  @DisplayName(
      "When data is missing and the user asked onInconclusive=abort, then it is aborted"
          + " after the grace, not before")
  void missingDataWithAbortOnInconclusive() {
    Policy p = new Policy(Action.ABORT, 0.002, 10, OnInconclusive.ABORT);
    routing.config =
        new AnalysisConfig(
            true,
            new AnalysisConfig.SuccessRateCheck(true, p, OptionalDouble.empty()),
            new AnalysisConfig.LatencyCheck(false, p, 0.95, 0.5, OptionalDouble.empty()),
            AnalysisConfig.DEFAULT_GRPC_FAILURE_CODES,
            List.of());
    prometheus.empty = true;
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 12; i++) { // 60 s: the first look starts the grace
      round(0);
    }
    assertThat(actions.calls).isEmpty();
    round(0);
    assertThat(actions.calls).containsExactly("abort shop/web");
    assertThat(routing.reverts).hasSize(1);
    assertThat(actions.events)
        .singleElement()
        .extracting(Event::reason)
        .isEqualTo(AnalysisCoordinator.REASON_INCONCLUSIVE);
    assertThat(metrics.actions).containsExactly("ABORT/inconclusive/true");
  }

  @Test
  @DisplayName("When this replica does not hold the lease, then it neither queries nor acts")
  void onlyTheLeaderActs() {
    leader = false;
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 5; i++) {
      round(1.0);
    }
    assertThat(prometheus.queries).isEmpty();
    assertThat(actions.calls).isEmpty();
    assertThat(coordinator.snapshot().leader()).isFalse();
    assertThat(view().phase()).isEqualTo(Phase.ANALYZING);

    leader = true; // takeover: the watched state is enough to go on
    for (int i = 0; i < 4; i++) {
      round(1.0);
    }
    assertThat(actions.calls).containsExactly("abort shop/web");
  }

  @Test
  @DisplayName("When the weight changes, then a new analysis starts from that moment")
  void newStepNewTarget() {
    coordinator.weightSet(inStep(5), PLUGIN, 5);
    round(0.005);
    Instant first = view().since();
    clock.advance(Duration.ofSeconds(3));
    coordinator.weightSet(inStep(20), PLUGIN, 20);
    assertThat(view().since()).isAfter(first).isEqualTo(clock.now);
    assertThat(view().canaryWeight()).isEqualTo(20);
    assertThat(view().verdict()).isEmpty();
  }

  @Test
  @DisplayName(
      "When the watched status still shows the old weight after a SetWeight, then the"
          + " call's weight is kept")
  void pluginCallWinsOverStaleStatus() {
    coordinator.weightSet(inStep(20), PLUGIN, 20);
    Instant since = view().since();
    clock.advance(Duration.ofSeconds(1));
    coordinator.rolloutObserved(inStep(5));
    assertThat(view().canaryWeight()).isEqualTo(20);
    assertThat(view().since()).isEqualTo(since);
  }

  @Test
  @DisplayName("When the Rollout is promoted, then the analysis ends PASSED and is no longer run")
  void promotionEndsPassed() {
    coordinator.rolloutObserved(inStep(50));
    round(0.005);
    clock.advance(Duration.ofMinutes(1));
    coordinator.rolloutObserved(rollout(-1, false, "c0ffee", "c0ffee"));
    assertThat(view().phase()).isEqualTo(Phase.PASSED);
    int before = prometheus.queries.size();
    round(1.0);
    assertThat(prometheus.queries).hasSize(before);
    assertThat(actions.calls).isEmpty();
  }

  @Test
  @DisplayName(
      "When the Rollout is promoted without any decisive verdict, then the analysis ends UNJUDGED")
  void promotionWithoutVerdictEndsUnjudged() {
    prometheus.down = true;
    coordinator.rolloutObserved(inStep(50));
    round(1.0);
    round(1.0);
    assertThat(view().phase()).isEqualTo(Phase.INCONCLUSIVE);
    clock.advance(Duration.ofMinutes(1));
    coordinator.rolloutObserved(rollout(-1, false, "c0ffee", "c0ffee"));
    assertThat(view().phase()).isEqualTo(Phase.UNJUDGED);
    assertThat(actions.calls).isEmpty();
  }

  @Test
  @DisplayName("When a Rollout uses another traffic router, then it is not analysed")
  void otherPluginsIgnored() {
    ObjectNode json = inStep(5).json().deepCopy();
    ObjectNode plugins = (ObjectNode) json.at("/spec/strategy/canary/trafficRouting/plugins");
    plugins.set("other/plugin", plugins.remove(PLUGIN));
    coordinator.rolloutObserved(new Rollout("shop", "web", "u1", 1, "1", json));
    round(1.0);
    assertThat(coordinator.snapshot().analyses()).isEmpty();
    assertThat(prometheus.queries).isEmpty();
  }

  @Test
  @DisplayName("When the abort patch fails, then the next round tries again")
  void failedAbortIsRetried() {
    actions.failAbort = true;
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 4; i++) {
      round(1.0);
    }
    assertThat(metrics.actions).contains("ABORT/failed/false");
    actions.failAbort = false;
    round(1.0);
    assertThat(actions.calls).containsExactly("abort shop/web");
    assertThat(view().phase()).isEqualTo(Phase.ABORTED);
  }

  @Test
  @DisplayName(
      "When Argo's SetWeight carries a Rollout from before our pause, then it is not taken"
          + " as a resume and no second pause follows")
  void stalePluginCallIsNoResume() {
    Policy pause = new Policy(Action.PAUSE, 0.002, 10, OnInconclusive.NOTHING);
    routing.config =
        new AnalysisConfig(
            true,
            new AnalysisConfig.SuccessRateCheck(true, pause, OptionalDouble.empty()),
            new AnalysisConfig.LatencyCheck(false, pause, 0.95, 0.5, OptionalDouble.empty()),
            AnalysisConfig.DEFAULT_GRPC_FAILURE_CODES,
            List.of());
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 4; i++) {
      round(1.0);
    }
    assertThat(actions.calls).containsExactly("pause shop/web");
    Rollout paused = inStep(5);
    ((ObjectNode) paused.json().path("spec")).put("paused", true);
    coordinator.rolloutObserved(paused);
    coordinator.weightSet(inStep(5), PLUGIN, 5); // stale: no spec.paused, no new weight
    coordinator.weightSet(rollout(5, false, "", ""), PLUGIN, 5); // no status at all
    for (int i = 0; i < 4; i++) {
      round(1.0);
    }
    assertThat(actions.calls).containsExactly("pause shop/web");
    assertThat(actions.events).hasSize(1);

    // the user resumes: a fresh analysis, which pauses again
    coordinator.rolloutObserved(inStep(5));
    for (int i = 0; i < 4; i++) {
      round(1.0);
    }
    assertThat(actions.calls).containsExactly("pause shop/web", "pause shop/web");
  }
}
