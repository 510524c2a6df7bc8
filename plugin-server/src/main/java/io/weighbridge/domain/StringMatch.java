package io.weighbridge.domain;

/**
 * Argo's StringMatch. Exactly one of the three should be non-empty; {@link #validate(String)}
 * checks that.
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
  }
}
