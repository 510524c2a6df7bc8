package io.weighbridge.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.analysis.AnalysisConfig;
import io.weighbridge.domain.analysis.AnalysisCoordinator;
import io.weighbridge.domain.analysis.AnalysisMetrics;
import io.weighbridge.domain.analysis.Analyzer;
import io.weighbridge.domain.analysis.CanaryRouting;
import io.weighbridge.domain.analysis.Leadership;
import io.weighbridge.domain.analysis.MetricsSource;
import io.weighbridge.domain.analysis.RolloutActions;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Plane;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Time-to-revert through the real lifecycle: the {@link AnalysisCoordinator} (default settings,
 * evaluating every 2 s) with the real {@link Analyzer} reads a simulated Prometheus that scrapes
 * every 5 s at a random phase; the canary starts failing at a given moment of its step; the result
 * is the time from that moment to the coordinator's revert (canary weight 0 through the engine
 * port). Traffic is simulated second by second: 100 req/s in total, each request the canary's with
 * probability 1%. Not modelled: Prometheus' increase() extrapolation, query latency and the
 * engine's write (tens of ms on a real API server, see the engine bench).
 */
final class RevertSimulation {

  private static final String PLUGIN = "weighbridge/gateway-api";
  private static final int TICK_MILLIS = 2000;
  private static final int SCRAPE_MILLIS = 5000;

  private RevertSimulation() {}

  /** A settable clock. */
  private static final class SimClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  /** Answers from the last scrape. */
  private static final class Scraped implements MetricsSource {
    final Supplier<MetricsSource> last;

    Scraped(Supplier<MetricsSource> last) {
      this.last = last;
    }

    @Override
    public QueryResult query(String promql, Instant time) {
      return last.get().query(promql, time);
    }

    @Override
    public QueryResult histogram(String promql, Instant time) {
      return last.get().histogram(promql, time);
    }
  }

  /**
   * One run.
   *
   * @param seed the random seed (traffic, scrape and evaluation phases)
   * @param traffic the simulated workload, fresh
   * @param onsetSeconds when, after the step started, the canary starts failing (or never, when
   *     negative)
   * @param maxSeconds when to give up
   * @return milliseconds from the onset to the revert (from the step start when there is no onset),
   *     or -1 when there was none
   */
  static long run(long seed, TrafficModel traffic, int onsetSeconds, int maxSeconds) {
    return run(seed, traffic, onsetSeconds, maxSeconds, AnalysisConfig.DEFAULTS);
  }

  /** As {@link #run(long, TrafficModel, int, int)} with the given analysis settings. */
  static long run(
      long seed, TrafficModel traffic, int onsetSeconds, int maxSeconds, AnalysisConfig config) {
    SplittableRandom r = new SplittableRandom(seed);
    SimClock clock = new SimClock();
    Instant start = clock.now;
    MetricsSource[] last = {traffic.snapshot()};
    long[] revertedAt = {-1};
    CanaryRouting routing =
        new CanaryRouting() {
          @Override
          public CanaryPlan plan(Rollout rollout, String pluginKey) {
            return new CanaryPlan(
                config,
                "web-canary",
                "web-stable",
                List.of(new Route("shop", "web", false, Plane.NORTH_SOUTH)));
          }

          @Override
          public void revert(Rollout rollout, String pluginKey) {
            if (revertedAt[0] < 0) {
              revertedAt[0] = Duration.between(start, clock.now).toMillis();
            }
          }
        };
    RolloutActions actions =
        new RolloutActions() {
          @Override
          public void abort(String namespace, String name) {}

          @Override
          public void pause(String namespace, String name) {}

          @Override
          public void event(Rollout rollout, boolean warning, String reason, String message) {}
        };
    AnalysisCoordinator coordinator =
        new AnalysisCoordinator(
            new Analyzer(new Scraped(() -> last[0])),
            routing,
            actions,
            Leadership.always("bench"),
            AnalysisMetrics.NONE,
            AnalysisCoordinator.Settings.defaults(Set.of(PLUGIN)),
            clock);
    coordinator.weightSet(rollout(), PLUGIN, 1);
    int scrapePhase = r.nextInt(SCRAPE_MILLIS / 100) * 100;
    int tickPhase = r.nextInt(TICK_MILLIS / 100) * 100;
    for (int t = 0; t <= maxSeconds * 1000; t += 100) {
      clock.now = start.plusMillis(t);
      if (t > 0 && t % 1000 == 0) {
        traffic.second(r, onsetSeconds >= 0 && t > onsetSeconds * 1000L);
      }
      if ((t - scrapePhase) % SCRAPE_MILLIS == 0 && t >= scrapePhase) {
        last[0] = traffic.snapshot();
      }
      if ((t - tickPhase) % TICK_MILLIS == 0 && t >= tickPhase) {
        coordinator.tick();
        if (revertedAt[0] >= 0) {
          return revertedAt[0] - Math.max(0, onsetSeconds) * 1000L;
        }
      }
    }
    return -1;
  }

  /** The simulated workload, advanced a second at a time. */
  interface TrafficModel {
    /** One second of traffic; {@code failing}: the canary has its fault now. */
    void second(SplittableRandom r, boolean failing);

    /** What a scrape now would see. */
    MetricsSource snapshot();
  }

  private static Rollout rollout() {
    ObjectMapper m = new ObjectMapper();
    ObjectNode json = m.createObjectNode();
    json.putObject("metadata").put("namespace", "shop").put("name", "web");
    json.putObject("spec")
        .putObject("strategy")
        .putObject("canary")
        .putObject("trafficRouting")
        .putObject("plugins")
        .putObject(PLUGIN)
        .put("httpRoute", "web");
    json.putObject("status").put("currentPodHash", "c0ffee").put("stableRS", "beef00");
    return new Rollout("shop", "web", "uid", 1, "1", json);
  }
}
