package io.weighbridge.e2e;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.server.PluginServer;
import io.weighbridge.server.ServerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts the real {@link PluginServer} with a {@link RecordingTrafficRouter} (or, with {@code
 * --noop}, a {@link NoopTrafficRouter}) for the Go conformance tests and the bench in {@code
 * e2e/conformance}, which run Argo Rollouts' own plugin client against the real connector.
 *
 * <p>Flags of its own, all optional: {@code --ports-file=PATH} (where to write the ports as JSON
 * once the server is listening), {@code --control-port=N} (the {@link ControlEndpoint}, default 0:
 * any free port), {@code --noop}. Every other argument goes to {@link ServerConfig#parse}, e.g.
 * {@code --grpc-port=0 --http-port=0}. When ready it prints one line {@code CONFORMANCE-SERVER
 * READY {...}} with the same JSON on stdout.
 */
public final class ConformanceServerMain {

  private ConformanceServerMain() {}

  /** Runs until the process is terminated; SIGTERM closes the server gracefully. */
  public static void main(String[] args) throws IOException, InterruptedException {
    Path portsFile = null;
    int controlPort = 0;
    boolean noop = false;
    List<String> serverArgs = new ArrayList<>();
    for (String arg : args) {
      if (arg.startsWith("--ports-file=")) {
        portsFile = Path.of(arg.substring("--ports-file=".length()));
      } else if (arg.startsWith("--control-port=")) {
        controlPort = Integer.parseInt(arg.substring("--control-port=".length()));
      } else if (arg.equals("--noop")) {
        noop = true;
      } else {
        serverArgs.add(arg);
      }
    }

    ServerConfig config = ServerConfig.parse(serverArgs.toArray(String[]::new), System.getenv());
    RecordingTrafficRouter recorder = noop ? null : new RecordingTrafficRouter();
    TrafficRouter router = noop ? new NoopTrafficRouter() : recorder;
    PluginServer server =
        new PluginServer(config, router, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    server.start();
    ControlEndpoint control =
        recorder == null ? null : ControlEndpoint.start(controlPort, recorder);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (control != null) {
                    control.close();
                  }
                  server.close();
                  stopped.countDown();
                },
                "conformance-server-shutdown"));

    String ready =
        "{\"pid\":%d,\"grpcPort\":%d,\"httpPort\":%d,\"controlPort\":%d}"
            .formatted(
                ProcessHandle.current().pid(),
                server.grpcPort(),
                server.httpPort(),
                control == null ? 0 : control.port());
    if (portsFile != null) {
      // Written whole and then renamed, so that a poller never reads half a file.
      Path partial = portsFile.resolveSibling(portsFile.getFileName() + ".partial");
      Files.writeString(partial, ready, StandardCharsets.UTF_8);
      Files.move(partial, portsFile, StandardCopyOption.ATOMIC_MOVE);
    }
    System.out.println("CONFORMANCE-SERVER READY " + ready);
    System.out.flush();
    stopped.await();
  }
}
