package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import java.util.regex.Pattern;

/**
 * The one place that maps a Kubernetes API failure to the domain's exceptions, for every adapter
 * (routes, Rollout actions): 404 is NotFound, 401 and an RBAC 403 are Rejected (with the verb and
 * resource to grant), 409 is Conflict, no answer / 408 / 429 / 5xx are Unavailable (Argo retries),
 * anything else the server refused is Rejected with its words verbatim.
 */
final class KubernetesErrors {

  private static final Pattern RBAC_DENIAL = Pattern.compile("cannot [a-z]+ resource \"");

  /** kube-apiserver's whole message when a JSON patch {@code test} operation fails. */
  static final String TEST_FAILED =
      "the server rejected our request due to an error in our request";

  private KubernetesErrors() {}

  /**
   * Whether a patch failed only because the object changed since the planner saw it: the server saw
   * a write conflict (409), or a {@code test} operation failed (ours on metadata.resourceVersion or
   * one of the planner's guards). For the latter kube-apiserver (seen on 1.34) answers 422 with
   * only its generic text {@value #TEST_FAILED}: no field, no object, no causes. Validation,
   * ValidatingAdmissionPolicy and webhook refusals always say what they refused, so they never
   * match. Older servers that put json-patch's own words ("testing value ... failed") in the
   * message are recognised too.
   */
  static boolean isPreconditionFailure(KubernetesClientException e) {
    if (e.getCode() == 409) {
      return true;
    }
    if (e.getCode() != 422 || e.getStatus() == null) {
      return false;
    }
    String message = String.valueOf(e.getStatus().getMessage());
    String lower = message.toLowerCase(java.util.Locale.ROOT);
    return message.equals(TEST_FAILED)
        || (lower.contains("testing value") && lower.contains("failed"));
  }

  /**
   * What an API request was about, for error messages.
   *
   * @param verb the RBAC verb (get, patch, list/watch, discover, create)
   * @param resource the plural resource, with /subresource, or {@code discovery}
   * @param group the API group ("" for core)
   * @param namespace the namespace, or null for cluster-wide
   * @param subject what the request was about, e.g. {@code HTTPRoute ns/name}
   */
  record Request(String verb, String resource, String group, String namespace, String subject) {}

  /** Maps every API failure to the domain's exceptions; the one place that does so. */
  static WeighbridgeException translate(KubernetesClientException e, Request r) {
    int code = e.getCode();
    String said = serverMessage(e);
    String where =
        r.namespace() == null ? "cluster-wide" : "in namespace \"" + r.namespace() + "\"";
    String qualified = r.group().isEmpty() ? r.resource() : r.resource() + "." + r.group();
    if (code == 404) {
      if (r.resource().equals("discovery")) {
        return new UnavailableException(
            r.subject() + " disappeared during discovery; the next call looks again", e);
      }
      if (r.verb().equals("list/watch")) {
        return new NotFoundException(
            "the cluster no longer serves "
                + qualified
                + ": install the Gateway API CRDs; the next call discovers again",
            e);
      }
      return new NotFoundException(
          r.subject()
              + " not found: "
              + (r.resource().equals("services")
                  ? "create it or fix the Rollout's Service names"
                  : r.resource().startsWith("rollouts")
                      ? "it does not exist (any more)"
                      : "create it or fix the Rollout's plugin config"),
          e);
    }
    if (code == 401) {
      return new RejectedException(
          "the Kubernetes API server did not accept the plugin-server's credentials (401) when it"
              + " tried to "
              + r.verb()
              + " "
              + r.subject()
              + ": check the ServiceAccount token or the kubeconfig. API server said: "
              + said,
          e);
    }
    if (code == 403 && RBAC_DENIAL.matcher(said).find() && !said.contains("admission webhook")) {
      return new RejectedException(
          "the plugin-server's ServiceAccount may not "
              + r.verb()
              + " "
              + qualified
              + " "
              + where
              + ": grant the verb(s) "
              + r.verb()
              + " on "
              + qualified
              + " in its "
              + (r.namespace() == null ? "ClusterRole" : "Role or ClusterRole")
              + ". API server said: "
              + said,
          e);
    }
    if (code == 409) {
      return new ConflictException(
          r.subject()
              + " changed while Weighbridge wrote it; Argo will retry. API server said: "
              + said,
          e);
    }
    // fabric8 reports a failure without an HTTP answer (refused, reset, timed out) as code 0 or -1.
    if (code < 400 || code == 408 || code == 429 || code >= 500) {
      return new UnavailableException(
          "the Kubernetes API server could not "
              + r.verb()
              + " "
              + r.subject()
              + " right now ("
              + (code < 100 ? "no response" : "HTTP " + code)
              + "): "
              + said
              + ". Check the API server's health and the plugin-server's network; Argo will"
              + " retry.",
          e);
    }
    // 400, 403 from an admission webhook, 422 from validation and anything else the server
    // refused: its words verbatim, they name the field or the policy.
    return new RejectedException(
        "the Kubernetes API server refused to "
            + r.verb()
            + " "
            + r.subject()
            + " (HTTP "
            + code
            + "): "
            + said
            + ". Fix the route, or the admission webhook or policy that refused the change.",
        e);
  }

  /** The API server's own words (Status message and causes), else fabric8's message. */
  private static String serverMessage(KubernetesClientException e) {
    Status status = e.getStatus();
    if (status == null || status.getMessage() == null || status.getMessage().isBlank()) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root + ")";
    }
    StringBuilder text = new StringBuilder(status.getMessage());
    if (status.getDetails() != null && status.getDetails().getCauses() != null) {
      for (StatusCause cause : status.getDetails().getCauses()) {
        if (cause.getMessage() != null && !status.getMessage().contains(cause.getMessage())) {
          text.append("; ").append(cause.getMessage());
        }
      }
    }
    return text.toString();
  }
}
