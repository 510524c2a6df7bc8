package io.weighbridge.cli;

/** What {@code -o/--output} prints. */
enum OutputFormat {
  /** Readable text. */
  text,
  /** One JSON document, for scripts. */
  json
}
