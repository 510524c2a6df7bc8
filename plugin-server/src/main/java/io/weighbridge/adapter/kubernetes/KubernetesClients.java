package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds the fabric8 client the plugin-server talks to the cluster with. */
public final class KubernetesClients {

  private static final Logger LOG = LoggerFactory.getLogger(KubernetesClients.class);

  private KubernetesClients() {}

  /**
   * How to reach the API server and how patient to be.
   *
   * <p>Why these defaults: Argo Rollouts runs 10 workers that each may call the plugin at once, and
   * an Argo worker waits for the plugin's answer. The incumbent plugin's client-go default of 5
   * requests per second made workers queue behind each other. fabric8 has no client-side rate
   * limiter; what limits us is concurrency, and our load is small by design (reads come from
   * informers, unchanged routes are not written, at most one write in flight per Argo worker), so
   * we allow 32 concurrent requests per host (3x Argo's workers plus informer watches; honoured by
   * the OkHttp and JDK transports, the default Vert.x transport pools more). A request, including
   * fabric8's own retries of connection failures and 5xx/429, is bounded by about twice the request
   * timeout; those retries are capped at 3 so a sick API server fails an Argo call in seconds
   * rather than minutes (fabric8's default is 10 with exponential backoff).
   *
   * @param kubeconfig a kubeconfig file; empty means $KUBECONFIG or ~/.kube/config when one exists,
   *     else the in-cluster ServiceAccount (what a Pod uses)
   * @param context the kubeconfig context to use; empty means its current context
   * @param requestTimeout the time bound of one request (fabric8 retries included, roughly x2)
   * @param connectTimeout the time bound of opening a connection
   * @param retries how often fabric8 retries a request that failed to connect or got 5xx/429
   * @param retryBackoff the first retry's delay (doubling after)
   * @param maxConcurrentRequestsPerHost concurrent requests to the API server
   */
  public record Settings(
      Optional<Path> kubeconfig,
      Optional<String> context,
      Duration requestTimeout,
      Duration connectTimeout,
      int retries,
      Duration retryBackoff,
      int maxConcurrentRequestsPerHost) {

    /** Validates the settings. */
    public Settings {
      Objects.requireNonNull(kubeconfig, "kubeconfig");
      Objects.requireNonNull(context, "context");
      requirePositive(requestTimeout, "requestTimeout");
      requirePositive(connectTimeout, "connectTimeout");
      requirePositive(retryBackoff, "retryBackoff");
      if (retries < 0) {
        throw new IllegalArgumentException("retries must be 0 or more, got " + retries);
      }
      if (maxConcurrentRequestsPerHost < 1) {
        throw new IllegalArgumentException(
            "maxConcurrentRequestsPerHost must be at least 1, got " + maxConcurrentRequestsPerHost);
      }
    }

    /** In-cluster config (or the default kubeconfig) with the defaults explained above. */
    public static Settings defaults() {
      return new Settings(
          Optional.empty(),
          Optional.empty(),
          Duration.ofSeconds(10),
          Duration.ofSeconds(5),
          3,
          Duration.ofMillis(200),
          32);
    }

    /** The same settings reading {@code path} instead. */
    public Settings withKubeconfig(Path path) {
      return new Settings(
          Optional.of(path),
          context,
          requestTimeout,
          connectTimeout,
          retries,
          retryBackoff,
          maxConcurrentRequestsPerHost);
    }
  }

  /**
   * Builds a client from {@code settings}; the caller owns and closes it.
   *
   * @throws IllegalArgumentException when the kubeconfig file does not exist
   */
  public static KubernetesClient create(Settings settings) {
    Config base;
    if (settings.kubeconfig().isPresent()) {
      Path file = settings.kubeconfig().get();
      if (!Files.isReadable(file)) {
        throw new IllegalArgumentException(
            "kubeconfig "
                + file
                + " cannot be read: pass an existing file, or none to use the in-cluster"
                + " ServiceAccount");
      }
      base = Config.fromKubeconfig(settings.context().orElse(null), file.toFile());
      base = withTokenFile(base, file, settings.context());
    } else {
      base = Config.autoConfigure(settings.context().orElse(null));
      Optional<Path> found = defaultKubeconfig();
      if (found.isPresent()) {
        base = withTokenFile(base, found.get(), settings.context());
      }
    }
    return create(base, settings);
  }

  /** fabric8 ignores a user's {@code tokenFile:}; kubectl reads it (see KubeconfigTokenFile). */
  private static Config withTokenFile(Config config, Path kubeconfig, Optional<String> context) {
    Optional<Path> tokenFile = KubeconfigTokenFile.of(kubeconfig, context);
    if (tokenFile.isEmpty() || config.getOauthToken() != null) {
      return config;
    }
    LOG.info("kubeconfig {}: bearer token read from tokenFile {}", kubeconfig, tokenFile.get());
    return new ConfigBuilder(config)
        .withOauthTokenProvider(KubeconfigTokenFile.provider(tokenFile.get()))
        .build();
  }

  /** The kubeconfig fabric8's auto-configuration reads: the first of $KUBECONFIG, else ~/.kube. */
  private static Optional<Path> defaultKubeconfig() {
    String env = System.getenv("KUBECONFIG");
    Path file =
        env != null && !env.isBlank()
            ? Path.of(env.split(java.io.File.pathSeparator)[0])
            : Path.of(System.getProperty("user.home"), ".kube", "config");
    return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
  }

  /**
   * Builds a client from an existing fabric8 {@code config} with the time bounds of {@code
   * settings}.
   */
  public static KubernetesClient create(Config config, Settings settings) {
    Config effective =
        new ConfigBuilder(config)
            .withRequestTimeout(millis(settings.requestTimeout()))
            .withConnectionTimeout(millis(settings.connectTimeout()))
            .withRequestRetryBackoffLimit(settings.retries())
            .withRequestRetryBackoffInterval(millis(settings.retryBackoff()))
            .withMaxConcurrentRequests(Math.max(64, settings.maxConcurrentRequestsPerHost()))
            .withMaxConcurrentRequestsPerHost(settings.maxConcurrentRequestsPerHost())
            .withUserAgent("weighbridge-plugin-server")
            .build();
    LOG.info(
        "Kubernetes API {} (request timeout {}, {} retries, {} concurrent requests)",
        effective.getMasterUrl(),
        settings.requestTimeout(),
        settings.retries(),
        settings.maxConcurrentRequestsPerHost());
    return new KubernetesClientBuilder().withConfig(effective).build();
  }

  private static int millis(Duration d) {
    return (int) Math.min(Integer.MAX_VALUE, d.toMillis());
  }

  private static void requirePositive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + d);
    }
  }
}
