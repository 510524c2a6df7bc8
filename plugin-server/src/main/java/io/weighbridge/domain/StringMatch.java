package io.weighbridge.domain;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * Argo's StringMatch. Exactly one of the three should be non-empty, and a regex must be valid RE2
 * (the dialect of Envoy and Go's regexp, which Gateway implementations such as Linkerd, Traefik and
 * Envoy Gateway compile it with); {@link #validate(String)} checks both before anything is written.
 *
 * @param exact the exact value, or empty
 * @param prefix the prefix, or empty
 * @param regex the regular expression, or empty
 */
public record StringMatch(String exact, String prefix, String regex) {

  /** Normalizes absent values to empty strings. */
  public StringMatch {
    exact = exact == null ? "" : exact;
    prefix = prefix == null ? "" : prefix;
    regex = regex == null ? "" : regex;
  }

  /**
   * Fails unless exactly one kind of match is set.
   *
   * @param where names the field in messages, e.g. {@code setHeaderRoute
   *     "canary".match[0].headerValue}
   */
  public void validate(String where) {
    int set = (exact.isEmpty() ? 0 : 1) + (prefix.isEmpty() ? 0 : 1) + (regex.isEmpty() ? 0 : 1);
    if (set != 1) {
      throw new InvalidConfigException(
          where
              + " must set exactly one of exact, prefix or regex (it sets "
              + set
              + "): fix the step in the Rollout");
    }
    if (!regex.isEmpty()) {
      try {
        Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new InvalidConfigException(
            where
                + ".regex \""
                + Echo.value(regex)
                + "\" is not a valid RE2 regular expression ("
                + Echo.value(e.getDescription())
                + "): the route's data plane could not use it; fix the step in the Rollout (RE2 has"
                + " no backreferences or lookaround; escape literal characters such as ( [ { with"
                + " a backslash)",
            e);
      }
    }
  }
}
