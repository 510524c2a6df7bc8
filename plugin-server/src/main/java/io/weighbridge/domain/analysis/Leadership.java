package io.weighbridge.domain.analysis;

/** Whether this replica may analyse and act (the holder of the analyzer's Lease), and who it is. */
public interface Leadership {

  /** True while this replica holds the lease (always true without leader election). */
  boolean isLeader();

  /** This replica's identity (the Pod name), shown in the status API and Events. */
  String identity();

  /** Leadership for a single replica: always the leader. */
  static Leadership always(String identity) {
    return new Leadership() {
      @Override
      public boolean isLeader() {
        return true;
      }

      @Override
      public String identity() {
        return identity;
      }
    };
  }
}
