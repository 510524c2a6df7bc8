package io.weighbridge.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.kubernetes.TokenReviewAuthenticator;
import io.weighbridge.server.PluginServer;
import io.weighbridge.server.ServerConfig;
import io.weighbridge.testkit.KubeApiServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts plugin-server as it runs in a cluster with authentication on, for the Go conformance test
 * {@code auth_test.go}: a real kube-apiserver (testkit, no CRDs needed) that issues and reviews
 * ServiceAccount tokens, and the real {@link PluginServer} (with a {@link RecordingTrafficRouter}
 * and its {@link ControlEndpoint}) whose {@link TokenReviewAuthenticator} talks to that API server
 * as ServiceAccount {@value #NAMESPACE}:{@value #SERVICE_ACCOUNT} holding nothing but the chart's
 * rule {@code tokenreviews create}, so the test also proves that this permission is enough.
 *
 * <p>Flags of its own: {@code --ports-file=PATH} (JSON once ready: pid, grpcPort, httpPort,
 * controlPort, kubeconfig of the administrator), {@code --control-port=N}. Every other argument
 * goes to {@link ServerConfig#parse}, e.g. {@code --auth-mode=tokenreview --tls-cert-file=...}.
 * Must run with the repository checkout as working directory (the testkit finds the control-plane
 * build script from there).
 */
public final class AuthServerMain {

  /** The namespace of plugin-server's own ServiceAccount. */
  static final String NAMESPACE = "argo-rollouts";

  /** plugin-server's own ServiceAccount. */
  static final String SERVICE_ACCOUNT = "weighbridge";

  private AuthServerMain() {}

  /** Runs until the process is terminated; SIGTERM closes everything it started. */
  public static void main(String[] args) throws IOException, InterruptedException {
    Path portsFile = null;
    int controlPort = 0;
    List<String> serverArgs = new ArrayList<>();
    for (String arg : args) {
      if (arg.startsWith("--ports-file=")) {
        portsFile = Path.of(arg.substring("--ports-file=".length()));
      } else if (arg.startsWith("--control-port=")) {
        controlPort = Integer.parseInt(arg.substring("--control-port=".length()));
      } else {
        serverArgs.add(arg);
      }
    }
    ServerConfig config = ServerConfig.parse(serverArgs.toArray(String[]::new), System.getenv());

    KubeApiServer apiServer = KubeApiServer.start();
    KubernetesClient admin = apiServer.client();
    admin
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    // Exactly the chart's rule (charts/weighbridge/templates/rbac.yaml, rbac.tokenReview).
    admin
        .rbac()
        .clusterRoles()
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName("weighbridge-tokenreview")
                .endMetadata()
                .withRules(
                    new PolicyRuleBuilder()
                        .withApiGroups("authentication.k8s.io")
                        .withResources("tokenreviews")
                        .withVerbs("create")
                        .build())
                .build())
        .serverSideApply();
    admin
        .rbac()
        .clusterRoleBindings()
        .resource(
            new ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName("weighbridge-tokenreview")
                .endMetadata()
                .withNewRoleRef(
                    "rbac.authorization.k8s.io", "ClusterRole", "weighbridge-tokenreview")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withNamespace(NAMESPACE)
                .withName(SERVICE_ACCOUNT)
                .endSubject()
                .build())
        .serverSideApply();
    KubernetesClient kube =
        new KubernetesClientBuilder()
            .withConfig(apiServer.serviceAccountConfig(NAMESPACE, SERVICE_ACCOUNT))
            .build();

    RecordingTrafficRouter recorder = new RecordingTrafficRouter();
    PluginServer server =
        new PluginServer(
            config,
            recorder,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
            new TokenReviewAuthenticator(kube, config.security().authAudiences()));
    server.start();
    ControlEndpoint control = ControlEndpoint.start(controlPort, recorder);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  control.close();
                  server.close();
                  kube.close();
                  apiServer.close();
                  stopped.countDown();
                },
                "auth-server-shutdown"));

    ObjectNode ready = new ObjectMapper().createObjectNode();
    ready
        .put("pid", ProcessHandle.current().pid())
        .put("grpcPort", server.grpcPort())
        .put("httpPort", server.httpPort())
        .put("controlPort", control.port())
        .put("kubeconfig", apiServer.kubeconfig().toAbsolutePath().toString());
    if (portsFile != null) {
      Path partial = portsFile.resolveSibling(portsFile.getFileName() + ".partial");
      Files.writeString(partial, ready.toString(), StandardCharsets.UTF_8);
      Files.move(partial, portsFile, StandardCopyOption.ATOMIC_MOVE);
    }
    System.out.println("AUTH-SERVER READY " + ready);
    System.out.flush();
    stopped.await();
  }
}
