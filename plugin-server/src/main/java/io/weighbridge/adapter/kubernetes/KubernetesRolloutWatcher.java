package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.impl.DefaultSharedIndexInformer;
import io.fabric8.kubernetes.client.informers.impl.ListerWatcher;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.weighbridge.domain.Echo;
import io.weighbridge.domain.Rollout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches argoproj.io/v1alpha1 Rollouts in all namespaces with a fabric8 informer and hands each
 * added or changed Rollout (as the domain's {@link Rollout}, status included) and each deletion to
 * the analyzer's lifecycle, so that it knows every canary in progress even after a restart.
 *
 * <p>Its LIST reads Rollouts one by one ({@link ItemTolerantRolloutList}): a Rollout that cannot be
 * read is skipped with a warning naming it, and counts only against itself. Health shows in {@link
 * #health()} (the {@code /readyz} detail) and in {@code weighbridge_rollout_informer_up}, {@code
 * _skipped} and {@code _failures_total}.
 */
public final class KubernetesRolloutWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesRolloutWatcher.class);

  private final KubernetesClient client;
  private final Consumer<Rollout> changed;
  private final BiConsumer<String, String> deleted;
  private final ObjectMapper json = new ObjectMapper();
  private volatile SharedIndexInformer<GenericKubernetesResource> informer;
  private volatile List<ItemTolerantRolloutList.Skipped> skipped = List.of();
  private volatile String lastFailure;
  private final Counter failures;
  private final ExecutorService events =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("weighbridge-rollout-informer").daemon().factory());

  /**
   * Creates the watcher; {@link #start()} begins watching.
   *
   * @param changed called with every added or changed Rollout (and on every resync)
   * @param deleted called with namespace and name of a deleted Rollout
   */
  public KubernetesRolloutWatcher(
      KubernetesClient client,
      Consumer<Rollout> changed,
      BiConsumer<String, String> deleted,
      MeterRegistry registry) {
    this.client = client;
    this.changed = changed;
    this.deleted = deleted;
    this.failures =
        Counter.builder("weighbridge.rollout.informer.failures")
            .description("Failed LISTs and watches of the analyzer's Rollout informer")
            .register(registry);
    Gauge.builder("weighbridge.rollout.informer.skipped", this, w -> w.skipped.size())
        .description("Rollouts the analyzer's informer could not read and skips")
        .register(registry);
    Gauge.builder(
            "weighbridge.rollout.informer.up",
            this,
            w -> w.lastFailure == null && w.hasSynced() ? 1 : 0)
        .description("1 while the analyzer's Rollout informer has listed and is not failing")
        .register(registry);
  }

  /**
   * Starts the informer without waiting for its first list: an unreachable API server or a missing
   * Rollout CRD is logged and retried by fabric8, never fatal.
   */
  public synchronized void start() {
    if (informer != null) {
      return;
    }
    // fabric8's own operation watches; its LIST is replaced by one that reads item by item, so
    // that one unreadable Rollout is skipped rather than failing every LIST (issue 11).
    @SuppressWarnings("unchecked")
    ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList> operation =
        (ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList>)
            client.genericKubernetesResources(KubernetesRolloutActions.ROLLOUTS).inAnyNamespace();
    DefaultSharedIndexInformer<GenericKubernetesResource, GenericKubernetesResourceList> i =
        new DefaultSharedIndexInformer<>(
            GenericKubernetesResource.class,
            new ItemTolerantRolloutList(client, operation, this::listed),
            0,
            events);
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
          lastFailure = Echo.value(t.toString());
          failures.increment();
          LOG.warn(
              "watching Rollouts (argoproj.io/v1alpha1) failed, listing again: {}; if this"
                  + " repeats with 403 or 404, check that the Argo Rollouts CRD is installed and"
                  + " plugin-server may list/watch rollouts (a Rollout that cannot be read is"
                  + " skipped and named on its own)",
              lastFailure);
          return true;
        });
    i.itemStore(new LeanStore());
    i.start();
    informer = i;
  }

  /** Remembers what the last complete LIST skipped, and warns once per object version. */
  private void listed(List<ItemTolerantRolloutList.Skipped> now) {
    lastFailure = null;
    for (ItemTolerantRolloutList.Skipped s : now) {
      if (!skipped.contains(s)) {
        LOG.atWarn()
            .addKeyValue("rollout", s.namespace() + "/" + s.name())
            .log(
                "Rollout {}/{} (resourceVersion {}) is skipped by the analyzer: {}; the analyzer"
                    + " follows every other Rollout. Fix or delete that Rollout",
                s.namespace(),
                s.name(),
                s.resourceVersion(),
                s.reason());
      }
    }
    skipped = List.copyOf(now);
  }

  /**
   * How the informer is doing, for the readiness detail and the metrics.
   *
   * @param synced whether a LIST has completed
   * @param watching whether a watch is open now
   * @param lastFailure the last LIST or watch failure since the last complete LIST, or null
   * @param skipped the Rollouts the last complete LIST could not read
   */
  public record Health(
      boolean synced,
      boolean watching,
      String lastFailure,
      List<ItemTolerantRolloutList.Skipped> skipped) {

    /** Empty when healthy; else one line for {@code /readyz}. */
    public Optional<String> problem() {
      List<String> parts = new ArrayList<>();
      if (lastFailure != null) {
        parts.add("failing: " + lastFailure);
      } else if (!synced) {
        parts.add("not synced yet");
      }
      if (!skipped.isEmpty()) {
        parts.add(
            skipped.size()
                + " unreadable Rollout(s) skipped: "
                + Echo.list(
                    skipped.stream().map(s -> s.namespace() + "/" + s.name()).toList(), ", "));
      }
      return parts.isEmpty()
          ? Optional.empty()
          : Optional.of("rollout informer " + String.join("; ", parts));
    }
  }

  /** The informer's health now. */
  public Health health() {
    SharedIndexInformer<GenericKubernetesResource> i = informer;
    return new Health(
        i != null && i.hasSynced(), i != null && i.isWatching(), lastFailure, skipped);
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
    events.shutdownNow();
  }
}
