package io.weighbridge.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A {@link TrafficRouter} that records every call with all its arguments and answers as the
 * Rollout's annotations script it, so that a conformance test can check what reached the domain and
 * what Argo got back.
 *
 * <p>The script, all optional, in {@code metadata.annotations} of the Rollout:
 *
 * <ul>
 *   <li>{@value #ERROR_PREFIX}{@code <method>: "<Kind>: <message>"} makes {@code <method>} (one of
 *       {@code updateHash setWeight setHeaderRoute setMirrorRoute verifyWeight
 *       removeManagedRoutes}) throw. Kind is the simple name of a {@code WeighbridgeException}
 *       subclass without {@code Exception} ({@code InvalidConfig NotFound Rejected Conflict
 *       Unavailable Deadline NotImplemented PartialFailure}) or {@code Internal} for an unexpected
 *       {@link IllegalStateException} (a bug).
 *   <li>{@value #VERIFY}{@code : "Verified" | "NotVerified: <reason>" | "NotImplemented: <reason>"}
 *       fixes VerifyWeight's answer.
 *   <li>{@value #VERIFIED_WEIGHT}{@code : "<n>"} says the data plane is at weight n: VerifyWeight
 *       answers Verified when the desired weight is n and NotVerified otherwise.
 *   <li>{@value #DELAY_PREFIX}{@code <method>: "<millis>"} delays the answer, to exercise
 *       deadlines.
 *   <li>{@value #RENDEZVOUS_PREFIX}{@code <method>: "<group>/<n>"} holds each call of the group
 *       until n of them are in the domain at the same time, or fails after {@link
 *       #RENDEZVOUS_TIMEOUT}: this proves without any timing that calls overlap all the way from
 *       Argo's client.
 * </ul>
 *
 * Without a script every call succeeds and VerifyWeight answers Verified. InitPlugin, which carries
 * no Rollout, is scripted with {@link #failInitPlugin(String)}.
 */
public final class RecordingTrafficRouter implements TrafficRouter {

  /** The annotation prefix of the whole script. */
  public static final String PREFIX = "conformance.weighbridge.io/";

  /** Prefix of the annotation that makes one method fail. */
  public static final String ERROR_PREFIX = PREFIX + "error.";

  /** The annotation that fixes VerifyWeight's answer. */
  public static final String VERIFY = PREFIX + "verify";

  /** The annotation naming the weight the data plane is at. */
  public static final String VERIFIED_WEIGHT = PREFIX + "verified-weight";

  /** Prefix of the annotation that delays one method's answer. */
  public static final String DELAY_PREFIX = PREFIX + "delay-ms.";

  /** Prefix of the annotation that makes calls wait for each other. */
  public static final String RENDEZVOUS_PREFIX = PREFIX + "rendezvous.";

  /** How long a call waits for the rest of its rendezvous group. */
  public static final Duration RENDEZVOUS_TIMEOUT = Duration.ofSeconds(10);

  /** What {@link #type()} answers. */
  public static final String TYPE = "WeighbridgeConformanceRecorder";

  private final AtomicLong sequence = new AtomicLong();
  private final List<RecordedCall> calls = new ArrayList<>();
  private final AtomicReference<String> initPluginError = new AtomicReference<>();
  private final Map<String, CountDownLatch> rendezvous = new ConcurrentHashMap<>();

  /** One call as it reached the domain, with the answer it got. */
  public record RecordedCall(
      long seq,
      String method,
      Caller caller,
      Rollout rollout,
      Map<String, Object> args,
      Map<String, Object> answer) {}

  /** The recorded calls matching {@code filter}, in the order they arrived. */
  public List<RecordedCall> calls(Predicate<RecordedCall> filter) {
    synchronized (calls) {
      return calls.stream().filter(filter).toList();
    }
  }

  /** Forgets every recorded call, rendezvous group and the InitPlugin script. */
  public void reset() {
    synchronized (calls) {
      calls.clear();
    }
    rendezvous.clear();
    initPluginError.set(null);
  }

  /**
   * Makes the following InitPlugin calls fail with {@code script} ({@code "<Kind>: <message>"}), or
   * succeed again when it is null.
   */
  public void failInitPlugin(String script) {
    if (script != null) {
      toException(script, "InitPlugin script"); // fail now on a malformed script
    }
    initPluginError.set(script);
  }

  @Override
  public void initPlugin(Caller caller) {
    Map<String, Object> answer = new LinkedHashMap<>();
    String script = initPluginError.get();
    try {
      if (script != null) {
        throw toException(script, "InitPlugin script");
      }
    } catch (RuntimeException e) {
      answer.put("error", describe(e));
      throw e;
    } finally {
      record("initPlugin", caller, null, Map.of(), answer);
    }
  }

  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("canaryHash", canaryHash);
    args.put("stableHash", stableHash);
    args.put("additionalDestinations", additionalDestinations);
    answer("updateHash", caller, rollout, args, () -> null);
  }

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("desiredWeight", desiredWeight);
    args.put("additionalDestinations", additionalDestinations);
    answer("setWeight", caller, rollout, args, () -> null);
  }

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("headerRoute", headerRoute);
    answer("setHeaderRoute", caller, rollout, args, () -> null);
  }

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("mirrorRoute", mirrorRoute);
    answer("setMirrorRoute", caller, rollout, args, () -> null);
  }

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("desiredWeight", desiredWeight);
    args.put("additionalDestinations", additionalDestinations);
    return answer(
        "verifyWeight", caller, rollout, args, () -> verification(rollout, desiredWeight));
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {
    answer("removeManagedRoutes", caller, rollout, Map.of(), () -> null);
  }

  @Override
  public String type() {
    record("type", null, null, Map.of(), Map.of("type", TYPE));
    return TYPE;
  }

  private <T> T answer(
      String method, Caller caller, Rollout rollout, Map<String, Object> args, Supplier<T> result) {
    Map<String, Object> answer = new LinkedHashMap<>();
    try {
      rendezvous(rollout, method);
      delay(rollout, method);
      String error = annotation(rollout, ERROR_PREFIX + method);
      if (error != null) {
        throw toException(error, ERROR_PREFIX + method);
      }
      T value = result.get();
      if (value instanceof VerifyResult v) {
        answer.put("verification", v.verification().name());
        answer.put("reason", v.reason());
      }
      return value;
    } catch (RuntimeException e) {
      answer.put("error", describe(e));
      throw e;
    } finally {
      record(method, caller, rollout, args, answer);
    }
  }

  private static VerifyResult verification(Rollout rollout, int desiredWeight) {
    String verify = annotation(rollout, VERIFY);
    if (verify != null) {
      String[] kindAndReason = splitScript(verify, VERIFY);
      return switch (kindAndReason[0]) {
        case "Verified" -> VerifyResult.verified();
        case "NotVerified" -> VerifyResult.notVerified(kindAndReason[1]);
        case "NotImplemented" -> VerifyResult.notImplemented(kindAndReason[1]);
        default ->
            throw new IllegalArgumentException(
                VERIFY
                    + " must be Verified, NotVerified: <reason> or NotImplemented: <reason>, not "
                    + verify);
      };
    }
    String weight = annotation(rollout, VERIFIED_WEIGHT);
    if (weight != null) {
      int actual = Integer.parseInt(weight.trim());
      return actual == desiredWeight
          ? VerifyResult.verified()
          : VerifyResult.notVerified(
              "data plane is at weight " + actual + ", desired is " + desiredWeight);
    }
    return VerifyResult.verified();
  }

  private static void delay(Rollout rollout, String method) {
    String millis = annotation(rollout, DELAY_PREFIX + method);
    if (millis == null) {
      return;
    }
    try {
      // Simulates a slow dependency (e.g. a hanging Kubernetes API) so that deadlines can be
      // tested.
      TimeUnit.MILLISECONDS.sleep(Long.parseLong(millis.trim()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DeadlineException("interrupted while delaying " + method, e);
    }
  }

  private void rendezvous(Rollout rollout, String method) {
    String script = annotation(rollout, RENDEZVOUS_PREFIX + method);
    if (script == null) {
      return;
    }
    int slash = script.lastIndexOf('/');
    if (slash <= 0) {
      throw new IllegalArgumentException(
          RENDEZVOUS_PREFIX + method + " must look like <group>/<n>, not " + script);
    }
    String group = script.substring(0, slash);
    int parties = Integer.parseInt(script.substring(slash + 1).trim());
    CountDownLatch latch = rendezvous.computeIfAbsent(group, g -> new CountDownLatch(parties));
    latch.countDown();
    try {
      if (!latch.await(RENDEZVOUS_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new DeadlineException(
            "only "
                + (parties - latch.getCount())
                + " of "
                + parties
                + " calls of rendezvous group "
                + group
                + " were in the domain together within "
                + RENDEZVOUS_TIMEOUT
                + ": calls do not overlap somewhere on the way");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DeadlineException("interrupted while waiting for rendezvous group " + group, e);
    }
  }

  private static String annotation(Rollout rollout, String key) {
    JsonNode value = rollout.json().path("metadata").path("annotations").path(key);
    return value.isTextual() ? value.asText() : null;
  }

  /** Splits {@code "<Kind>: <text>"} (text may be absent) into kind and text. */
  private static String[] splitScript(String script, String where) {
    int colon = script.indexOf(':');
    String kind = (colon < 0 ? script : script.substring(0, colon)).trim();
    String text = colon < 0 ? "" : script.substring(colon + 1).trim();
    if (kind.isEmpty()) {
      throw new IllegalArgumentException(where + " must look like <Kind>: <text>, not " + script);
    }
    return new String[] {kind, text};
  }

  /** Builds the exception a script asks for. */
  static RuntimeException toException(String script, String where) {
    String[] kindAndMessage = splitScript(script, where);
    String message = kindAndMessage[1];
    return switch (kindAndMessage[0]) {
      case "InvalidConfig" -> new InvalidConfigException(message);
      case "NotFound" -> new NotFoundException(message);
      case "Rejected" -> new RejectedException(message);
      case "Conflict" -> new ConflictException(message);
      case "Unavailable" -> new UnavailableException(message);
      case "Deadline" -> new DeadlineException(message);
      case "NotImplemented" -> new NotImplementedException(message);
      case "PartialFailure" ->
          new PartialFailureException(
              message,
              List.of("default/updated-route"),
              List.of("default/failed-route"),
              new RejectedException("default/failed-route: " + message));
      case "Internal" -> new IllegalStateException(message);
      default ->
          throw new IllegalArgumentException(
              where
                  + " names an unknown kind "
                  + kindAndMessage[0]
                  + ": use InvalidConfig, NotFound, Rejected, Conflict, Unavailable, Deadline,"
                  + " NotImplemented, PartialFailure or Internal");
    };
  }

  private static Map<String, Object> describe(RuntimeException e) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("exception", e.getClass().getSimpleName());
    error.put("message", e.getMessage());
    return error;
  }

  private void record(
      String method,
      Caller caller,
      Rollout rollout,
      Map<String, Object> args,
      Map<String, Object> answer) {
    synchronized (calls) {
      calls.add(
          new RecordedCall(sequence.incrementAndGet(), method, caller, rollout, args, answer));
    }
  }
}
