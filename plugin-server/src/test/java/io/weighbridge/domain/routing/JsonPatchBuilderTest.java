package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.json;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class JsonPatchBuilderTest {

  @Test
  @DisplayName("The working copy equals what an independent RFC 6902 applier makes of the ops")
  void workingCopyMatchesIndependentApplier() {
    ObjectNode doc =
        obj(
            """
            {'metadata': {'name': 'r'},
             'spec': {'rules': [{'backendRefs': [{'name': 'a'}, {'name': 'b', 'weight': 1}]},
                                {'name': 'x'}, {'name': 'y'}]}}
            """);
    JsonPatchBuilder b = new JsonPatchBuilder(doc);

    b.test("/spec/rules/0/backendRefs/1/name", TextNode.valueOf("b"));
    b.replace("/spec/rules/0/backendRefs/1/weight", IntNode.valueOf(7));
    b.add("/spec/rules/0/backendRefs/0/weight", IntNode.valueOf(3));
    b.testCurrent("/spec/rules/1");
    b.remove("/spec/rules/1");
    b.add("/spec/rules/1", obj("{'name': 'inserted'}"));
    b.add("/spec/rules/-", obj("{'name': 'appended'}"));
    b.ensureObject("/metadata/annotations");
    b.add(
        "/metadata/annotations/" + JsonPatchBuilder.escape("example.com/a~b"),
        TextNode.valueOf("v"));
    b.set("/spec/rules/0/backendRefs/0/weight", IntNode.valueOf(4));

    assertThat(FakeRouteClient.apply(doc, b.ops())).isEqualTo(b.current());
    assertThat(b.current().path("spec").path("rules").findValuesAsText("name"))
        .containsExactly("a", "b", "inserted", "y", "appended");
    assertThat(b.current().path("metadata").path("annotations").path("example.com/a~b").asText())
        .isEqualTo("v");
    assertThat(doc.path("spec").path("rules")).hasSize(3);
  }

  @Test
  void escaping() {
    assertThat(JsonPatchBuilder.escape("weighbridge.io/managed"))
        .isEqualTo("weighbridge.io~1managed");
    assertThat(JsonPatchBuilder.escape("a~b/c")).isEqualTo("a~0b~1c");
    assertThat(JsonPatchBuilder.pointer("metadata", "labels", "x/y"))
        .isEqualTo("/metadata/labels/x~1y");
  }

  @Test
  @DisplayName("A test op that would fail on the planned object is a planner bug, caught at once")
  void failingTestIsABug() {
    JsonPatchBuilder b = new JsonPatchBuilder(json("{'a': 1}"));

    assertThat(b.changesNothing()).isTrue();
    b.test("/a", LongNode.valueOf(1));
    assertThat(b.changesNothing()).isTrue();
    assertThatThrownBy(() -> b.test("/a", IntNode.valueOf(2)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> b.remove("/missing")).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> b.replace("/missing", IntNode.valueOf(1)))
        .isInstanceOf(IllegalStateException.class);
  }
}
