package io.weighbridge.server;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.domain.TrafficRouter;
import java.lang.management.ManagementFactory;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The plugin-server process: reads the configuration, wires the parts, serves until SIGTERM. */
public final class Main {

  private Main() {}

  /** Starts plugin-server; {@code --help} lists the flags. Exits 2 on bad flags, 1 on failure. */
  public static void main(String[] args) throws InterruptedException {
    if (ServerConfig.helpRequested(args)) {
      System.out.print(ServerConfig.usage());
      return;
    }
    ServerConfig config;
    try {
      config = ServerConfig.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("weighbridge plugin-server: " + e.getMessage());
      System.err.println("Run with --help to list the flags.");
      System.exit(2);
      return;
    }
    Logging.configure(config.logFormat(), config.logLevel());
    Logger log = LoggerFactory.getLogger(Main.class);
    logConfiguration(log, config);

    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // Until the routing engine is wired here, every route-changing call answers UNIMPLEMENTED.
    TrafficRouter router = new UnimplementedTrafficRouter();
    PluginServer server = new PluginServer(config, router, registry);
    // SIGTERM: drain within --shutdown-grace; the JVM exits once the hook returns.
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "weighbridge-shutdown"));
    try {
      server.start();
    } catch (RuntimeException e) {
      log.error("plugin-server cannot start: {}", e.getMessage(), e);
      System.exit(1);
      return;
    }
    log.info("ready {} ms after the JVM started", ManagementFactory.getRuntimeMXBean().getUptime());
    server.awaitStopped();
  }

  private static void logConfiguration(Logger log, ServerConfig config) {
    Map<String, String> values = config.effectiveValues();
    var line = log.atInfo();
    values.forEach(line::addKeyValue);
    StringBuilder text = new StringBuilder("starting weighbridge plugin-server:");
    values.forEach((key, value) -> text.append(' ').append(key).append('=').append(value));
    line.log(text.toString());
  }
}
