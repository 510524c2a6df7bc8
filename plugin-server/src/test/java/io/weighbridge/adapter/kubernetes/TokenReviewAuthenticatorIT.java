package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.weighbridge.domain.PermissionDeniedException;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.auth.CallerGate;
import io.weighbridge.domain.auth.Identity;
import io.weighbridge.domain.auth.ServiceAccount;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The TokenReview adapter against a real kube-apiserver that issues and reviews ServiceAccount
 * tokens itself, with RBAC as in a cluster.
 */
@WithKubeApiServer
class TokenReviewAuthenticatorIT {

  private static String token(KubeApiServer server, String namespace, String name) {
    return server.serviceAccountConfig(namespace, name).getOauthToken();
  }

  private static String tokenFor(
      KubernetesClient admin, String namespace, String name, String audience) {
    return admin
        .serviceAccounts()
        .inNamespace(namespace)
        .withName(name)
        .tokenRequest(
            new TokenRequestBuilder()
                .withNewSpec()
                .withAudiences(audience)
                .withExpirationSeconds(600L)
                .endSpec()
                .build())
        .getStatus()
        .getToken();
  }

  @Test
  @DisplayName("When a ServiceAccount's token is reviewed, then the cluster names that account")
  void namesTheServiceAccount(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    String token = token(server, ns.name(), "argo-rollouts");

    Identity identity = new TokenReviewAuthenticator(admin, List.of()).authenticate(token);

    assertThat(identity.serviceAccount()).contains(new ServiceAccount(ns.name(), "argo-rollouts"));
    assertThat(identity.groups()).contains("system:serviceaccounts:" + ns.name());
  }

  @Test
  @DisplayName("When a token is garbage, then it is refused with the cluster's reason")
  void refusesGarbage(KubernetesClient admin) {
    TokenReviewAuthenticator authenticator = new TokenReviewAuthenticator(admin, List.of());

    assertThatThrownBy(() -> authenticator.authenticate("not-a-token"))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessageStartingWith(
            "the cluster's TokenReview did not accept the connector's bearer token")
        .hasMessageContaining("--token-file")
        .hasMessageNotContaining("not-a-token");
  }

  @Test
  @DisplayName("When the ServiceAccount is deleted, then its token no longer passes")
  void deletedServiceAccount(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    String token = token(server, ns.name(), "short-lived");
    TokenReviewAuthenticator authenticator = new TokenReviewAuthenticator(admin, List.of());
    authenticator.authenticate(token);

    admin.serviceAccounts().inNamespace(ns.name()).withName("short-lived").delete();

    // The API server looks the account up through its informer: it learns of the deletion soon.
    await()
        .atMost(30, TimeUnit.SECONDS)
        .untilAsserted(
            () ->
                assertThatThrownBy(() -> authenticator.authenticate(token))
                    .isInstanceOf(UnauthenticatedException.class));
  }

  @Test
  @DisplayName("When audiences are configured, then only tokens issued for one of them pass")
  void audiences(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    String defaultToken = token(server, ns.name(), "argo-rollouts");
    String weighbridgeToken = tokenFor(admin, ns.name(), "argo-rollouts", "weighbridge");
    TokenReviewAuthenticator expectingWeighbridge =
        new TokenReviewAuthenticator(admin, List.of("weighbridge"));
    TokenReviewAuthenticator expectingApiServer = new TokenReviewAuthenticator(admin, List.of());

    assertThat(expectingWeighbridge.authenticate(weighbridgeToken).serviceAccount())
        .contains(new ServiceAccount(ns.name(), "argo-rollouts"));
    assertThatThrownBy(() -> expectingWeighbridge.authenticate(defaultToken))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessageContaining("not issued for the audience weighbridge");
    // A token meant for plugin-server is no credential for the API server, and vice versa.
    assertThatThrownBy(() -> expectingApiServer.authenticate(weighbridgeToken))
        .isInstanceOf(UnauthenticatedException.class);
  }

