package io.weighbridge.server;

import static io.weighbridge.fixtures.Requests.caller;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.fixtures.RecordingRouter;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** PluginServer on the in-process transport, as fast tests of other parts may use it. */
class PluginServerInProcessTest {

  @Test
  @DisplayName("When built on an in-process builder, then it serves the contract there")
  void servesOnAnyTransport() {
    String name = InProcessServerBuilder.generateName();
    ServerConfig config =
        ServerConfig.parse(
            new String[] {"--http-port=0", "--bind-address=127.0.0.1", "--auth-mode=none"},
            Map.of());
    try (PluginServer server =
        new PluginServer(
            config,
            new RecordingRouter().type("InProcess"),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
            InProcessServerBuilder.forName(name))) {
      server.start();
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        assertThat(
                TrafficRouterGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .type(TypeRequest.newBuilder().setCaller(caller()).build())
                    .getType())
            .isEqualTo("InProcess");
        assertThat(server.grpcPort()).isEqualTo(-1);
        assertThat(server.httpPort()).isPositive();
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
