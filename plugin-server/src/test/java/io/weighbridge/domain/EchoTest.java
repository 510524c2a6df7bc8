package io.weighbridge.domain;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class EchoTest {

  @Nested
  @DisplayName("When a value is echoed")
  class Values {
    @Test
    @DisplayName("When it is short, then it is kept whole")
    void shortKept() {
      assertThat(Echo.value("shop")).isEqualTo("shop");
    }

    @Test
    @DisplayName("When it is 1 MiB, then its start and end are kept and the cut is counted")
    void longCut() {
      String huge = "a" + "x".repeat(1 << 20) + "z";

      String echoed = Echo.value(huge);

      assertThat(echoed).hasSizeLessThan(200).startsWith("ax").endsWith("xz");
      assertThat(echoed).contains("characters cut").contains("of " + huge.length());
    }
  }

  @Nested
  @DisplayName("When a list is echoed")
  class Lists {
    @Test
    @DisplayName("When it has 5,000 items, then five are named and the rest counted")
    void longListSummarised() {
      String echoed = Echo.list(Collections.nCopies(5000, "route"), ", ");

      assertThat(echoed).isEqualTo("route, route, route, route, route, and 4995 more");
    }

    @Test
    @DisplayName("When it has three items, then all are named")
    void shortListWhole() {
      assertThat(Echo.list(List.of("a", "b", "c"), "; ")).isEqualTo("a; b; c");
    }
  }
}
