package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.obj;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.routing.Ledger.Entry;
import io.weighbridge.domain.routing.Ledger.ManagedRule;
import io.weighbridge.domain.routing.Ledger.RuleType;
import io.weighbridge.domain.routing.RoutingConfig.InProgressLabel;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class LedgerTest {
  private static final RouteId ID = new RouteId(RouteKind.HTTP, "default", "shop");

  private static ObjectNode routeWith(String annotation) {
    ObjectNode route = obj("{'metadata': {'annotations': {}}}");
    ((ObjectNode) route.path("metadata").path("annotations")).put(Ledger.ANNOTATION, annotation);
    return route;
  }

  @Test
  @DisplayName(
      "What is written reads back the same, and serializes identically (no spurious write)")
  void roundTrip() {
    Ledger ledger = Ledger.empty();
    ledger.put(
        "default/b",
        new Entry(
            "uid-b",
            true,
            new InProgressLabel("k", "v"),
            List.of(new ServiceRef("default", "exp")),
            List.of(new ManagedRule("hdr", RuleType.HEADER, "hdr", "0123456789abcdef"))));
    ledger.put(
        "default/a",
        new Entry(
            "uid-a",
            false,
            null,
            List.of(),
            List.of(new ManagedRule("m", RuleType.MIRROR, null, "fedcba9876543210"))));
    String json = ledger.toJson();

    Ledger read = Ledger.read(routeWith(json), ID);

    assertThat(read.entries()).isEqualTo(ledger.entries());
    assertThat(read.toJson()).isEqualTo(json);
    assertThat(json).startsWith("{\"version\":1,\"rollouts\":{\"default/a\":");
  }

  @Test
  @DisplayName(
      "When a SetWeight's weights are recorded, then they read back the same, and a ledger written"
          + " before weights were recorded still parses (without weights)")
  void weightsRecordedCompatibly() {
    Ledger ledger = Ledger.empty();
    Desired d =
        new Desired(
            20, 70, List.of(new Desired.ExperimentWeight(new ServiceRef("default", "exp"), 10)));
    ledger.put("default/a", Entry.empty("uid-a").withWeights(d));
    String json = ledger.toJson();

    assertThat(json)
        .isEqualTo(
            "{\"version\":1,\"rollouts\":{\"default/a\":{\"uid\":\"uid-a\",\"weights\":"
                + "{\"canary\":20,\"stable\":70,\"experiments\":[{\"namespace\":\"default\","
                + "\"name\":\"exp\",\"weight\":10}]}}}}");
    assertThat(Ledger.read(routeWith(json), ID).entry("default/a", "").weights()).isEqualTo(d);

    String old =
        "{\"version\":1,\"rollouts\":{\"default/a\":{\"uid\":\"uid-a\",\"inProgress\":true,"
            + "\"label\":{\"key\":\"k\",\"value\":\"v\"}}}}";
    Ledger read = Ledger.read(routeWith(old), ID);
    assertThat(read.entry("default/a", "").weights()).isNull();
    assertThat(read.toJson()).isEqualTo(old);
  }

  @Test
  @DisplayName(
      "When the SetWeight ends the canary (weight 0, no experiments), then no weights stay")
  void finishedCanaryRecordsNoWeights() {
    Entry e = Entry.empty("u").withWeights(new Desired(0, 100, List.of()));

    assertThat(e.weights()).isNull();
    assertThat(e.isEmpty()).isTrue();
  }

  @Test
  @DisplayName("When recorded weights were edited into nonsense, then the ledger is refused")
  void corruptWeights() {
    assertThatThrownBy(
            () ->
                Ledger.read(
                    routeWith(
                        "{\"rollouts\":{\"a/b\":{\"uid\":\"u\",\"weights\":{\"canary\":\"x\"}}}}"),
                    ID))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("\"canary\"");
  }

  @Test
  @DisplayName("An entry with nothing to record is dropped")
  void emptyEntriesDropped() {
    Ledger ledger = Ledger.empty();
    ledger.put("default/a", new Entry("u", true, null, List.of(), List.of()));

    assertThat(ledger.toJson()).isNull();
  }

  @Test
  @DisplayName("When the annotation was edited into nonsense, then the error says how to recover")
  void corrupt() {
    assertThatThrownBy(() -> Ledger.read(routeWith("{not json"), ID))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining(
            "annotation weighbridge.io/managed on HTTPRoute default/shop is not"
                + " Weighbridge's bookkeeping any more")
        .hasMessageContaining("restore it, or delete it");
    assertThatThrownBy(
            () ->
                Ledger.read(
                    routeWith("{\"rollouts\":{\"a/b\":{\"rules\":[{\"type\":\"x\"}]}}}"), ID))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("unknown rule type");
  }
}