  @Test
  @DisplayName(
      "When plugin-server's identity has only the chart's tokenreviews create, then reviews work;"
          + " without it, the error says what to grant")
  void rbac(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    String role = "weighbridge-tokenreview-" + ns.name();
    String caller = token(server, ns.name(), "argo-rollouts");
    try (KubernetesClient unprivileged =
            new KubernetesClientBuilder()
                .withConfig(server.serviceAccountConfig(ns.name(), "weighbridge"))
                .build();
        KubernetesClient anotherUnprivileged =
            new KubernetesClientBuilder()
                .withConfig(server.serviceAccountConfig(ns.name(), "no-rbac"))
                .build()) {
      assertThatThrownBy(
              () ->
                  new TokenReviewAuthenticator(anotherUnprivileged, List.of()).authenticate(caller))
          .isInstanceOf(UnavailableException.class)
          .hasMessageContaining("create tokenreviews.authentication.k8s.io")
          .hasMessageContaining("rbac.tokenReview=true");

      admin
          .rbac()
          .clusterRoles()
          .resource(
              new ClusterRoleBuilder()
                  .withNewMetadata()
                  .withName(role)
                  .endMetadata()
                  .withRules(
                      new PolicyRuleBuilder()
                          .withApiGroups("authentication.k8s.io")
                          .withResources("tokenreviews")
                          .withVerbs("create")
                          .build())
                  .build())
          .create();
      admin
          .rbac()
          .clusterRoleBindings()
          .resource(
              new ClusterRoleBindingBuilder()
                  .withNewMetadata()
                  .withName(role)
                  .endMetadata()
                  .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", role)
                  .addNewSubject()
                  .withKind("ServiceAccount")
                  .withNamespace(ns.name())
                  .withName("weighbridge")
                  .endSubject()
                  .build())
          .create();

      assertThat(
              new TokenReviewAuthenticator(unprivileged, List.of())
                  .authenticate(caller)
                  .serviceAccount())
          .contains(new ServiceAccount(ns.name(), "argo-rollouts"));
    } finally {
      admin.rbac().clusterRoleBindings().withName(role).delete();
      admin.rbac().clusterRoles().withName(role).delete();
    }
  }

  @Nested
  @DisplayName("When a caller is judged by its groups and Pod binding (issue 11)")
  class BeyondTheName {

    private CallerGate gateAllowingArgo(KubernetesClient admin) {
      return new CallerGate(
          new TokenReviewAuthenticator(admin, List.of()),
          CallerGate.Settings.allowing(
              Set.of(new ServiceAccount("argo-rollouts", "argo-rollouts"))),
          refusal -> {});
    }

    @Test
    @DisplayName(
        "When a static-token user is named system:serviceaccount:argo-rollouts:argo-rollouts,"
            + " then the API server accepts the token but plugin-server refuses the caller")
    void lookalikeRefused(KubeApiServer server, KubernetesClient admin) {
      Identity reviewed =
          new TokenReviewAuthenticator(admin, List.of()).authenticate(server.lookalikeToken());
      assertThat(reviewed.username()).isEqualTo(KubeApiServer.LOOKALIKE_USER);
      assertThat(reviewed.groups()).doesNotContain("system:serviceaccounts");

      assertThatThrownBy(
              () -> gateAllowingArgo(admin).admit(Optional.of("Bearer " + server.lookalikeToken())))
          .isInstanceOf(PermissionDeniedException.class)
          .hasMessageContaining("named like a service account but not in its group(s)");
    }

    @Test
    @DisplayName(
        "When the real argo-rollouts ServiceAccount's token (Pod-bound or not) is used, then it is"
            + " admitted")
    void realServiceAccountAdmitted(KubeApiServer server, KubernetesClient admin) {
      admin
          .namespaces()
          .resource(
              new NamespaceBuilder()
                  .withNewMetadata()
                  .withName("argo-rollouts")
                  .endMetadata()
                  .build())
          .serverSideApply();
      String plain = token(server, "argo-rollouts", "argo-rollouts");
      Pod pod =
          admin
              .pods()
              .inNamespace("argo-rollouts")
              .resource(
                  new PodBuilder()
                      .withNewMetadata()
                      .withGenerateName("argo-rollouts-")
                      .endMetadata()
                      .withNewSpec()
                      .withServiceAccountName("argo-rollouts")
                      .addNewContainer()
                      .withName("controller")
                      .withImage("quay.io/argoproj/argo-rollouts:v1.9.1")
                      .endContainer()
                      .endSpec()
                      .build())
              .create();
      try {
        String podBound =
            admin
                .serviceAccounts()
                .inNamespace("argo-rollouts")
                .withName("argo-rollouts")
                .tokenRequest(
                    new TokenRequestBuilder()
                        .withNewSpec()
                        .withExpirationSeconds(600L)
                        .withNewBoundObjectRef()
                        .withApiVersion("v1")
                        .withKind("Pod")
                        .withName(pod.getMetadata().getName())
                        .withUid(pod.getMetadata().getUid())
                        .endBoundObjectRef()
                        .endSpec()
                        .build())
                .getStatus()
                .getToken();
        Identity bound = new TokenReviewAuthenticator(admin, List.of()).authenticate(podBound);
        assertThat(bound.extra())
            .containsEntry(Identity.POD_NAME, List.of(pod.getMetadata().getName()))
            .containsEntry(Identity.POD_UID, List.of(pod.getMetadata().getUid()));

        CallerGate gate = gateAllowingArgo(admin);
        assertThat(gate.admit(Optional.of("Bearer " + plain)))
            .isEqualTo(new ServiceAccount("argo-rollouts", "argo-rollouts"));
        assertThat(gate.admit(Optional.of("Bearer " + podBound)))
            .isEqualTo(new ServiceAccount("argo-rollouts", "argo-rollouts"));
      } finally {
        admin.pods().inNamespace("argo-rollouts").resource(pod).withGracePeriod(0).delete();
      }
    }
  }
}
