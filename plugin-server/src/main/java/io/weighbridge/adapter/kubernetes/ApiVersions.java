package io.weighbridge.adapter.kubernetes;

import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes' order of preference among API versions: GA before beta before alpha, higher numbers
 * first (v1 &gt; v1beta1 &gt; v1alpha3 &gt; v1alpha2). Versions that do not follow the convention
 * come last.
 */
final class ApiVersions {

  private static final Pattern VERSION = Pattern.compile("v(\\d+)(?:(alpha|beta)(\\d+))?");

  /** Sorts the most preferred version first. */
  static final Comparator<String> PREFERRED_FIRST =
      Comparator.comparingLong(ApiVersions::rank)
          .reversed()
          .thenComparing(Comparator.naturalOrder());

  private ApiVersions() {}

  /** A number that grows with preference; -1 for versions outside the convention. */
  private static long rank(String version) {
    Matcher m = VERSION.matcher(version);
    if (!m.matches()) {
      return -1;
    }
    long major = Long.parseLong(m.group(1));
    long stability =
        m.group(2) == null
            ? 3
            : switch (m.group(2)) {
              case "beta" -> 2;
              default -> 1;
            };
    long minor = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
    return stability * 1_000_000_000L
        + Math.min(major, 999) * 1_000_000L
        + Math.min(minor, 999_999);
  }
}
