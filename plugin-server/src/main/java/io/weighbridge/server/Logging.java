package io.weighbridge.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.jul.LevelChangePropagator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Configures Logback in code from the server's flags: text or flat JSON lines ({@link
 * FlatJsonEncoder}) on standard output, the chosen level for Weighbridge's loggers and at most info
 * for libraries. Configuring in code keeps start-up free of XML parsing. java.util.logging (used by
 * grpc-java) is routed to SLF4J so that every line has the same format.
 */
final class Logging {
  static final String TEXT_PATTERN =
      "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{36} - %msg%n";

  private Logging() {}

  /** Replaces whatever configuration Logback found by itself. */
  static void configure(ServerConfig.LogFormat format, ServerConfig.LogLevel level) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return; // another SLF4J backend is on the classpath: it configures itself
    }
    context.reset();

    // Makes JUL skip work for levels Logback would drop anyway.
    LevelChangePropagator propagator = new LevelChangePropagator();
    propagator.setContext(context);
    propagator.setResetJUL(true);
    context.addListener(propagator);
    propagator.start();

    Encoder<ILoggingEvent> encoder =
        switch (format) {
          case TEXT -> {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setPattern(TEXT_PATTERN);
            yield text;
          }
          case JSON -> new FlatJsonEncoder();
        };
    encoder.setContext(context);
    encoder.start();

    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(context);
    console.setName("console");
    console.setEncoder(encoder);
    console.start();

    Level ours = Level.toLevel(level.name());
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    // Libraries at debug drown the calls an operator asked to see: they stay at info or above.
    root.setLevel(ours.isGreaterOrEqual(Level.INFO) ? ours : Level.INFO);
    root.addAppender(console);
    context.getLogger("io.weighbridge").setLevel(ours);
    quietLibraries(context);

    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
  }

  /**
   * Library warnings that only confuse an operator, raised to error (docs/operations.md explains
   * them):
   *
   * <ul>
   *   <li>fabric8's VersionUsageUtils warns once per resource type that its API version is not GA
   *       (TCPRoute and TLSRoute are v1alpha2 before Gateway API v1.5): using them is what the user
   *       configured, and the discovery log line names the version in use.
   *   <li>vert.x's BlockedThreadChecker warns when an event-loop thread of fabric8's HTTP client
   *       has not come back within 2 s. Those threads only do I/O; when they lag, the JVM got no
   *       CPU (a throttled container, a long GC pause), which process_cpu_seconds_total and
   *       jvm_gc_pause_seconds show better than a stack trace of an idle selector.
   * </ul>
   */
  static void quietLibraries(LoggerContext context) {
    for (String noisy : QUIETED) {
      context.getLogger(noisy).setLevel(Level.ERROR);
    }
  }

  /** The loggers {@link #quietLibraries} raises to error. */
  static final java.util.List<String> QUIETED =
      java.util.List.of(
          "io.fabric8.kubernetes.client.utils.VersionUsageUtils",
          "io.vertx.core.impl.BlockedThreadChecker");
}
