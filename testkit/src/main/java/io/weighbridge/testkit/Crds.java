package io.weighbridge.testkit;

import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CRD bundles of the pinned upstream releases ({@code <bundle>.yaml}, e.g. {@code
 * gateway-api-v1.5.1-experimental} or {@code argo-rollouts-v1.9.1-crds}; see {@link UpstreamFiles})
 * and how to install them.
 */
public final class Crds {
  /** The Gateway API bundle most tests use: the current release with its experimental kinds. */
  public static final String GATEWAY_API_LATEST = "gateway-api-v1.5.1-experimental";

  /** The Argo Rollouts CRDs of the Argo version Weighbridge is tested with. */
  public static final String ARGO_ROLLOUTS = "argo-rollouts-v1.9.1-crds";

  /** Owner of the fields this kit applies, as shown in managedFields. */
  static final String FIELD_MANAGER = "weighbridge-testkit";

  private static final Logger log = LoggerFactory.getLogger(Crds.class);

  private final Path dir;

  /** Bundles in {@code dir}, a folder of {@code <bundle>.yaml} files. */
  public Crds(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new ControlPlaneException("CRD folder " + dir + " does not exist");
    }
    this.dir = dir;
  }

  /**
   * The bundles resolved from the pinned Go modules: {@link UpstreamFiles#locate()}'s {@code
   * crds/}.
   */
  public static Crds locate() {
    return UpstreamFiles.locate().crds();
  }

  /** The folder holding the bundles. */
  public Path dir() {
    return dir;
  }

  /** Names of the available bundles, sorted. */
  public List<String> bundles() {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .map(file -> file.getFileName().toString())
          .filter(name -> name.endsWith(".yaml"))
          .map(name -> name.substring(0, name.length() - ".yaml".length()))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new ControlPlaneException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * The file of {@code bundle}; a clear error names the available bundles when it does not exist.
   */
  public Path bundle(String bundle) {
    Path file = dir.resolve(bundle + ".yaml");
    if (!Files.isRegularFile(file)) {
      throw new ControlPlaneException(
          "no CRD bundle '" + bundle + "' in " + dir + "; available: " + bundles());
    }
    return file;
  }

  /** {@link #install(KubernetesClient, Collection, Duration)} of one bundle, waiting up to 60 s. */
  public List<CustomResourceDefinition> install(KubernetesClient client, String bundle) {
    return install(client, read(bundle), Duration.ofSeconds(60));
  }

  /**
   * Server-side applies {@code crds} (all at once: the server's per-CRD work overlaps) and returns
   * once each is Established and every served version's resource is listed by API discovery, so
   * clients can use the new kinds right away. Returns the CRDs as the server has them.
   */
  public List<CustomResourceDefinition> install(
      KubernetesClient client, Collection<CustomResourceDefinition> crds, Duration timeout) {
    long started = System.nanoTime();
    long deadline = started + timeout.toNanos();
    // A CRD's schema is up to a megabyte that the server validates and compiles (CEL); with a
    // dozen at once on a loaded machine one apply can outlast the client's usual request timeout,
    // so the applies get the whole install's.
    try (KubernetesClient patient =
            new KubernetesClientBuilder()
                .withConfig(
                    new ConfigBuilder(client.getConfiguration())
                        .withRequestTimeout((int) timeout.toMillis())
                        .build())
                .build();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<CustomResourceDefinition>> applied = new ArrayList<>();
      for (CustomResourceDefinition crd : crds) {
        applied.add(
            pool.submit(
                () ->
                    patient
                        .resource(crd)
                        .fieldManager(FIELD_MANAGER)
                        .forceConflicts()
                        .serverSideApply()));
      }
      for (Future<CustomResourceDefinition> future : applied) {
        await(future, deadline);
      }
    }
    List<CustomResourceDefinition> established = new ArrayList<>();
    for (CustomResourceDefinition crd : crds) {
      established.add(
          client
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .withName(crd.getMetadata().getName())
              .waitUntilCondition(
                  Crds::isEstablished, remainingMillis(deadline), TimeUnit.MILLISECONDS));
    }
    for (CustomResourceDefinition crd : established) {
      awaitDiscoverable(client, crd, deadline, timeout);
    }
    log.info(
        "installed {} CRDs in {} ms",
        crds.size(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    return established;
  }

  /**
   * Installs only the CRD of {@code kind} from {@code bundle}, with API version {@code dropped} no
   * longer served: a cluster that serves older versions only (e.g. HTTPRoute only as v1beta1, as
   * Linkerd 2.15-era clusters did), which no upstream bundle reproduces.
   */
  public CustomResourceDefinition installWithout(
      KubernetesClient client, String bundle, String kind, String dropped) {
    CustomResourceDefinition crd =
        read(bundle).stream()
            .filter(c -> c.getSpec().getNames().getKind().equals(kind))
            .findFirst()
            .orElseThrow(() -> new ControlPlaneException("no " + kind + " CRD in " + bundle));
    if (!crd.getSpec().getVersions().removeIf(v -> v.getName().equals(dropped))) {
      throw new ControlPlaneException(kind + " in " + bundle + " has no version " + dropped);
    }
    return install(client, List.of(crd), Duration.ofSeconds(60)).get(0);
  }

  /** The CRDs of {@code bundle}, parsed without a server (so it can overlap with starting one). */
  public List<CustomResourceDefinition> read(String bundle) {
    Path file = bundle(bundle);
    Object parsed;
    try (InputStream in = Files.newInputStream(file)) {
      parsed = new KubernetesSerialization().unmarshal(in);
    } catch (IOException | RuntimeException e) {
      throw new ControlPlaneException("cannot read " + file + ": " + e.getMessage(), e);
    }
    List<?> items = parsed instanceof List<?> list ? list : List.of(parsed);
    List<CustomResourceDefinition> crds = new ArrayList<>();
    for (Object item : items) {
      if (!(item instanceof CustomResourceDefinition crd)) {
        throw new ControlPlaneException(
            file
                + " holds a "
                + (item instanceof HasMetadata resource
                    ? resource.getKind() + " (" + resource.getMetadata().getName() + ")"
                    : String.valueOf(item))
                + "; a CRD bundle may hold only apiextensions.k8s.io/v1 CustomResourceDefinitions");
      }
      crds.add(crd);
    }
    if (crds.isEmpty()) {
      throw new ControlPlaneException(file + " holds no CustomResourceDefinition");
    }
    return crds;
  }

  private static void await(Future<CustomResourceDefinition> applied, long deadline) {
    try {
      applied.get(remainingMillis(deadline), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException runtime
          ? runtime
          : new ControlPlaneException("applying a CRD failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new ControlPlaneException(
          "applying the CRDs took too long; check the API server's log", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ControlPlaneException("interrupted while applying CRDs", e);
    }
  }

  private static boolean isEstablished(CustomResourceDefinition crd) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  private static void awaitDiscoverable(
      KubernetesClient client, CustomResourceDefinition crd, long deadline, Duration timeout) {
    String group = crd.getSpec().getGroup();
    String plural = crd.getSpec().getNames().getPlural();
    for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
      if (!Boolean.TRUE.equals(version.getServed())) {
        continue;
      }
      String groupVersion = group + "/" + version.getName();
      while (!discovers(client, groupVersion, plural)) {
        if (System.nanoTime() > deadline) {
          throw new ControlPlaneException(
              plural
                  + "."
                  + groupVersion
                  + " is Established but API discovery did not list it within "
                  + timeout.toSeconds()
                  + " s; check the API server's log");
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
    }
  }

  private static boolean discovers(KubernetesClient client, String groupVersion, String plural) {
    try {
      APIResourceList resources = client.getApiResources(groupVersion);
      return resources != null
          && resources.getResources().stream().map(APIResource::getName).anyMatch(plural::equals);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404 || e.getCode() == 503) {
        return false;
      }
      throw e;
    }
  }

  private static long remainingMillis(long deadline) {
    return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
  }
}
