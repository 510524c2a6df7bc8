package io.weighbridge.server;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.weighbridge.adapter.http.AnalysesJson;
import io.weighbridge.adapter.kubernetes.KubernetesLeaderElection;
import io.weighbridge.adapter.kubernetes.KubernetesRolloutActions;
import io.weighbridge.adapter.kubernetes.KubernetesRolloutWatcher;
import io.weighbridge.adapter.metrics.MicrometerAnalysisMetrics;
import io.weighbridge.adapter.prometheus.PrometheusClient;
import io.weighbridge.adapter.prometheus.PrometheusSettings;
import io.weighbridge.domain.analysis.AnalysisCoordinator;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Snapshot;
import io.weighbridge.domain.analysis.Analyzer;
import io.weighbridge.domain.analysis.Leadership;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the canary analyzer (Prometheus client, Rollout watcher, leader election, actions, status
 * API) with plain constructors; kept out of {@link Main} so that its start-up stays readable. With
 * no {@code --prometheus-url} the analyzer is off, said loudly, and the status API reports so.
 */
final class AnalyzerWiring implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AnalyzerWiring.class);

  private final AnalysisCoordinator coordinator;
  private final KubernetesRolloutWatcher watcher;
  private final KubernetesLeaderElection election;
  private final String identity;

  private AnalyzerWiring(
      AnalysisCoordinator coordinator,
      KubernetesRolloutWatcher watcher,
      KubernetesLeaderElection election,
      String identity) {
    this.coordinator = coordinator;
    this.watcher = watcher;
    this.election = election;
    this.identity = identity;
  }

  /** Builds the analyzer and adds its status API to {@code server}; nothing runs before start. */
  static AnalyzerWiring create(
      ServerConfig config,
      KubernetesClient kube,
      GatewayApiTrafficRouter router,
      MeterRegistry registry,
      PluginServer server,
      java.util.Map<String, String> env) {
    String identity =
        Optional.ofNullable(env.get("POD_NAME"))
            .or(() -> Optional.ofNullable(env.get("HOSTNAME")))
            .filter(s -> !s.isBlank())
            .orElse("weighbridge-" + UUID.randomUUID().toString().substring(0, 8));
    ServerConfig.AnalyzerOptions options = config.analyzer();
    if (options.prometheusUrl().isEmpty()) {
      LOG.warn(
          "CANARY ANALYZER DISABLED: no --prometheus-url (WEIGHBRIDGE_PROMETHEUS_URL) is set, so no"
              + " canary is analysed, aborted or paused by Weighbridge; set it to your Prometheus,"
              + " e.g. --prometheus-url=http://prometheus-operated.monitoring:9090");
      server.addJsonEndpoint(
          AnalysesJson.PATH, () -> AnalysesJson.render(new Snapshot(false, identity, List.of())));
      return new AnalyzerWiring(null, null, null, identity);
    }
    PrometheusSettings prometheus =
        new PrometheusSettings(
            options.prometheusUrl().get(),
            java.util.Map.of(),
            options.prometheusCaFile(),
            PrometheusSettings.of(options.prometheusUrl().get()).connectTimeout(),
            options.prometheusTimeout());
    if (options.prometheusBearerTokenFile().isPresent()) {
      try {
        prometheus =
            prometheus.withBearerToken(
                Files.readString(options.prometheusBearerTokenFile().get()).trim());
      } catch (IOException e) {
        throw new UncheckedIOException(
            "cannot read --prometheus-bearer-token-file "
                + options.prometheusBearerTokenFile().get()
                + ": "
                + e.getMessage(),
            e);
      }
    }
    Clock clock = Clock.systemUTC();
    AnalysisCoordinator[] ref = new AnalysisCoordinator[1];
    KubernetesLeaderElection election =
        options.leaderElection()
            ? new KubernetesLeaderElection(
                kube,
                options.leaderElectionNamespace(),
                identity,
                KubernetesLeaderElection.Timing.defaults(),
                leading -> {})
            : null;
    Leadership leadership = election != null ? election : Leadership.always(identity);
    AnalysisCoordinator coordinator =
        new AnalysisCoordinator(
            new Analyzer(new PrometheusClient(prometheus)),
            router,
            new KubernetesRolloutActions(kube, identity, clock),
            leadership,
            new MicrometerAnalysisMetrics(
                registry, () -> ref[0] == null ? 0 : ref[0].running(), leadership::isLeader),
            AnalysisCoordinator.Settings.defaults(new HashSet<>(config.acceptedPluginNames()))
                .withInterval(options.interval()),
            clock);
    ref[0] = coordinator;
    router.addWeightListener(coordinator::weightSet);
    router.addWeightVeto(coordinator::vetoCanary);
    KubernetesRolloutWatcher watcher =
        new KubernetesRolloutWatcher(
            kube, coordinator::rolloutObserved, coordinator::rolloutDeleted, registry);
    server.addReadinessDetail(() -> watcher.health().problem());
    server.addJsonEndpoint(AnalysesJson.PATH, () -> AnalysesJson.render(coordinator.snapshot()));
    LOG.info(
        "canary analyzer on: Prometheus {}, every {}, leader election {}",
        prometheus.baseUrl(),
        ServerConfig.formatDuration(options.interval()),
        options.leaderElection()
            ? "on (Lease "
                + options.leaderElectionNamespace()
                + "/"
                + KubernetesLeaderElection.LEASE_NAME
                + ", identity "
                + identity
                + ")"
            : "off (this replica acts alone)");
    return new AnalyzerWiring(coordinator, watcher, election, identity);
  }

  /** Starts watching Rollouts, contending for the lease and evaluating. */
  void start() {
    if (coordinator == null) {
      return;
    }
    watcher.start();
    if (election != null) {
      election.start();
    }
    coordinator.start();
  }

  @Override
  public void close() {
    if (coordinator == null) {
      return;
    }
    coordinator.close();
    if (election != null) {
      election.close();
    }
    watcher.close();
  }

  String identity() {
    return identity;
  }
}
