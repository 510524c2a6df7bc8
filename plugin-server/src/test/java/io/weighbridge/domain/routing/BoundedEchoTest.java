package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.Status;
import io.weighbridge.adapter.grpc.StatusMapper;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.WeighbridgeException;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Issue 11 item 5: errors echo a bounded part of their input. */
class BoundedEchoTest {
  private final RouterHarness h = new RouterHarness();

  @AfterEach
  void close() {
    h.close();
  }

  @Test
  @DisplayName("When the route name is 1 MiB, then the error names its start and stays short")
  void hugeRouteName() {
    String huge = "x".repeat(1 << 20);

    InvalidConfigException e =
        catchThrowableOfType(
            InvalidConfigException.class,
            () ->
                RoutingConfigParser.parse(
                    rollout().plugin("{'httpRoute': '" + huge + "'}").build(), Fixtures.PLUGIN));

    assertThat(e.getMessage()).hasSizeLessThan(1000).contains("xxxx").contains("characters cut");
  }

  @Test
  @DisplayName("When a configuration key is 40,000 characters, then the error stays short")
  void hugeUnknownKey() {
    String huge = "k".repeat(40_000); // Jackson reads names up to 50,000 characters

    InvalidConfigException e =
        catchThrowableOfType(
            InvalidConfigException.class,
            () ->
                RoutingConfigParser.parse(
                    rollout().plugin("{'" + huge + "': 1}").build(), Fixtures.PLUGIN));

    assertThat(e.getMessage()).hasSizeLessThan(1000).contains("is not a known key");
  }

  @Test
  @DisplayName(
      "When 5,000 configured routes are missing, then the status sent to Argo is at most 4,000"
          + " characters and still says what to fix")
  void manyMissingRoutes() {
    String routes =
        IntStream.range(0, 5000)
            .mapToObj(i -> "{'name': 'route-" + i + "'}")
            .collect(Collectors.joining(", ", "[", "]"));

    WeighbridgeException e =
        catchThrowableOfType(
            WeighbridgeException.class,
            () ->
                h.router.setWeight(
                    CALLER,
                    rollout().plugin("{'httpRoutes': " + routes + "}").build(),
                    10,
                    List.of()));

    Status status = new StatusMapper().toStatus(e);
    assertThat(e.getMessage().length()).as("the domain message").isGreaterThan(4000);
    assertThat(status.getDescription()).hasSizeLessThanOrEqualTo(4000).contains("route-0");
  }
}
