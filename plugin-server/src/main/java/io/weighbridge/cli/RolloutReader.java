package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.weighbridge.domain.Rollout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Reads Argo Rollouts' Rollout objects with the operator's credentials and keeps those that route
 * with Weighbridge: {@code spec.strategy.canary.trafficRouting.plugins} has one of the plugin names
 * Weighbridge answers to.
 */
public final class RolloutReader {

  /** argoproj.io/v1alpha1 Rollout. */
  static final ResourceDefinitionContext ROLLOUTS =
      new ResourceDefinitionContext.Builder()
          .withGroup("argoproj.io")
          .withVersion("v1alpha1")
          .withKind("Rollout")
          .withPlural("rollouts")
          .withNamespaced(true)
          .build();

  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesClient client;
  private final List<String> pluginNames;

  /**
   * @param client the operator's client
   * @param pluginNames the plugin keys that mean Weighbridge, in order of preference
   */
  public RolloutReader(KubernetesClient client, List<String> pluginNames) {
    this.client = client;
    this.pluginNames = List.copyOf(pluginNames);
  }

  /**
   * The Rollout {@code namespace/name}.
   *
   * @throws IllegalArgumentException when it does not exist or does not use Weighbridge
   */
  public ArgoRollout get(String namespace, String name) {
    GenericKubernetesResource found;
    try {
      found =
          client.genericKubernetesResources(ROLLOUTS).inNamespace(namespace).withName(name).get();
    } catch (KubernetesClientException e) {
      throw failure("read Rollout " + namespace + "/" + name, e);
    }
    if (found == null) {
      throw new IllegalArgumentException(
          "Rollout "
              + namespace
              + "/"
              + name
              + " does not exist: check the name and -n/--namespace (kubectl get rollouts -n "
              + namespace
              + ")");
    }
    Rollout rollout = toRollout(found);
    return pluginKey(rollout.json())
        .map(key -> new ArgoRollout(rollout, key))
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "Rollout "
                        + rollout.key()
                        + " does not route traffic with Weighbridge:"
                        + " spec.strategy.canary.trafficRouting.plugins has none of "
                        + String.join(", ", pluginNames)));
  }

  /** The Rollouts in {@code namespace} (every namespace when null) that use Weighbridge. */
  public List<ArgoRollout> list(String namespace) {
    List<GenericKubernetesResource> items;
    try {
      var op = client.genericKubernetesResources(ROLLOUTS);
      items =
          namespace == null
              ? op.inAnyNamespace().list().getItems()
              : op.inNamespace(namespace).list().getItems();
    } catch (KubernetesClientException e) {
      throw failure(
          "list Rollouts in " + (namespace == null ? "all namespaces" : "namespace " + namespace),
          e);
    }
    List<ArgoRollout> out = new ArrayList<>();
    for (GenericKubernetesResource item : items) {
      Rollout rollout = toRollout(item);
      pluginKey(rollout.json()).ifPresent(key -> out.add(new ArgoRollout(rollout, key)));
    }
    out.sort(Comparator.comparing(ArgoRollout::key));
    return out;
  }

  /** The first of our plugin names the Rollout configures. */
  Optional<String> pluginKey(JsonNode rollout) {
    JsonNode plugins = rollout.at("/spec/strategy/canary/trafficRouting/plugins");
    return pluginNames.stream().filter(plugins::has).findFirst();
  }

  private Rollout toRollout(GenericKubernetesResource resource) {
    try {
      JsonNode json = JSON.readTree(client.getKubernetesSerialization().asJson(resource));
      JsonNode meta = json.path("metadata");
      return new Rollout(
          meta.path("namespace").asText(),
          meta.path("name").asText(),
          meta.path("uid").asText(""),
          meta.path("generation").asLong(0),
          meta.path("resourceVersion").asText(""),
          json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static IllegalStateException failure(String what, KubernetesClientException e) {
    String hint =
        switch (e.getCode()) {
          case 401 -> ": the credentials were refused; log in again or pass --kubeconfig";
          case 403 ->
              ": your credentials may not do that; ask for get/list on rollouts.argoproj.io";
          case 404 ->
              ": the cluster does not serve rollouts.argoproj.io/v1alpha1; is Argo Rollouts"
                  + " installed (its CRDs)?";
          default ->
              ": check that the API server is reachable with this kubeconfig and context"
                  + " (--kubeconfig, --kube-context)";
        };
    return new IllegalStateException("cannot " + what + hint + " (" + e.getMessage() + ")", e);
  }
}
