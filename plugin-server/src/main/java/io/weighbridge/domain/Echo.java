package io.weighbridge.domain;

import java.util.List;

/**
 * Bounds what error messages echo of their input. Argo copies every failure into the Rollout's
 * Events and its log on each reconcile, so a 1 MiB route name or 5,000 missing routes must not
 * become a 1 MiB message: one value keeps its start and end, a list its first few items, a whole
 * message its start and its closing advice.
 */
public final class Echo {

  /** The longest value echoed whole; longer ones keep their start and end. */
  public static final int MAX_VALUE = 120;

  /** How many items of a list are named before the rest is counted. */
  public static final int MAX_ITEMS = 5;

  private Echo() {}

  /** {@code value}, or its first and last characters and how long it was. */
  public static String value(String value) {
    return cut(value, MAX_VALUE);
  }

  /**
   * {@code text} when at most {@code max} characters, else its start (three quarters of the room)
   * and end (the rest, where messages put the fix) around a note of how much was cut.
   */
  public static String cut(String text, int max) {
    if (text == null || text.length() <= max) {
      return text;
    }
    int tail = Math.max(0, max / 4);
    int head = Math.max(0, max - tail);
    return text.substring(0, head)
        + "[... "
        + (text.length() - head - tail)
        + " of "
        + text.length()
        + " characters cut ...]"
        + text.substring(text.length() - tail);
  }

  /** The first {@value #MAX_ITEMS} items (each bounded), joined, and how many more there are. */
  public static String list(List<String> items, String separator) {
    StringBuilder out = new StringBuilder();
    int shown = Math.min(items.size(), MAX_ITEMS);
    for (int i = 0; i < shown; i++) {
      if (i > 0) {
        out.append(separator);
      }
      out.append(value(items.get(i)));
    }
    if (items.size() > shown) {
      out.append(separator).append("and ").append(items.size() - shown).append(" more");
    }
    return out.toString();
  }
}
