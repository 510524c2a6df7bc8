package io.weighbridge.domain.analysis;

import java.time.Instant;

/**
 * The port the analyzer reads numbers through (Prometheus in production, fakes in tests). A query
 * must yield one number: built-in queries aggregate with {@code sum}.
 */
public interface MetricsSource {

  /**
   * Evaluates an instant query.
   *
   * @return the value, or {@link QueryResult.NoData} when the query matched nothing or more than
   *     one series
   * @throws io.weighbridge.domain.UnavailableException when the source cannot answer (down, timed
   *     out, refused the query)
   */
  QueryResult query(String promql, Instant time);

  /**
   * Evaluates an instant query that returns one series per histogram bound, labelled {@code le}
   * (e.g. {@code sum by (le) (increase(x_bucket[5m]))}); series whose {@code le} values parse to
   * the same number are added up.
   *
   * @return {@link QueryResult.Buckets}, or {@link QueryResult.NoData} when the query matched
   *     nothing or a series has no usable {@code le}
   * @throws io.weighbridge.domain.UnavailableException when the source cannot answer
   */
  QueryResult histogram(String promql, Instant time);

  /** The answer to one query. */
  sealed interface QueryResult {

    /** One number (may be NaN or infinite: the analyzer decides what that means). */
    record Value(double value) implements QueryResult {}

    /** A cumulative histogram, the answer to {@link #histogram}. */
    record Buckets(LatencyStatistics.Histogram histogram) implements QueryResult {}

    /** Nothing to judge, and why. */
    record NoData(String reason) implements QueryResult {}
  }
}
