package io.weighbridge.server;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.classic.spi.ThrowableProxy;
import ch.qos.logback.core.encoder.EncoderBase;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.weighbridge.domain.WeighbridgeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.event.KeyValuePair;

/**
 * One flat JSON object per log line, the shape log pipelines read without custom parsing: {@code
 * time} (RFC 3339, UTC, milliseconds), {@code level}, {@code msg}, {@code logger}, {@code thread},
 * then one key per structured field (SLF4J key-value pairs, then MDC). A throwable adds {@code
 * error} (its class and message); its stack trace ({@code stack}) only when it is unexpected: a
 * {@link WeighbridgeException} is an answer to bad input or a known condition, not a bug. A field
 * named like a fixed key is written with a {@code field.} prefix rather than twice.
 */
public final class FlatJsonEncoder extends EncoderBase<ILoggingEvent> {
  private static final JsonFactory JSON = new JsonFactory();
  private static final Set<String> FIXED =
      Set.of("time", "level", "msg", "logger", "thread", "error", "stack");
  private static final byte[] NONE = new byte[0];

  @Override
  public byte[] headerBytes() {
    return NONE;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator json = JSON.createGenerator(out)) {
      json.writeStartObject();
      json.writeStringField(
          "time", DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochMilli(event.getTimeStamp())));
      json.writeStringField("level", event.getLevel().toString());
      json.writeStringField("msg", event.getFormattedMessage());
      json.writeStringField("logger", event.getLoggerName());
      json.writeStringField("thread", event.getThreadName());
      Set<String> written = new HashSet<>(FIXED);
      if (event.getKeyValuePairs() != null) {
        for (KeyValuePair pair : event.getKeyValuePairs()) {
          field(json, written, pair.key, pair.value);
        }
      }
      for (Map.Entry<String, String> entry : event.getMDCPropertyMap().entrySet()) {
        field(json, written, entry.getKey(), entry.getValue());
      }
      IThrowableProxy thrown = event.getThrowableProxy();
      if (thrown != null) {
        json.writeStringField("error", thrown.getClassName() + ": " + thrown.getMessage());
        if (!expected(thrown)) {
          json.writeStringField("stack", stack(thrown));
        }
      }
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out.write('\n');
    return out.toByteArray();
  }

  @Override
  public byte[] footerBytes() {
    return NONE;
  }

  private static void field(JsonGenerator json, Set<String> written, String key, Object value)
      throws IOException {
    String name = key == null ? "field" : key;
    while (!written.add(name)) {
      name = "field." + name;
    }
    json.writeFieldName(name);
    switch (value) {
      case null -> json.writeNull();
      case Integer i -> json.writeNumber(i);
      case Long l -> json.writeNumber(l);
      case Double d -> json.writeNumber(d);
      case Boolean b -> json.writeBoolean(b);
      default -> json.writeString(value.toString());
    }
  }

  /** Domain errors answer bad input or a known condition: their message says it all. */
  private static boolean expected(IThrowableProxy thrown) {
    return thrown instanceof ThrowableProxy proxy
        && proxy.getThrowable() instanceof WeighbridgeException;
  }

  private static String stack(IThrowableProxy thrown) {
    StringBuilder text = new StringBuilder();
    int depth = 0;
    for (IThrowableProxy t = thrown; t != null && depth++ < 16; t = t.getCause()) {
      if (t != thrown) {
        text.append("Caused by: ");
      }
      text.append(t.getClassName()).append(": ").append(t.getMessage()).append('\n');
      for (StackTraceElementProxy frame : t.getStackTraceElementProxyArray()) {
        text.append("\tat ").append(frame.getStackTraceElement()).append('\n');
      }
    }
    return text.toString();
  }
}
