package io.weighbridge.domain.auth;

import io.weighbridge.domain.Echo;
import io.weighbridge.domain.PermissionDeniedException;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.UnavailableException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

/**
 * Decides whether a call may proceed: its bearer token must be verified by the {@link
 * Authenticator} and belong to one of the allowed ServiceAccounts: by user name and by the
 * ServiceAccount groups (see {@link Identity#serviceAccount()}), so that a user of another
 * authenticator merely named {@code system:serviceaccount:...} is refused.
 *
 * <p>Verified tokens are remembered for a short time (Argo calls many times per reconcile, and a
 * TokenReview per call would double the API server's load): by the SHA-256 of the token, never the
 * token itself, in a bounded LRU map. Tokens that failed verification are not remembered, so a
 * fixed token works on the next call. A revoked token can therefore still pass for up to the
 * cache's time to live.
 */
public final class CallerGate {

  /** How a gate is set up. */
  public record Settings(Set<ServiceAccount> allowed, Duration cacheTtl, int cacheSize) {
    /** Copies the set and checks the bounds. */
    public Settings {
      allowed = Set.copyOf(allowed);
      if (allowed.isEmpty()) {
        throw new IllegalArgumentException("at least one ServiceAccount must be allowed");
      }
      Objects.requireNonNull(cacheTtl, "cacheTtl");
      if (cacheTtl.isNegative() || cacheSize < 1) {
        throw new IllegalArgumentException("cacheTtl must not be negative and cacheSize positive");
      }
    }

    /** The given ServiceAccounts, verified tokens remembered for 60 s, at most 1024 of them. */
    public static Settings allowing(Set<ServiceAccount> allowed) {
      return new Settings(allowed, Duration.ofSeconds(60), 1024);
    }
  }

  private record Verified(Identity identity, long expiresAtNanos) {}

  private static final String BEARER = "bearer ";

  private final Authenticator authenticator;
  private final Settings settings;
  private final AuthMetrics metrics;
  private final LongSupplier nanoClock;
  private final String allowedText;
  private final Map<String, Verified> cache;

  /** A gate on the system clock. */
  public CallerGate(Authenticator authenticator, Settings settings, AuthMetrics metrics) {
    this(authenticator, settings, metrics, System::nanoTime);
  }

  /** A gate on the given clock (nanoseconds, like {@link System#nanoTime()}), for tests. */
  public CallerGate(
      Authenticator authenticator, Settings settings, AuthMetrics metrics, LongSupplier nanoClock) {
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.allowedText =
        settings.allowed().stream()
            .map(ServiceAccount::toString)
            .sorted()
            .collect(Collectors.joining(","));
    int size = settings.cacheSize();
    this.cache =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Verified> eldest) {
            return size() > size;
          }
        };
  }

  /**
   * Admits a call or says why not.
   *
   * @param authorization the call's {@code authorization} header value, if any
   * @return the allowed ServiceAccount that made the call
   * @throws UnauthenticatedException when there is no token, or it is malformed or not valid
   * @throws PermissionDeniedException when the token is valid but not an allowed ServiceAccount's
   * @throws UnavailableException when the token cannot be checked now
   */
  public ServiceAccount admit(Optional<String> authorization) {
    if (authorization.isEmpty() || authorization.get().isBlank()) {
      metrics.refused(AuthMetrics.Refusal.MISSING_TOKEN);
      throw new UnauthenticatedException(
          "plugin-server requires a bearer token and this call carried none: run the connector"
              + " with --token-file=<the Argo Rollouts controller's service-account token file>,"
              + " e.g. /var/run/secrets/kubernetes.io/serviceaccount/token");
    }
    String header = authorization.get().strip();
    if (!header.regionMatches(true, 0, BEARER, 0, BEARER.length())
        || header.substring(BEARER.length()).isBlank()) {
      metrics.refused(AuthMetrics.Refusal.MALFORMED_TOKEN);
      throw new UnauthenticatedException(
          "the call's authorization header is not 'Bearer <token>': use the connector's"
              + " --token-file, which sends the token in that form");
    }
    String token = header.substring(BEARER.length()).strip();
    Identity identity = verify(token);
    Optional<ServiceAccount> account = identity.serviceAccount();
    if (account.isEmpty() || !settings.allowed().contains(account.get())) {
      metrics.refused(AuthMetrics.Refusal.NOT_ALLOWED);
      throw new PermissionDeniedException(
          (account.isPresent()
                  ? "service account " + account.get()
                  : "user "
                      + Echo.value(identity.username())
                      + " ("
                      + identity.notAServiceAccount().orElse("not a service account")
                      + ")")
              + " may not call plugin-server, which admits only "
              + allowedText
              + ": run the connector with the token of an allowed service account, or add "
              + account.map(ServiceAccount::toString).orElse("<namespace>:<name>")
              + " to plugin-server's --allowed-service-accounts");
    }
    return account.get();
  }

  private Identity verify(String token) {
    String key = sha256(token);
    long now = nanoClock.getAsLong();
    synchronized (cache) {
      Verified hit = cache.get(key);
      if (hit != null && now - hit.expiresAtNanos() < 0) {
        return hit.identity();
      }
      if (hit != null) {
        cache.remove(key);
      }
    }
    Identity identity;
    try {
      identity = authenticator.authenticate(token);
    } catch (UnauthenticatedException e) {
      metrics.refused(AuthMetrics.Refusal.INVALID_TOKEN);
      throw e;
    } catch (UnavailableException e) {
      metrics.refused(AuthMetrics.Refusal.REVIEW_FAILED);
      throw e;
    }
    if (!settings.cacheTtl().isZero()) {
      synchronized (cache) {
        cache.put(key, new Verified(identity, now + settings.cacheTtl().toNanos()));
      }
    }
    return identity;
  }

  /** How many verified tokens are remembered now (expired ones included until looked up). */
  public int cachedTokens() {
    synchronized (cache) {
      return cache.size();
    }
  }

  /** The allowed ServiceAccounts, sorted, for logs. */
  public List<String> allowed() {
    return List.of(allowedText.split(","));
  }

  private static String sha256(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "CallerGate[allowed=%s]", allowedText);
  }
}
