package io.weighbridge.testkit;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.lang.reflect.AnnotatedElement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JUnit extension behind {@link WithKubeApiServer}: resolves {@link KubeApiServer}, its admin
 * {@link KubernetesClient} and a per-method {@link TestNamespace} parameters.
 *
 * <p>Servers live in the root context's store, one per distinct CRD set, so every test class of a
 * run that asks for the same CRDs shares one (starting one costs seconds); JUnit closes them when
 * the run ends. Tests isolate themselves by working in their own {@link TestNamespace}. Without the
 * annotation (plain {@code @ExtendWith}) the annotation's defaults apply.
 */
public final class KubeApiServerExtension implements ParameterResolver {
  private static final Namespace STORE = Namespace.create(KubeApiServerExtension.class);
  private static final Logger log = LoggerFactory.getLogger(KubeApiServerExtension.class);

  /** The CRD bundles one server has, in installation order; the key of the shared servers. */
  record CrdSet(List<String> bundles) {
    CrdSet {
      bundles = List.copyOf(bundles);
    }

    static CrdSet of(WithKubeApiServer settings) {
      List<String> bundles = new ArrayList<>();
      if (!settings.gatewayApi().isBlank()) {
        bundles.add("gateway-api-" + settings.gatewayApi().strip());
      }
      if (settings.argoRollouts()) {
        bundles.add(Crds.ARGO_ROLLOUTS);
      }
      return new CrdSet(bundles);
    }
  }

  /**
   * Kept in a test method's store so JUnit deletes the namespace when the method's context closes.
   */
  private record OwnedNamespace(TestNamespace namespace, KubernetesClient client)
      implements AutoCloseable {
    @Override
    public void close() {
      try {
        client.namespaces().withName(namespace.name()).delete();
      } catch (KubernetesClientException e) {
        log.warn("could not delete test namespace {}: {}", namespace, e.getMessage());
      }
    }
  }

  /** Used by JUnit. */
  public KubeApiServerExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == KubeApiServer.class
        || type == KubernetesClient.class
        || type == TestNamespace.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    KubeApiServer server = server(context);
    if (type == KubeApiServer.class) {
      return server;
    }
    if (type == KubernetesClient.class) {
      return server.client();
    }
    if (context.getTestMethod().isEmpty()) {
      throw new ParameterResolutionException(
          "a TestNamespace belongs to one test method: take it as a parameter of a @Test or @BeforeEach"
              + " method, not of "
              + parameter.getDeclaringExecutable());
    }
    return context
        .getStore(STORE)
        .computeIfAbsent(
            OwnedNamespace.class,
            key -> createNamespace(server.client(), context),
            OwnedNamespace.class)
        .namespace();
  }

  /**
   * The shared server for the CRD set that {@code context}'s test asks for, started on first use.
   */
  public static KubeApiServer server(ExtensionContext context) {
    CrdSet crdSet = CrdSet.of(settings(context));
    return context
        .getRoot()
        .getStore(STORE)
        .computeIfAbsent(crdSet, KubeApiServerExtension::start, KubeApiServer.class);
  }

  private static WithKubeApiServer settings(ExtensionContext context) {
    List<AnnotatedElement> candidates = new ArrayList<>();
    context.getTestMethod().ifPresent(candidates::add);
    for (Class<?> c = context.getTestClass().orElse(null); c != null; c = c.getEnclosingClass()) {
      candidates.add(c);
    }
    return candidates.stream()
        .map(element -> AnnotationSupport.findAnnotation(element, WithKubeApiServer.class))
        .flatMap(Optional::stream)
        .findFirst()
        .orElseGet(() -> Defaults.class.getAnnotation(WithKubeApiServer.class));
  }

  private static KubeApiServer start(CrdSet crdSet) {
    long started = System.nanoTime();
    if (crdSet.bundles().isEmpty()) {
      return KubeApiServer.start();
    }
    Crds crds = Crds.locate();
    // Fail before starting anything when a bundle is misnamed.
    crdSet.bundles().forEach(crds::bundle);
    // Parsing megabytes of CRD YAML takes a while; do it while the server starts.
    CompletableFuture<List<CustomResourceDefinition>> parsed =
        CompletableFuture.supplyAsync(
            () -> crdSet.bundles().stream().flatMap(bundle -> crds.read(bundle).stream()).toList());
    KubeApiServer server = KubeApiServer.start();
    try {
      crds.install(server.client(), parsed.join(), Duration.ofSeconds(90));
    } catch (RuntimeException e) {
      server.close();
      throw e instanceof CompletionException && e.getCause() instanceof RuntimeException cause
          ? cause
          : e;
    }
    log.info(
        "kube-apiserver with {} ready for tests in {} ms",
        crdSet.bundles(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    return server;
  }

  private static OwnedNamespace createNamespace(KubernetesClient client, ExtensionContext context) {
    String name = namespaceName(context.getRequiredTestMethod().getName());
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels("weighbridge.io/test-class", label(context.getRequiredTestClass()))
                .endMetadata()
                .build())
        .create();
    return new OwnedNamespace(new TestNamespace(name), client);
  }

  /**
   * {@code t-<method>-<random>}, a valid DNS label (lowercase alphanumerics and '-', at most 63).
   */
  static String namespaceName(String method) {
    String base = method.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    base = base.substring(0, Math.min(base.length(), 48)).replaceAll("^-+|-+$", "");
    String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36 * 36 * 36), 36);
    return ("t-" + base + "-" + suffix).replace("--", "-");
  }

  private static String label(Class<?> testClass) {
    String name = testClass.getSimpleName();
    return name.substring(0, Math.min(name.length(), 63)).replaceAll("[^A-Za-z0-9_.-]", "_");
  }

  /** Carries the annotation's defaults for tests that use the extension without it. */
  @WithKubeApiServer
  private static final class Defaults {}
}
