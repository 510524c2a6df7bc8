package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.weighbridge.domain.Rollout;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches argoproj.io/v1alpha1 Rollouts in all namespaces with a fabric8 informer and hands each
 * added or changed Rollout (as the domain's {@link Rollout}, status included) and each deletion to
 * the analyzer's lifecycle, so that it knows every canary in progress even after a restart.
 */
public final class KubernetesRolloutWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesRolloutWatcher.class);

  private final KubernetesClient client;
  private final Consumer<Rollout> changed;
  private final BiConsumer<String, String> deleted;
  private final ObjectMapper json = new ObjectMapper();
  private volatile SharedIndexInformer<GenericKubernetesResource> informer;

  /**
   * Creates the watcher; {@link #start()} begins watching.
   *
   * @param changed called with every added or changed Rollout (and on every resync)
   * @param deleted called with namespace and name of a deleted Rollout
   */
  public KubernetesRolloutWatcher(
      KubernetesClient client, Consumer<Rollout> changed, BiConsumer<String, String> deleted) {
    this.client = client;
    this.changed = changed;
    this.deleted = deleted;
  }

  /**
   * Starts the informer without waiting for its first list: an unreachable API server or a missing
   * Rollout CRD is logged and retried by fabric8, never fatal.
   */
  public synchronized void start() {
    if (informer != null) {
      return;
    }
    SharedIndexInformer<GenericKubernetesResource> i =
        client
            .genericKubernetesResources(KubernetesRolloutActions.ROLLOUTS)
            .inAnyNamespace()
            .runnableInformer(0);
    i.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(GenericKubernetesResource r) {
            deliver(r);
          }

          @Override
          public void onUpdate(GenericKubernetesResource old, GenericKubernetesResource r) {
            deliver(r);
          }

          @Override
          public void onDelete(GenericKubernetesResource r, boolean unknownFinalState) {
            ObjectMeta m = r.getMetadata();
            deleted.accept(m.getNamespace(), m.getName());
          }
        });
    i.exceptionHandler(
        (started, t) -> {
          LOG.warn(
              "watching Rollouts (argoproj.io/v1alpha1) failed, retrying: {}; is the Argo"
                  + " Rollouts CRD installed and may plugin-server list/watch rollouts?",
              t.toString());
          return true;
        });
    i.start();
    informer = i;
  }

  /** True once the informer has listed the Rollouts at least once. */
  public boolean hasSynced() {
    SharedIndexInformer<GenericKubernetesResource> i = informer;
    return i != null && i.hasSynced();
  }

  private void deliver(GenericKubernetesResource r) {
    try {
      changed.accept(toRollout(r));
    } catch (RuntimeException e) {
      LOG.warn(
          "Rollout {}/{}: analyzer could not take the update: {}",
          r.getMetadata().getNamespace(),
          r.getMetadata().getName(),
          e.toString(),
          e);
    }
  }

  private Rollout toRollout(GenericKubernetesResource r) {
    ObjectMeta m = r.getMetadata();
    JsonNode node;
    try {
      node = json.readTree(client.getKubernetesSerialization().asJson(r));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("fabric8 produced JSON that Jackson cannot read", e);
    }
    return new Rollout(
        m.getNamespace(),
        m.getName(),
        m.getUid(),
        m.getGeneration() == null ? 0 : m.getGeneration(),
        m.getResourceVersion(),
        node);
  }

  @Override
  public synchronized void close() {
    if (informer != null) {
      informer.close();
      informer = null;
    }
  }
}
