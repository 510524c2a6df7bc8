package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The text lines of a route and the unified-diff-like view {@code plan} prints. */
class RouteTextTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  @DisplayName("When a route is rendered, then labels, rules, matches, mirrors and weights show")
  void lines() throws Exception {
    JsonNode route =
        JSON.readTree(
            """
            {"metadata":{"labels":{"app":"web"}},
             "spec":{"rules":[
               {"name":"main","matches":[{"path":{"value":"/"}}],
                "filters":[{"type":"RequestMirror","requestMirror":
                  {"backendRef":{"name":"web-canary","port":80},"percent":10}}],
                "backendRefs":[{"name":"web-stable","port":80,"weight":90},
                               {"name":"web-canary","namespace":"other","port":8080}]},
               {"backendRefs":[{"group":"example.com","kind":"Backend","name":"b","weight":1}]}]}}
            """);

    assertThat(RouteText.lines(route))
        .containsExactly(
            "label app=web",
            "rule 0 \"main\"",
            "  matches [{\"path\":{\"value\":\"/\"}}]",
            "  mirror to web-canary:80 10%",
            "  backendRef web-stable:80 weight 90",
            "  backendRef other/web-canary:8080 weight (unset: 1)",
            "rule 1",
            "  backendRef example.com/Backend b weight 1");
  }

  @Test
  @DisplayName("When lines change, then the diff removes before it adds and keeps the rest")
  void diff() {
    List<String> before =
        List.of("rule 0", "  backendRef s:80 weight 100", "  backendRef c:80 weight 0", "rule 1");
    List<String> after =
        List.of(
            "label k=v",
            "rule 0",
            "  backendRef s:80 weight 70",
            "  backendRef c:80 weight 30",
            "rule 1");

    assertThat(RouteText.diff("a", before, "b", after))
        .containsExactly(
            "--- a",
            "+++ b",
            "+ label k=v",
            "  rule 0",
            "-   backendRef s:80 weight 100",
            "-   backendRef c:80 weight 0",
            "+   backendRef s:80 weight 70",
            "+   backendRef c:80 weight 30",
            "  rule 1");
    assertThat(RouteText.diff("a", before, "b", before))
        .hasSize(before.size() + 2)
        .allMatch(l -> !l.startsWith("+ ") && !l.startsWith("- "));
  }
}
