package io.weighbridge.testkit;

/**
 * A namespace created for one test method by {@link KubeApiServerExtension} and deleted after it
 * (best-effort: without a controller manager it stays Terminating, which keeps its name unique and
 * harms no other test).
 */
public record TestNamespace(String name) {
  @Override
  public String toString() {
    return name;
  }
}
