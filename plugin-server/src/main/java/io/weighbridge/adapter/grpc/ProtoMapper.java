package io.weighbridge.adapter.grpc;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.weighbridge.contract.v1.HeaderRoutingMatch;
import io.weighbridge.contract.v1.RouteMatch;
import io.weighbridge.contract.v1.SetHeaderRoute;
import io.weighbridge.contract.v1.SetMirrorRoute;
import io.weighbridge.contract.v1.TypeResponse;
import io.weighbridge.contract.v1.Verification;
import io.weighbridge.contract.v1.VerifyWeightResponse;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Echo;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts contract messages (io.weighbridge.contract.v1) to domain records and back. Requests the
 * connector got wrong become {@link InvalidConfigException}s; answers the router got wrong (never a
 * valid reply) become {@link IllegalStateException}s, reported as internal errors.
 */
public final class ProtoMapper {

  /** The message's closing advice when the connector, not the user, sent something wrong. */
  private static final String CONNECTOR_FIX =
      "check that the connector and plugin-server come from the same Weighbridge release";

  /**
   * The JSON reader, built when first used: setting Jackson up costs about 0.2 s of CPU, which
   * start-up (and the first InitPlugin and Type calls) need not pay. Immutable and thread-safe.
   */
  private static final class Json {
    // Trailing tokens after the object mean the bytes are not one Rollout: refuse them.
    static final ObjectMapper READER =
        JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
  }

  /** Creates a mapper. */
  public ProtoMapper() {}

  /** The caller, as sent (empty strings when absent; the plugin-name check rejects those). */
  public Caller caller(io.weighbridge.contract.v1.Caller proto) {
    return new Caller(proto.getPluginName(), proto.getConnectorVersion());
  }

  /**
   * The Rollout a call is about, with its JSON parsed.
   *
   * @param method the call's name, for messages
   * @param present whether the request carries a rollout at all
   * @param proto the request's rollout
   * @throws InvalidConfigException when it is absent, lacks its name, its JSON is not an object, or
   *     the JSON's metadata names another namespace or name than the request
   */
  public Rollout rollout(String method, boolean present, io.weighbridge.contract.v1.Rollout proto) {
    if (!present) {
      throw new InvalidConfigException(
          method
              + " request carries no rollout: the connector must send the Rollout being"
              + " reconciled; "
              + CONNECTOR_FIX);
    }
    if (proto.getNamespace().isEmpty() || proto.getName().isEmpty()) {
      throw new InvalidConfigException(
          method
              + " request carries a rollout without namespace or name (got '"
              + Echo.value(proto.getNamespace())
              + "/"
              + Echo.value(proto.getName())
              + "'); "
              + CONNECTOR_FIX);
    }
    String key = Echo.value(proto.getNamespace()) + "/" + Echo.value(proto.getName());
    JsonNode node = parse(method, key, proto.getJson().toByteArray());
    if (node == null || !node.isObject()) {
      throw new InvalidConfigException(
          method
              + " for rollout "
              + key
              + ": the Rollout JSON is "
              + (node == null || node.isMissingNode() ? "empty" : "a " + node.getNodeType())
              + ", not an object; "
              + CONNECTOR_FIX);
    }
    checkSameRollout(method, key, proto, node.path("metadata"));
    return new Rollout(
        proto.getNamespace(),
        proto.getName(),
        proto.getUid(),
        proto.getGeneration(),
        proto.getResourceVersion(),
        node);
  }

  /**
   * The Rollout JSON as a tree. A failure names where: the byte offset and the JSON path, which the
   * parser's own location lacks for a nesting deeper than Jackson's limit (500).
   */
  private static JsonNode parse(String method, String key, byte[] json) {
    try (JsonParser parser = Json.READER.createParser(json)) {
      try {
        return Json.READER.readTree(parser);
      } catch (JacksonException e) {
        JsonLocation at = e.getLocation() != null ? e.getLocation() : parser.currentLocation();
        String path = parser.getParsingContext().pathAsPointer().toString();
        throw new InvalidConfigException(
            method
                + " for rollout "
                + key
                + ": the Rollout JSON cannot be parsed ("
                + Echo.value(e.getOriginalMessage())
                + " at byte "
                + at.getByteOffset()
                + (path.isEmpty() ? "" : ", JSON path " + Echo.value(path))
                + "); "
                + CONNECTOR_FIX,
            e);
      }
    } catch (IOException e) {
      // Parsing a byte[] does no I/O; this is unreachable but keeps the signature honest.
      throw new InvalidConfigException(
          method + " for rollout " + key + ": the Rollout JSON cannot be read: " + e, e);
    }
  }

