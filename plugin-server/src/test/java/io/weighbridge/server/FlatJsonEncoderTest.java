package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.domain.NotFoundException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

class FlatJsonEncoderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
  private final FlatJsonEncoder encoder = new FlatJsonEncoder();

  private LoggingEvent event(Level level, String message, Throwable thrown, Object... args) {
    LoggingEvent event =
        new LoggingEvent(
            "test", context.getLogger("io.weighbridge.Test"), level, message, thrown, args);
    event.setTimeStamp(Instant.parse("2026-12-03T08:15:30.123Z").toEpochMilli());
    return event;
  }

  private JsonNode line(LoggingEvent event) throws Exception {
    String text = new String(encoder.encode(event), StandardCharsets.UTF_8);
    assertThat(text).endsWith("\n").doesNotContain("\n{");
    return JSON.readTree(text);
  }

  @Nested
  class WhenAnEventHasKeyValuePairs {
    @Test
    @DisplayName("When an event has key-value pairs, then each is one top-level key beside time")
    void flatFields() throws Exception {
      LoggingEvent event = event(Level.INFO, "serving on {}", null, 9090);
      event.addKeyValuePair(new KeyValuePair("grpcPort", 9090));
      event.addKeyValuePair(new KeyValuePair("tls", false));
      event.addKeyValuePair(new KeyValuePair("msg", "a field named like a fixed key"));

      JsonNode line = line(event);

      assertThat(OffsetDateTime.parse(line.get("time").asText()).toInstant())
          .isEqualTo(Instant.parse("2026-12-03T08:15:30.123Z"));
      assertThat(line.get("time").asText()).isEqualTo("2026-12-03T08:15:30.123Z");
      assertThat(line.get("level").asText()).isEqualTo("INFO");
      assertThat(line.get("msg").asText()).isEqualTo("serving on 9090");
      assertThat(line.get("logger").asText()).isEqualTo("io.weighbridge.Test");
      assertThat(line.get("grpcPort").asInt()).isEqualTo(9090);
      assertThat(line.get("tls").asBoolean()).isFalse();
      assertThat(line.get("field.msg").asText()).isEqualTo("a field named like a fixed key");
      assertThat(line.has("kvpList")).isFalse();
    }
  }

  @Nested
  class WhenAnEventCarriesAThrowable {
    @Test
    @DisplayName("When the throwable is a domain error, then the line has the error but no stack")
    void expectedError() throws Exception {
      JsonNode line =
          line(event(Level.WARN, "SetWeight failed", new NotFoundException("no route web")));

      assertThat(line.get("error").asText()).contains("NotFoundException").contains("no route web");
      assertThat(line.has("stack")).isFalse();
    }

    @Test
    @DisplayName("When the throwable is a bug, then the line has the stack trace with its causes")
    void unexpectedError() throws Exception {
      JsonNode line =
          line(
              event(
                  Level.ERROR,
                  "round failed",
                  new IllegalStateException("broken", new ArithmeticException("by zero"))));

      assertThat(line.get("error").asText()).isEqualTo("java.lang.IllegalStateException: broken");
      assertThat(line.get("stack").asText())
          .contains("\tat io.weighbridge.server.FlatJsonEncoderTest")
          .contains("Caused by: java.lang.ArithmeticException: by zero");
    }
  }
}
