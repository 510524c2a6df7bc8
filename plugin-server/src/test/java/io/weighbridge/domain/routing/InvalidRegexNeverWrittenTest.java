package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Issue 11 item 3: a regex the data plane cannot compile never reaches a route. */
class InvalidRegexNeverWrittenTest {
  private final RouterHarness h = new RouterHarness();

  @AfterEach
  void close() {
    h.close();
  }

  @Test
  @DisplayName(
      "When SetHeaderRoute carries the regex '([', then INVALID_ARGUMENT names it and nothing is"
          + " written")
  void headerRegexRefusedBeforeAnyWrite() {
    RouteId shop = h.cluster.put(Fixtures.richHttpRoute());
    Rollout r = rollout().managedRoutes("h", "m").plugin("{'httpRoute': 'shop'}").build();

    assertThatThrownBy(
            () ->
                h.router.setHeaderRoute(
                    CALLER,
                    r,
                    new HeaderRoute(
                        "h",
                        List.of(
                            new HeaderRoute.HeaderMatch(
                                "X-Canary", new StringMatch("", "", "(["))))))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("headerValue.regex \"([\" is not a valid RE2 regular expression");
    assertThat(h.cluster.writes(shop)).isEmpty();
  }

  @Test
  @DisplayName(
      "When SetMirrorRoute carries a lookahead regex (not RE2), then it is refused before any"
          + " write")
  void mirrorRegexRefusedBeforeAnyWrite() {
    RouteId shop = h.cluster.put(Fixtures.richHttpRoute());
    Rollout r = rollout().managedRoutes("h", "m").plugin("{'httpRoute': 'shop'}").build();

    assertThatThrownBy(
            () ->
                h.router.setMirrorRoute(
                    CALLER,
                    r,
                    new MirrorRoute(
                        "m",
                        List.of(
                            new MirrorRoute.RequestMatch(
                                null, new StringMatch("", "", "/api(?=/v2)"), Map.of())),
                        null)))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("is not a valid RE2 regular expression");
    assertThat(h.cluster.writes(shop)).isEmpty();
  }

  @Test
  @DisplayName("When the regex is valid RE2, then the header route is written")
  void validRegexIsWritten() {
    RouteId shop = h.cluster.put(Fixtures.richHttpRoute());
    Rollout r = rollout().managedRoutes("h", "m").plugin("{'httpRoute': 'shop'}").build();

    h.router.setHeaderRoute(
        CALLER,
        r,
        new HeaderRoute(
            "h",
            List.of(
                new HeaderRoute.HeaderMatch(
                    "X-Canary", new StringMatch("", "", "^(alpha|beta)-[0-9]+$")))));
    assertThat(h.cluster.writes(shop)).isNotEmpty();
  }
}
