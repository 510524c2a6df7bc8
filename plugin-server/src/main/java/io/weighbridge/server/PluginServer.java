package io.weighbridge.server;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.core.instrument.binder.grpc.MetricCollectingServerInterceptor;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.grpc.AuthInterceptor;
import io.weighbridge.adapter.grpc.BoundedCallRunner;
import io.weighbridge.adapter.grpc.ProtoMapper;
import io.weighbridge.adapter.grpc.ServerTls;
import io.weighbridge.adapter.grpc.StatusMapper;
import io.weighbridge.adapter.grpc.StrictRequests;
import io.weighbridge.adapter.grpc.TrafficRouterService;
import io.weighbridge.adapter.http.ConnectorDownloads;
import io.weighbridge.adapter.http.HealthHttpServer;
import io.weighbridge.adapter.metrics.MicrometerAuthMetrics;
import io.weighbridge.adapter.metrics.ProcessMetrics;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.auth.Authenticator;
import io.weighbridge.domain.auth.CallerGate;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * plugin-server's two listeners: the gRPC server (the contract, the standard health service and
 * reflection) and the HTTP server (/healthz, /readyz, /metrics). {@link #close()} drains: it marks
 * the server not ready, stops accepting calls, lets in-flight calls finish within the shutdown
 * grace and then cancels what is left.
 */
public final class PluginServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PluginServer.class);

  /** The connector pings every ~30 s while idle; allow a little more often than that. */
  static final Duration PERMIT_KEEPALIVE_TIME = Duration.ofSeconds(15);

  /** Server-side pings find connectors that vanished without closing their connection. */
  static final Duration KEEPALIVE_TIME = Duration.ofMinutes(1);

  static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(20);

  /** How long aborted calls' answers get to go out before the connections are closed. */
  static final Duration ABORT_FLUSH_BOUND = Duration.ofSeconds(1);

  /** How long cancelled calls get to end after the grace has passed. */
  static final Duration FORCE_STOP_BOUND = Duration.ofSeconds(5);

  /** Latency buckets of the per-method histogram: Argo's calls should take tens of ms. */
  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(15)
  };

  private enum State {
    NEW,
    SERVING,
    DRAINING,
    STOPPED
  }

  private final ServerConfig config;
  private final TrafficRouter router;
  private final HealthStatusManager health = new HealthStatusManager();
  private final BoundedCallRunner calls;
  private final ProcessMetrics processMetrics;
  private final Server grpc;
  private final PrometheusMeterRegistry registry;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Optional<ServerTls> tls;
  private final ConnectorDownloads connectorDownloads;
  private volatile HealthHttpServer http;
  private final Map<String, Supplier<String>> jsonEndpoints = new ConcurrentHashMap<>();
  private final List<Supplier<Optional<String>>> readinessDetails = new CopyOnWriteArrayList<>();
  private volatile State state = State.NEW;

  /**
   * Creates the server on Netty, listening on {@code config}'s bind address and gRPC port, without
   * a way to verify tokens: only for {@code --auth-mode=none}.
   *
   * @param config the configuration
   * @param router the domain port every call is delegated to
   * @param registry where call, JVM and process metrics go; {@code /metrics} exposes it
   * @throws IllegalArgumentException when {@code config} asks for {@code --auth-mode=tokenreview}
   */
  public PluginServer(ServerConfig config, TrafficRouter router, PrometheusMeterRegistry registry) {
    this(config, router, registry, NO_AUTHENTICATOR);
  }

  /**
   * Creates the server on Netty with the authenticator {@code --auth-mode=tokenreview} uses (as
   * Main does: a TokenReview on the cluster), and TLS when {@code config} names certificate files.
   *
   * @throws IllegalArgumentException when the TLS files cannot be used (the message names them)
   */
  public PluginServer(
      ServerConfig config,
      TrafficRouter router,
      PrometheusMeterRegistry registry,
      Authenticator authenticator) {
    this(config, router, registry, authenticator, tls(config));
  }

  private PluginServer(
      ServerConfig config,
      TrafficRouter router,
      PrometheusMeterRegistry registry,
      Authenticator authenticator,
      Optional<ServerTls> tls) {
    this(config, router, registry, authenticator, nettyBuilder(config, tls), tls);
  }

  /**
   * Creates the server on any transport, e.g. in-process for tests. The builder's own transport
   * settings (address, keepalive) are the caller's; this adds the services and the message limit.
   */
  public PluginServer(
      ServerConfig config,
      TrafficRouter router,
      PrometheusMeterRegistry registry,
      ServerBuilder<?> grpcBuilder) {
    this(config, router, registry, NO_AUTHENTICATOR, grpcBuilder, Optional.empty());
  }

  /**
   * {@link #PluginServer(ServerConfig, TrafficRouter, PrometheusMeterRegistry, ServerBuilder)} with
   * an authenticator.
   */
  public PluginServer(
      ServerConfig config,
      TrafficRouter router,
      PrometheusMeterRegistry registry,
      Authenticator authenticator,
      ServerBuilder<?> grpcBuilder) {
    this(config, router, registry, authenticator, grpcBuilder, Optional.empty());
  }

  private PluginServer(
      ServerConfig config,
      TrafficRouter router,
      PrometheusMeterRegistry registry,
      Authenticator authenticator,
      ServerBuilder<?> grpcBuilder,
      Optional<ServerTls> tls) {
    this.config = config;
    this.router = router;
    this.registry = registry;
    this.tls = tls;
    StatusMapper statuses = new StatusMapper();
    this.calls = new BoundedCallRunner(config.callTimeout(), statuses, registry);
    this.processMetrics = new ProcessMetrics().bindTo(registry);

    TrafficRouterService service =
        new TrafficRouterService(router, new ProtoMapper(), calls, config.acceptedPluginNames());
    MetricCollectingServerInterceptor metrics =
        new MetricCollectingServerInterceptor(
            registry, counter -> counter, timer -> timer.serviceLevelObjectives(LATENCY_BUCKETS));
    // Authentication (see authInterceptor) runs inside the metrics interceptor, so refused calls
    // show in the call metrics with their status too.
    Optional<AuthInterceptor> auth = authInterceptor(config, authenticator, statuses, registry);
    // Requests are parsed by StrictRequests (after authentication): a malformed message is answered
    // INVALID_ARGUMENT and counted, not UNKNOWN with a stack trace per message.
    ServerServiceDefinition parsed = new StrictRequests(registry).wrap(service.bindService());
    ServerServiceDefinition definition =
        auth.isPresent()
            ? ServerInterceptors.intercept(parsed, auth.get(), metrics)
            : ServerInterceptors.intercept(parsed, metrics);
    // Every method's series exist from the start, so rates and alerts see zeros, not gaps.
    metrics.preregisterService(definition);
    // Reflection describes the contract: only for authenticated callers. Health stays open for
    // probes and load balancers: it reveals only whether the server is serving.
    ServerServiceDefinition reflection = ProtoReflectionServiceV1.newInstance().bindService();
    if (auth.isPresent()) {
      reflection = ServerInterceptors.intercept(reflection, auth.get());
    }

    // Not serving until start() says so (the manager starts out SERVING for "").
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
    health.setStatus(TrafficRouterGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    this.grpc =
        grpcBuilder
            .maxInboundMessageSize(config.maxMessageSize())
            .addService(definition)
            .addService(health.getHealthService())
            .addService(reflection)
            .build();
    this.connectorDownloads = new ConnectorDownloads(config.connectorDir());
  }

  /** Fails every check: stands for "no authenticator given", refused with tokenreview. */
  private static final Authenticator NO_AUTHENTICATOR =
      token -> {
        throw new IllegalStateException("no authenticator");
      };

  private static Optional<AuthInterceptor> authInterceptor(
      ServerConfig config,
      Authenticator authenticator,
      StatusMapper statuses,
      PrometheusMeterRegistry registry) {
    ServerConfig.Security security = config.security();
    if (security.authMode() == ServerConfig.AuthMode.NONE) {
      log.warn(
          "--auth-mode=none: every caller that reaches the gRPC port may move traffic; use"
              + " --auth-mode=tokenreview in a cluster");
      return Optional.empty();
    }
    if (authenticator == NO_AUTHENTICATOR) {
      throw new IllegalArgumentException(
          "--auth-mode=tokenreview needs a TokenReview authenticator, and this plugin-server was"
              + " built without one; pass --auth-mode=none to run without authentication");
    }
    CallerGate gate =
        new CallerGate(
            authenticator,
            CallerGate.Settings.allowing(Set.copyOf(security.allowedServiceAccounts())),
            new MicrometerAuthMetrics(registry));
    log.info("--auth-mode=tokenreview: admitting calls from service accounts {}", gate.allowed());
    return Optional.of(new AuthInterceptor(gate, statuses));
  }

  private static Optional<ServerTls> tls(ServerConfig config) {
    ServerConfig.Security security = config.security();
    if (!security.tls()) {
      return Optional.empty();
    }
    return Optional.of(
        ServerTls.load(
            security.tlsCertFile().orElseThrow(),
            security.tlsKeyFile().orElseThrow(),
            ServerTls.RELOAD_INTERVAL));
  }

  private static ServerBuilder<?> nettyBuilder(ServerConfig config, Optional<ServerTls> tls) {
    InetSocketAddress address = new InetSocketAddress(config.bindAddress(), config.grpcPort());
    return (tls.isPresent()
            ? NettyServerBuilder.forAddress(address, tls.get().credentials())
            : NettyServerBuilder.forAddress(address))
        .permitKeepAliveTime(PERMIT_KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .keepAliveTime(KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  /**
   * Adds a JSON endpoint to the HTTP port (e.g. the analyzer's {@code /api/v1/analyses}); call
   * before {@link #start()}.
   */
  public void addJsonEndpoint(String path, Supplier<String> body) {
    jsonEndpoints.put(path, body);
  }

  /**
   * Adds a line to {@code /readyz} when {@code detail} is present: a part that is degraded without
   * making the server unready (e.g. the analyzer's Rollout informer). Call before {@link #start()}.
   */
  public void addReadinessDetail(Supplier<Optional<String>> detail) {
    readinessDetails.add(detail);
  }

  /**
   * Starts both listeners and reports serving.
   *
   * @throws UncheckedIOException when a port cannot be bound (the message names the flag to change)
   * @throws IllegalStateException when already started or closed
   */
  public synchronized void start() {
    if (state != State.NEW) {
      throw new IllegalStateException("plugin-server was already started (state " + state + ")");
    }
    try {
      grpc.start();
    } catch (IOException e) {
      close();
      throw new UncheckedIOException(
          "cannot listen for gRPC on "
              + config.bindAddress()
              + ":"
              + config.grpcPort()
              + ": "
              + e.getMessage()
              + "; choose another --grpc-port or stop what uses it",
          e);
    }
    try {
      http =
          new HealthHttpServer(
              new InetSocketAddress(config.bindAddress(), config.httpPort()),
              this::notReadyReason,
              registry);
      http.serve(ConnectorDownloads.PREFIX, connectorDownloads);
      jsonEndpoints.forEach(http::addJsonEndpoint);
      readinessDetails.forEach(http::addReadinessDetail);
      http.start();
    } catch (RuntimeException e) {
      state = State.DRAINING;
      close();
      throw e;
    }
    state = State.SERVING;
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    health.setStatus(TrafficRouterGrpc.SERVICE_NAME, ServingStatus.SERVING);
    log.atInfo()
        .addKeyValue("grpcPort", grpcPort())
        .addKeyValue("httpPort", httpPort())
        .addKeyValue("tls", config.security().tls())
        .log(
            "serving gRPC{} on {}:{} and HTTP on {}:{}",
            config.security().tls() ? " (TLS)" : "",
            config.bindAddress(),
            grpcPort(),
            config.bindAddress(),
            httpPort());
  }

  /** The bound gRPC port (-1 for a transport without one, such as in-process). */
  public int grpcPort() {
    return grpc.getPort();
  }

  /**
   * The bound HTTP port.
   *
   * @throws IllegalStateException before {@link #start()}
   */
  public int httpPort() {
    HealthHttpServer server = http;
    if (server == null) {
      throw new IllegalStateException("plugin-server is not started");
    }
    return server.port();
  }

  /** Empty when ready to serve calls, else why not; what {@code /readyz} reports. */
  Optional<String> notReadyReason() {
    return switch (state) {
      case NEW -> Optional.of("starting");
      case DRAINING, STOPPED -> Optional.of("shutting down");
      case SERVING ->
          router.isReady()
              ? Optional.empty()
              : Optional.of("the traffic router is not ready yet (see plugin-server logs)");
    };
  }

  /**
   * Drains and stops: not ready at once, no new calls, in-flight calls may finish within
   * --shutdown-grace, then the rest are answered UNAVAILABLE and cancelled. Bounded by the grace
   * plus a few seconds; idempotent (a second call waits for the first). Streams that never end by
   * themselves, such as a client's health Watch, hold the drain until the grace has passed.
   */
  @Override
  public synchronized void close() {
    if (state == State.STOPPED) {
      return;
    }
    boolean wasServing = state != State.NEW;
    state = State.DRAINING;
    health.enterTerminalState(); // NOT_SERVING for every service, and it stays so
    try {
      if (wasServing) {
        drain();
      } else {
        grpc.shutdownNow();
      }
    } finally {
      calls.close();
      if (http != null) {
        http.close();
      }
      connectorDownloads.close();
      tls.ifPresent(ServerTls::close);
      processMetrics.close();
      state = State.STOPPED;
      if (wasServing) {
        log.info("stopped");
      }
      // Last: Main returns once this opens, and the JVM may then end before anything after it.
      stopped.countDown();
    }
  }

  private void drain() {
    Duration grace = config.shutdownGrace();
    log.info(
        "shutting down: no new calls; in-flight calls may finish within {}",
        ServerConfig.formatDuration(grace));
    grpc.shutdown();
    try {
      if (!grpc.awaitTermination(grace.toNanos(), TimeUnit.NANOSECONDS)) {
        int aborted =
            calls.abortAll(
                "plugin-server is shutting down and the call did not finish within the shutdown"
                    + " grace of "
                    + ServerConfig.formatDuration(grace)
                    + "; Argo retries it on a later reconcile");
        log.warn(
            "{} calls still running after the shutdown grace of {}: answered them UNAVAILABLE",
            aborted,
            ServerConfig.formatDuration(grace));
        // Lets those answers go out; what remains are streams such as health watches.
        grpc.awaitTermination(ABORT_FLUSH_BOUND.toNanos(), TimeUnit.NANOSECONDS);
        grpc.shutdownNow();
        if (!grpc.awaitTermination(FORCE_STOP_BOUND.toNanos(), TimeUnit.NANOSECONDS)) {
          log.warn("the gRPC server did not stop within {} of cancelling", FORCE_STOP_BOUND);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      grpc.shutdownNow();
    }
  }

  /** Blocks until {@link #close()} has finished, e.g. from the shutdown hook. */
  public void awaitStopped() throws InterruptedException {
    stopped.await();
  }
}
