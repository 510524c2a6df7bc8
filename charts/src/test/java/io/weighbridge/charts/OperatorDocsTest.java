package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;

import io.weighbridge.charts.DocSteps.Step;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Fast check (no API server) that OperatorDocsIT knows every step of the operator docs. */
class OperatorDocsTest {

  private static final Path DOCS =
      Path.of(System.getProperty("weighbridge.root", "..")).toAbsolutePath().resolve("docs");

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"install-traefik.md", "install-linkerd.md", "migration.md"})
  @DisplayName(
      "When a doc gains a command, then it is executed by OperatorDocsIT or listed on paper with"
          + " a reason")
  void everyStepIsHandled(String doc) throws IOException {
    List<Step> steps = DocSteps.of(DOCS.resolve(doc));
    steps.forEach(s -> System.out.println(OperatorDocsIT.handling(s) + "  " + s));
    assertThat(steps).isNotEmpty();
    assertThat(steps.stream().filter(s -> OperatorDocsIT.handling(s) == null).map(Step::toString))
        .as("steps of %s that OperatorDocsIT neither executes nor lists in PAPER", doc)
        .isEmpty();
  }
}
