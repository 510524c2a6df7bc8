package io.weighbridge.testkit;

import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real kube-apiserver backed by its own etcd, both on loopback ports of this machine, for
 * integration tests.
 *
 * <p>Identities: an administrator (group {@code system:masters}, see {@link #client()}), a
 * restricted user {@value #RESTRICTED_USER} that RBAC grants nothing until a test binds a role to
 * it, and any ServiceAccount (see {@link #serviceAccountConfig}), whose tokens the server signs
 * with a key pair made here. Authorization is RBAC, as in a real cluster, so tests can prove that
 * the permissions Weighbridge ships are the ones it needs.
 *
 * <p>There is no controller manager: nothing garbage-collects, deleted namespaces stay {@code
 * Terminating}, and Pods are never scheduled. Closing stops both processes and deletes the working
 * directory; a JVM shutdown hook and a watchdog process do the same if the JVM exits or dies
 * without closing.
 */
public final class KubeApiServer implements AutoCloseable {
  /** The user of the static token that RBAC grants nothing by default. */
  public static final String RESTRICTED_USER = "weighbridge-restricted";

  /**
   * The administrator's user name; it is in group {@code system:masters}, which RBAC lets do
   * anything.
   */
  public static final String ADMIN_USER = "weighbridge-admin";

  /**
   * The user of a static token whose name looks like ServiceAccount argo-rollouts/argo-rollouts's
   * but is none: no {@code system:serviceaccounts} groups, as a forged or misconfigured
   * authenticator (static tokens, a webhook, OIDC claims) could name someone. For tests that prove
   * callers are admitted by more than their name.
   */
  public static final String LOOKALIKE_USER = "system:serviceaccount:argo-rollouts:argo-rollouts";

  /** The issuer the server writes into ServiceAccount tokens. */
  public static final String SERVICE_ACCOUNT_ISSUER =
      "https://kubernetes.default.svc.cluster.local";

  private static final Logger log = LoggerFactory.getLogger(KubeApiServer.class);
  private static final int LOG_TAIL_LINES = 30;
  private static final int START_ATTEMPTS = 3;

  /** How a server is started; {@link #defaults()} suits tests. */
  public record Options(Duration readyTimeout, List<String> extraApiServerArgs) {
    /** Copies the argument list. */
    public Options {
      extraApiServerArgs = List.copyOf(extraApiServerArgs);
    }

    /** Waits up to 90 s for {@code /readyz} (a cold start takes a few seconds), no extra flags. */
    public static Options defaults() {
      return new Options(Duration.ofSeconds(90), List.of());
    }

    /** These options plus extra kube-apiserver flags such as {@code --feature-gates=...}. */
    public Options withApiServerArgs(String... args) {
      List<String> all = new ArrayList<>(extraApiServerArgs);
      all.addAll(List.of(args));
      return new Options(readyTimeout, all);
    }
  }

  private final Path workDir;
  private final URI url;
  private final String caCertPem;
  private final String adminToken;
  private final String restrictedToken;
  private final Path kubeconfig;
  private final Process etcd;
  private final Process apiServer;
  private final Process watchdog;
  private final Thread shutdownHook;
  private final KubernetesClient client;
  private boolean closed;

  private KubeApiServer(
      Path workDir,
      URI url,
      String caCertPem,
      String adminToken,
      String restrictedToken,
      Process etcd,
      Process apiServer) {
    this.workDir = workDir;
    this.url = url;
    this.caCertPem = caCertPem;
    this.adminToken = adminToken;
    this.restrictedToken = restrictedToken;
    this.etcd = etcd;
    this.apiServer = apiServer;
    this.watchdog = startWatchdog(workDir, etcd, apiServer);
    this.shutdownHook =
        new Thread(
            () -> {
              stopProcesses();
              deleteRecursively(workDir);
            },
            "kube-apiserver-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    this.kubeconfig = writeKubeconfig(workDir.resolve("admin.kubeconfig"), adminToken);
    this.client = new KubernetesClientBuilder().withConfig(adminConfig()).build();
  }

  /**
   * Starts a server with the binaries {@link ControlPlaneBinaries#locate()} finds and default
   * options.
   */
  public static KubeApiServer start() {
    return start(ControlPlaneBinaries.locate(), Options.defaults());
  }

  /**
   * Starts etcd and kube-apiserver on free loopback ports and returns once {@code /readyz} is ok.
   * Retries with other ports if another process took a chosen port between choosing and binding.
   */
  public static KubeApiServer start(ControlPlaneBinaries binaries, Options options) {
    for (int attempt = 1; ; attempt++) {
      try {
        return startOnce(binaries, options);
      } catch (PortTakenException e) {
        if (attempt == START_ATTEMPTS) {
          throw new ControlPlaneException(
              "gave up after " + attempt + " attempts: " + e.getMessage(), e);
        }
        log.warn("retrying with other ports: {}", e.getMessage());
      }
    }
  }

  private static KubeApiServer startOnce(ControlPlaneBinaries binaries, Options options) {
    long started = System.nanoTime();
    Path dir;
    try {
      dir = Files.createTempDirectory("weighbridge-kube-");
    } catch (IOException e) {
      throw new ControlPlaneException("cannot create a temporary directory: " + e.getMessage(), e);
    }
    Process etcd = null;
    Process apiServer = null;
    try {
      String adminToken = randomToken();
      String restrictedToken = randomToken();
      writeCredentials(dir, adminToken, restrictedToken, lookalikeToken(restrictedToken));
      int etcdClientPort = freePort();
      int etcdPeerPort = freePort();
      int apiPort = freePort();
      String etcdUrl = "http://127.0.0.1:" + etcdClientPort;
      String peerUrl = "http://127.0.0.1:" + etcdPeerPort;
      etcd =
          launch(
              dir.resolve("etcd.log"),
              List.of(
                  binaries.etcd().toString(),
                  "--name=weighbridge",
                  "--data-dir=" + dir.resolve("etcd-data"),
                  "--listen-client-urls=" + etcdUrl,
                  "--advertise-client-urls=" + etcdUrl,
                  "--listen-peer-urls=" + peerUrl,
                  "--initial-advertise-peer-urls=" + peerUrl,
                  "--initial-cluster=weighbridge=" + peerUrl,
                  // Test data is thrown away; skipping fsync makes every write much faster.
                  "--unsafe-no-fsync",
                  "--log-level=warn"));
      // The API server retries its etcd connection, so both start at once.
      List<String> apiArgs =
          new ArrayList<>(
              List.of(
                  binaries.kubeApiServer().toString(),
                  "--etcd-servers=" + etcdUrl,
                  "--bind-address=127.0.0.1",
                  "--advertise-address=127.0.0.1",
                  "--secure-port=" + apiPort,
                  "--cert-dir=" + dir.resolve("certs"),
                  "--token-auth-file=" + dir.resolve("tokens.csv"),
                  "--anonymous-auth=false",
                  "--authorization-mode=RBAC",
                  "--service-account-issuer=" + SERVICE_ACCOUNT_ISSUER,
                  "--service-account-key-file=" + dir.resolve("sa.pub"),
                  "--service-account-signing-key-file=" + dir.resolve("sa.key"),
                  "--service-cluster-ip-range=10.96.0.0/24",
                  // No kubelets or controllers: nothing needs the endpoints of the kubernetes
                  // Service.
                  "--endpoint-reconciler-type=none",
                  "--profiling=false"));
      apiArgs.addAll(options.extraApiServerArgs());
      apiServer = launch(dir.resolve("kube-apiserver.log"), apiArgs);
      URI url = URI.create("https://127.0.0.1:" + apiPort);
      String caCertPem = awaitReady(dir, url, adminToken, etcd, apiServer, options.readyTimeout());
      KubeApiServer server =
          new KubeApiServer(dir, url, caCertPem, adminToken, restrictedToken, etcd, apiServer);
      log.info(
          "kube-apiserver {} ready in {} ms (etcd on port {}, work dir {})",
          url,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
          etcdClientPort,
          dir);
      return server;
    } catch (RuntimeException e) {
      stop(apiServer);
      stop(etcd);
      deleteRecursively(dir);
      throw e;
    }
  }

  /** The server's base URL, {@code https://127.0.0.1:<port>}. */
  public URI url() {
    return url;
  }

  /** The administrator's client. It belongs to this server: use it, but do not close it. */
  public KubernetesClient client() {
    return client;
  }

  /** A fresh client configuration for the administrator (for clients with their own settings). */
  public Config adminConfig() {
    return config(adminToken);
  }

  /**
   * A client configuration for {@value #RESTRICTED_USER}, who may do only what a test grants via
   * RBAC.
   */
  public Config restrictedConfig() {
    return config(restrictedToken);
  }

  /**
   * The static token of {@value #LOOKALIKE_USER}: named like a ServiceAccount, in none of the
   * {@code system:serviceaccounts} groups. RBAC grants it nothing unless a test binds that name.
   */
  public String lookalikeToken() {
    return lookalikeToken(restrictedToken);
  }

  /**
   * A client configuration for ServiceAccount {@code namespace/name} (created if missing),
   * authenticated with a token the server issues for an hour; RBAC sees {@code
   * system:serviceaccount:<namespace>:<name>}.
   */
  public Config serviceAccountConfig(String namespace, String name) {
    client
        .serviceAccounts()
        .inNamespace(namespace)
        .resource(
            new ServiceAccountBuilder().withNewMetadata().withName(name).endMetadata().build())
        .serverSideApply();
    TokenRequest issued =
        client
            .serviceAccounts()
            .inNamespace(namespace)
            .withName(name)
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withExpirationSeconds(3600L)
                    .endSpec()
                    .build());
    return config(issued.getStatus().getToken());
  }

  /** A kubeconfig file for the administrator, for Go programs and command-line tools. */
  public Path kubeconfig() {
    return kubeconfig;
  }

  /** A kubeconfig file for the restricted user, written on first call. */
  public Path restrictedKubeconfig() {
    Path file = workDir.resolve("restricted.kubeconfig");
    return Files.exists(file) ? file : writeKubeconfig(file, restrictedToken);
  }

  /** The PEM certificates that sign the server's self-signed serving certificate. */
  public String caCertPem() {
    return caCertPem;
  }

  /**
   * The working directory: certificates, keys, etcd data and the processes' logs (etcd.log, ...).
   */
  public Path workDir() {
    return workDir;
  }

  /** The last lines of the API server's log, for failure messages. */
  public String apiServerLogTail() {
    return tail(workDir.resolve("kube-apiserver.log"), LOG_TAIL_LINES);
  }

  /** Stops the API server and etcd and deletes the working directory. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    // Servers first: the client then finds its connections already closed by the peer and shuts
    // down quietly, where closing it with connections open makes Vert.x log a spurious error.
    stopProcesses();
    client.close();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // The JVM is already shutting down; the hook runs or ran anyway.
    }
    deleteRecursively(workDir);
  }

  @Override
  public String toString() {
    return "KubeApiServer[" + url + ", " + workDir + "]";
  }

  private void stopProcesses() {
    // The watchdog first, so it never signals a process ID that has been reused.
    watchdog.destroy();
    stop(apiServer);
    stop(etcd);
  }

  private Config config(String token) {
    return new ConfigBuilder(Config.empty())
        .withMasterUrl(url.toString())
        .withCaCertData(base64(caCertPem))
        .withOauthToken(token)
        .withNamespace("default")
        .build();
  }

  private Path writeKubeconfig(Path file, String token) {
    String yaml =
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: weighbridge-test
          cluster:
            server: %s
            certificate-authority-data: %s
        users:
        - name: user
          user:
            token: %s
        contexts:
        - name: weighbridge-test
          context:
            cluster: weighbridge-test
            user: user
            namespace: default
        current-context: weighbridge-test
        """
            .formatted(url, base64(caCertPem), token);
    writePrivate(file, yaml);
    return file;
  }

  /** The lookalike's token, derived from the restricted user's (both random per server). */
  private static String lookalikeToken(String restrictedToken) {
    return "lookalike-" + restrictedToken;
  }

  private static void writeCredentials(
      Path dir, String adminToken, String restrictedToken, String lookalikeToken) {
    // token,user,uid,"group1,group2" — see kube-apiserver --token-auth-file.
    writePrivate(
        dir.resolve("tokens.csv"),
        adminToken
            + ","
            + ADMIN_USER
            + ",uid-admin,\"system:masters\"\n"
            + restrictedToken
            + ","
            + RESTRICTED_USER
            + ",uid-restricted\n"
            + lookalikeToken
            + ","
            + LOOKALIKE_USER
            + ",uid-lookalike\n");
    KeyPair keys;
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      keys = generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new ControlPlaneException("this JVM cannot make an EC P-256 key pair", e);
    }
    writePrivate(dir.resolve("sa.key"), pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
    writePrivate(dir.resolve("sa.pub"), pem("PUBLIC KEY", keys.getPublic().getEncoded()));
  }

  private static String awaitReady(
      Path dir, URI url, String token, Process etcd, Process apiServer, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Path certFile = dir.resolve("certs").resolve("apiserver.crt");
    String lastProblem = "no answer yet";
    HttpClient http = null;
    String caCertPem = null;
    try {
      while (System.nanoTime() < deadline) {
        failIfExited("etcd", etcd, dir.resolve("etcd.log"));
        failIfExited("kube-apiserver", apiServer, dir.resolve("kube-apiserver.log"));
        if (http == null && Files.isRegularFile(certFile)) {
          caCertPem = readCertificates(certFile);
          if (caCertPem != null) {
            http =
                HttpClient.newBuilder()
                    .sslContext(trusting(caCertPem))
                    .connectTimeout(Duration.ofSeconds(2))
                    .build();
          }
        }
        if (http != null) {
          try {
            HttpResponse<String> response =
                http.send(
                    HttpRequest.newBuilder(url.resolve("/readyz?verbose"))
                        .header("Authorization", "Bearer " + token)
                        .timeout(Duration.ofSeconds(5))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
              return caCertPem;
            }
            lastProblem =
                "/readyz answered " + response.statusCode() + ":\n" + failedChecks(response.body());
          } catch (IOException e) {
            lastProblem = "/readyz: " + e;
          }
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        if (Thread.interrupted()) {
          throw new ControlPlaneException("interrupted while waiting for kube-apiserver");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ControlPlaneException("interrupted while waiting for kube-apiserver", e);
    } finally {
      if (http != null) {
        http.close();
      }
    }
    throw new ControlPlaneException(
        "kube-apiserver at "
            + url
            + " was not ready within "
            + timeout.toSeconds()
            + " s ("
            + lastProblem
            + "); a slow machine may need a longer Options.readyTimeout.\n"
            + logTails(dir));
  }

  private static void failIfExited(String name, Process process, Path logFile) {
    if (process.isAlive()) {
      return;
    }
    String tail = tail(logFile, LOG_TAIL_LINES);
    String message =
        name
            + " exited with status "
            + process.exitValue()
            + " while starting; its log ends:\n"
            + tail;
    if (tail.contains("address already in use")) {
      throw new PortTakenException(message);
    }
    throw new ControlPlaneException(message);
  }

  private static String failedChecks(String body) {
    return body.lines()
        .filter(line -> line.startsWith("[-]"))
        .reduce((a, b) -> a + "\n" + b)
        .orElse(body.strip());
  }

  private static String logTails(Path dir) {
    return "etcd.log ends:\n"
        + tail(dir.resolve("etcd.log"), LOG_TAIL_LINES)
        + "\nkube-apiserver.log ends:\n"
        + tail(dir.resolve("kube-apiserver.log"), LOG_TAIL_LINES);
  }

  /** The certificate file is written by the server; until it is complete, parsing it fails. */
  private static String readCertificates(Path file) {
    try {
      String pem = Files.readString(file, StandardCharsets.US_ASCII);
      if (pem.isBlank()) {
        return null;
      }
      CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
      return pem;
    } catch (IOException | GeneralSecurityException e) {
      return null;
    }
  }

  private static SSLContext trusting(String pem) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate cert :
          CertificateFactory.getInstance("X.509")
              .generateCertificates(
                  new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
        store.setCertificateEntry("ca-" + i++, cert);
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (IOException | GeneralSecurityException e) {
      throw new ControlPlaneException("cannot trust the API server's certificate", e);
    }
  }

  private static Process launch(Path logFile, List<String> command) {
    try {
      return new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(logFile.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .start();
    } catch (IOException e) {
      throw new ControlPlaneException(
          "cannot start " + command.getFirst() + ": " + e.getMessage(), e);
    }
  }

  /**
   * A shell loop that kills both servers and deletes the working directory when this JVM disappears
   * without running its shutdown hooks (killed by a test runner's timeout, say), so no
   * kube-apiserver outlives its test run.
   */
  private static Process startWatchdog(Path dir, Process etcd, Process apiServer) {
    return launch(
        dir.resolve("watchdog.log"),
        List.of(
            "sh",
            "-c",
            "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done;"
                + " kill -9 \"$2\" \"$3\" 2>/dev/null; sleep 1; rm -rf \"$4\"",
            "weighbridge-watchdog",
            Long.toString(ProcessHandle.current().pid()),
            Long.toString(apiServer.pid()),
            Long.toString(etcd.pid()),
            dir.toString()));
  }

  /** Kills at once: the data is thrown away, and a graceful API server shutdown takes seconds. */
  private static void stop(Process process) {
    if (process == null || !process.isAlive()) {
      return;
    }
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new ControlPlaneException("cannot find a free loopback port", e);
    }
  }

  private static String randomToken() {
    byte[] bytes = new byte[24];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  private static void writePrivate(Path file, String content) {
    try {
      Files.writeString(file, content, StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** The last {@code lines} lines of a log file, reading only its end (logs can be large). */
  static String tail(Path file, int lines) {
    try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
      long length = in.length();
      int window = (int) Math.min(length, 32 * 1024);
      byte[] bytes = new byte[window];
      in.seek(length - window);
      in.readFully(bytes);
      List<String> all = new String(bytes, StandardCharsets.UTF_8).lines().toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      log.warn("could not delete {}: {}", dir, e.getMessage());
    }
  }

  /** Another process bound a port between our choosing it and the server binding it. */
  private static final class PortTakenException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    PortTakenException(String message) {
      super(message);
    }
  }
}
