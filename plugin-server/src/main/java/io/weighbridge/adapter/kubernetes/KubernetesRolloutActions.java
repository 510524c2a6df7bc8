package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.analysis.RolloutActions;
import java.time.Clock;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

/**
 * Acts on Rollouts exactly as {@code kubectl argo rollouts} v1.9.1 does: abort is the merge patch
 * {@code {"status":{"abort":true}}} on the status subresource (on the object itself when the status
 * subresource is not served), pause is {@code {"spec":{"paused":true}}} on the object. Events are
 * core/v1 Events on the Rollout with source and reportingComponent {@code weighbridge}.
 */
public final class KubernetesRolloutActions implements RolloutActions {

  /** The Rollout resource, argoproj.io/v1alpha1. */
  public static final ResourceDefinitionContext ROLLOUTS =
      new ResourceDefinitionContext.Builder()
          .withGroup("argoproj.io")
          .withVersion("v1alpha1")
          .withKind("Rollout")
          .withPlural("rollouts")
          .withNamespaced(true)
          .build();

  /** Events' source component and reportingComponent. */
  public static final String COMPONENT = "weighbridge";

  static final String ABORT_PATCH = "{\"status\":{\"abort\":true}}";
  static final String PAUSE_PATCH = "{\"spec\":{\"paused\":true}}";

  /**
   * Longer messages are cut: the evidence of a few checks fits, and kubectl describe stays
   * readable.
   */
  static final int MAX_MESSAGE = 4000;

  private final KubernetesClient client;
  private final String instance;
  private final Clock clock;

  /**
   * Creates the actions.
   *
   * @param instance this replica's identity, written as the Events' reportingInstance
   */
  public KubernetesRolloutActions(KubernetesClient client, String instance, Clock clock) {
    this.client = client;
    this.instance = instance;
    this.clock = clock;
  }

  @Override
  public void abort(String namespace, String name) {
    Resource<GenericKubernetesResource> rollout = addressed(namespace, name);
    PatchContext merge = new PatchContext.Builder().withPatchType(PatchType.JSON_MERGE).build();
    try {
      try {
        rollout.subresource("status").patch(merge, ABORT_PATCH);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
        // as kubectl-argo-rollouts: without a status subresource, patch the object itself
        rollout.patch(merge, ABORT_PATCH);
      }
    } catch (KubernetesClientException e) {
      throw translate(e, "abort", namespace, name, "patch rollouts/status");
    }
  }

  @Override
  public void pause(String namespace, String name) {
    PatchContext merge = new PatchContext.Builder().withPatchType(PatchType.JSON_MERGE).build();
    try {
      addressed(namespace, name).patch(merge, PAUSE_PATCH);
    } catch (KubernetesClientException e) {
      throw translate(e, "pause", namespace, name, "patch rollouts");
    }
  }

  /**
   * The Rollout as a resource built from its address, not {@code withName()}: see {@link
   * ResourceAddress}.
   */
  private Resource<GenericKubernetesResource> addressed(String namespace, String name) {
    return client
        .genericKubernetesResources(ROLLOUTS)
        .inNamespace(namespace)
        .resource(
            ResourceAddress.of(
                ROLLOUTS.getGroup() + "/" + ROLLOUTS.getVersion(),
                ROLLOUTS.getKind(),
                namespace,
                name));
  }

  @Override
  public void event(Rollout rollout, boolean warning, String reason, String message) {
    String text =
        message.length() <= MAX_MESSAGE ? message : message.substring(0, MAX_MESSAGE - 3) + "...";
    String now =
        DateTimeFormatter.ISO_INSTANT.format(
            clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    try {
      client
          .v1()
          .events()
          .inNamespace(rollout.namespace())
          .resource(
              new EventBuilder()
                  .withNewMetadata()
                  .withName(
                      rollout.name()
                          + "."
                          + UUID.randomUUID().toString().replace("-", "").substring(0, 16))
                  .withNamespace(rollout.namespace())
                  .endMetadata()
                  .withNewInvolvedObject()
                  .withApiVersion("argoproj.io/v1alpha1")
                  .withKind("Rollout")
                  .withNamespace(rollout.namespace())
                  .withName(rollout.name())
                  .withUid(rollout.uid())
                  .endInvolvedObject()
                  .withType(warning ? "Warning" : "Normal")
                  .withReason(reason)
                  .withMessage(text)
                  .withAction(reason.replace("Weighbridge", ""))
                  .withNewSource()
                  .withComponent(COMPONENT)
                  .endSource()
                  .withReportingComponent(COMPONENT)
                  .withReportingInstance(instance)
                  .withFirstTimestamp(now)
                  .withLastTimestamp(now)
                  .withCount(1)
                  .build())
          .create();
    } catch (KubernetesClientException e) {
      throw translate(e, "write an Event on", rollout.namespace(), rollout.name(), "create events");
    }
  }

  private static WeighbridgeException translate(
      KubernetesClientException e, String what, String namespace, String name, String verb) {
    String[] verbAndResource = verb.split(" ", 2);
    return KubernetesErrors.translate(
        e,
        new KubernetesErrors.Request(
            verbAndResource[0],
            verbAndResource[1],
            verbAndResource[1].equals("events") ? "" : "argoproj.io",
            namespace,
            "Rollout " + namespace + "/" + name + " (to " + what + " it)"));
  }
}