  /**
   * Refuses a Rollout whose JSON is another object than the request names: the engine takes the
   * namespace (where it patches routes) from the request and the configuration from the JSON.
   */
  private static void checkSameRollout(
      String method, String key, io.weighbridge.contract.v1.Rollout proto, JsonNode metadata) {
    for (String field : new String[] {"namespace", "name"}) {
      JsonNode inJson = metadata.get(field);
      String inRequest = field.equals("namespace") ? proto.getNamespace() : proto.getName();
      if (inJson != null && !inJson.isNull() && !inJson.asText().equals(inRequest)) {
        throw new InvalidConfigException(
            method
                + " for rollout "
                + key
                + ": the Rollout JSON's metadata."
                + field
                + " is '"
                + Echo.value(inJson.asText())
                + "', not the request's '"
                + Echo.value(inRequest)
                + "'; the request must carry one Rollout: "
                + CONNECTOR_FIX);
      }
    }
  }

  /** Argo's additionalDestinations, in order. */
  public List<WeightDestination> destinations(
      List<io.weighbridge.contract.v1.WeightDestination> proto) {
    return proto.stream()
        .map(d -> new WeightDestination(d.getServiceName(), d.getPodTemplateHash(), d.getWeight()))
        .toList();
  }

  /**
   * The header route step.
   *
   * @throws InvalidConfigException when the request carries none
   */
  public HeaderRoute headerRoute(String rolloutKey, boolean present, SetHeaderRoute proto) {
    if (!present) {
      throw new InvalidConfigException(
          "SetHeaderRoute for rollout "
              + rolloutKey
              + " carries no header_route; "
              + CONNECTOR_FIX);
    }
    List<HeaderRoute.HeaderMatch> matches =
        proto.getMatchList().stream()
            .map(
                (HeaderRoutingMatch m) ->
                    new HeaderRoute.HeaderMatch(
                        m.getHeaderName(), stringMatch(m.hasHeaderValue(), m.getHeaderValue())))
            .toList();
    return new HeaderRoute(proto.getName(), matches);
  }

  /**
   * The mirror route step.
   *
   * @throws InvalidConfigException when the request carries none
   */
  public MirrorRoute mirrorRoute(String rolloutKey, boolean present, SetMirrorRoute proto) {
    if (!present) {
      throw new InvalidConfigException(
          "SetMirrorRoute for rollout "
              + rolloutKey
              + " carries no mirror_route; "
              + CONNECTOR_FIX);
    }
    List<MirrorRoute.RequestMatch> matches =
        proto.getMatchList().stream().map(this::requestMatch).toList();
    return new MirrorRoute(
        proto.getName(), matches, proto.hasPercentage() ? proto.getPercentage() : null);
  }

  private MirrorRoute.RequestMatch requestMatch(RouteMatch m) {
    Map<String, StringMatch> headers = new LinkedHashMap<>();
    m.getHeadersMap().forEach((name, value) -> headers.put(name, stringMatch(true, value)));
    return new MirrorRoute.RequestMatch(
        stringMatch(m.hasMethod(), m.getMethod()), stringMatch(m.hasPath(), m.getPath()), headers);
  }

  /** A string match, or null when Argo sent none. */
  StringMatch stringMatch(boolean present, io.weighbridge.contract.v1.StringMatch proto) {
    return present ? new StringMatch(proto.getExact(), proto.getPrefix(), proto.getRegex()) : null;
  }

  /**
   * The answer to VerifyWeight; never VERIFICATION_UNSPECIFIED.
   *
   * @throws IllegalStateException when the router returned no verdict
   */
  public VerifyWeightResponse verifyWeightResponse(VerifyResult result) {
    if (result == null || result.verification() == null) {
      throw new IllegalStateException("the router's verifyWeight returned no verdict: " + result);
    }
    Verification verification =
        switch (result.verification()) {
          case VERIFIED -> Verification.VERIFICATION_VERIFIED;
          case NOT_VERIFIED -> Verification.VERIFICATION_NOT_VERIFIED;
          case NOT_IMPLEMENTED -> Verification.VERIFICATION_NOT_IMPLEMENTED;
        };
    return VerifyWeightResponse.newBuilder()
        .setVerification(verification)
        .setReason(result.reason() == null ? "" : result.reason())
        .build();
  }

  /**
   * The answer to Type.
   *
   * @throws IllegalStateException when the router returned no name
   */
  public TypeResponse typeResponse(String type) {
    if (type == null || type.isEmpty()) {
      throw new IllegalStateException("the router's type() returned no name");
    }
    return TypeResponse.newBuilder().setType(type).build();
  }
}
