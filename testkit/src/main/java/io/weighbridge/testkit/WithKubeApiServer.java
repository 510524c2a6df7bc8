package io.weighbridge.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs a test class (or method) against a real kube-apiserver with these CRDs installed; its tests
 * may take a {@link KubeApiServer}, its admin {@link io.fabric8.kubernetes.client.KubernetesClient}
 * and a fresh {@link TestNamespace} as parameters. All classes asking for the same CRDs share one
 * server per test run.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(KubeApiServerExtension.class)
public @interface WithKubeApiServer {
  /**
   * The Gateway API bundle as {@code <version>-<channel>}, naming the {@link Crds} bundle {@code
   * gateway-api-<it>} (e.g. {@code v1.0.0-experimental}, {@code v1.2.1-standard}; versions pinned
   * in testkit/upstream/go.sum); empty for none.
   */
  String gatewayApi() default "v1.5.1-experimental";

  /** Whether to install the Argo Rollouts v1.9.1 CRDs (Rollout, AnalysisRun, ...). */
  boolean argoRollouts() default true;
}
