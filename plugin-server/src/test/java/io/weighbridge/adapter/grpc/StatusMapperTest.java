package io.weighbridge.adapter.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class StatusMapperTest {
  private final StatusMapper mapper = new StatusMapper();

  static Stream<Arguments> everyDomainFailure() {
    return Stream.of(
        Arguments.of(new InvalidConfigException("bad config"), Status.Code.INVALID_ARGUMENT),
        Arguments.of(new NotFoundException("no route"), Status.Code.NOT_FOUND),
        Arguments.of(new RejectedException("webhook said no"), Status.Code.FAILED_PRECONDITION),
        Arguments.of(new ConflictException("kept conflicting"), Status.Code.ABORTED),
        Arguments.of(new UnavailableException("api down"), Status.Code.UNAVAILABLE),
        Arguments.of(new DeadlineException("too slow"), Status.Code.DEADLINE_EXCEEDED),
        Arguments.of(new NotImplementedException("not yet"), Status.Code.UNIMPLEMENTED),
        Arguments.of(
            new PartialFailureException(
                "updated a, failed b", List.of("a"), List.of("b"), new NotFoundException("b")),
            Status.Code.NOT_FOUND));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("everyDomainFailure")
  @DisplayName("When the router fails with a domain exception, then its code and message pass")
  void mapsEveryDomainFailure(WeighbridgeException failure, Status.Code expected) {
    Status status = mapper.toStatus(failure);

    assertThat(status.getCode()).isEqualTo(expected);
    assertThat(status.getDescription()).isEqualTo(failure.getMessage());
    assertThat(status.getCause()).isSameAs(failure);
  }

  @Test
  @DisplayName("When a partial failure wraps a rejection, then the code is the rejection's")
  void partialFailureTakesTheCodeOfItsFirstFailure() {
    var failure =
        new PartialFailureException(
            "route a updated; route b refused by a webhook: fix b",
            List.of("a"),
            List.of("b"),
            new RejectedException("webhook denied b"));

    Status status = mapper.toStatus(failure);

    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription())
        .isEqualTo("route a updated; route b refused by a webhook: fix b");
  }

  @Test
  @DisplayName("When partial failures nest, then the innermost first failure decides the code")
  void nestedPartialFailure() {
    var inner =
        new PartialFailureException(
            "inner", List.of(), List.of("c"), new ConflictException("conflict on c"));
    var outer = new PartialFailureException("outer", List.of("a"), List.of("c"), inner);

    Status status = mapper.toStatus(outer);

    assertThat(status.getCode()).isEqualTo(Status.Code.ABORTED);
    assertThat(status.getDescription()).isEqualTo("outer");
  }

  @Test
  @DisplayName("When a partial failure has no first failure, then it is an internal error")
  void partialFailureWithoutCause() {
    var failure = new PartialFailureException("broken", List.of(), List.of(), null);

    assertThat(mapper.toStatus(failure).getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(mapper.toStatus(failure).getDescription()).isEqualTo("broken");
  }

  @Test
  @DisplayName("When the router fails with anything else, then INTERNAL names the bug")
  void anythingElseIsInternal() {
    var bug = new IllegalStateException("index out of step");

    Status status = mapper.toStatus(bug);

    assertThat(status.getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getDescription())
        .isEqualTo(
            "internal error in plugin-server: java.lang.IllegalStateException: index out of"
                + " step; please report it");
    assertThat(status.getCause()).isSameAs(bug);
  }

  @Test
  @DisplayName("When an Error escapes the router, then it is INTERNAL too")
  void errorsAreInternal() {
    Status status = mapper.toStatus(new StackOverflowError());

    assertThat(status.getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getDescription())
        .isEqualTo(
            "internal error in plugin-server: java.lang.StackOverflowError: null; please report"
                + " it");
  }
}
