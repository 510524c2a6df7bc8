package io.weighbridge.domain;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StringMatchTest {

  @Nested
  @DisplayName("When a regex is checked with RE2 semantics")
  class Regex {
    @ParameterizedTest
    @ValueSource(strings = {"([", "a{2,1}", "(?=x)y", "(a)\\1", "(?<=a)b", "*", "x**"})
    @DisplayName("When it is not RE2, then INVALID_ARGUMENT names the field and the regex")
    void invalidRefused(String regex) {
      assertThatThrownBy(() -> new StringMatch("", "", regex).validate("step.headerValue"))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageStartingWith("step.headerValue.regex \"")
          .hasMessageContaining("is not a valid RE2 regular expression");
    }

    @ParameterizedTest
    @ValueSource(strings = {"^/api/v[0-9]+/.*$", "(?i)canary", "a|b", "\\(\\[", "[[:alpha:]]+"})
    @DisplayName("When it is RE2, then it passes")
    void validPasses(String regex) {
      assertThatCode(() -> new StringMatch("", "", regex).validate("x")).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @ValueSource(strings = {"([", "(?=x)"})
    @DisplayName("When an exact or prefix value looks like a broken regex, then it is not checked")
    void literalsAreNotRegexes(String value) {
      assertThatCode(() -> new StringMatch(value, "", "").validate("x")).doesNotThrowAnyException();
      assertThatCode(() -> new StringMatch("", value, "").validate("x")).doesNotThrowAnyException();
    }
  }
}
