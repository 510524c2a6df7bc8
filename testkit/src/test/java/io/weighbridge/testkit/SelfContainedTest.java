package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing in the repository may depend on a folder beside the checkout that a user's clone does not
 * have: every tracked file is searched for references to it.
 */
class SelfContainedTest {
  /** Spelled in pieces so that this file does not match itself. */
  static final List<String> FORBIDDEN =
      List.of(
          ".." + "/shared",
          "shared" + "/crds",
          "shared" + "/examples",
          "/work" + "/shared",
          "WEIGHBRIDGE" + "_SHARED");

  @Nested
  @DisplayName("When the checkout's tracked files are searched")
  class ThisCheckout {
    @Test
    @DisplayName("then none refers to a folder outside the clone")
    void noFileRefersOutside() throws Exception {
      Path root = io.weighbridge.testkit.Checkout.repoRoot(Path.of(""));
      assumeThat(root.resolve(".git")).as("a git checkout (not an unpacked archive)").exists();

      assertThat(references(root)).isEmpty();
    }
  }

  @Nested
  @DisplayName("When a tracked file refers to the folder beside the checkout")
  class Offending {
    @TempDir Path repo;

    @Test
    @DisplayName("then the search names the file, line and reference; untracked files do not count")
    void found() throws Exception {
      git(repo, "init", "-q");
      Files.writeString(
          repo.resolve("README.md"), "# ok\nCRDs come from " + FORBIDDEN.get(1) + "\n");
      Files.writeString(repo.resolve("notes.txt"), FORBIDDEN.get(0));
      git(repo, "add", "README.md");

      assertThat(references(repo)).containsExactly("README.md:2: " + FORBIDDEN.get(1));
    }
  }

  /**
   * {@code file:line: reference} for each forbidden reference in a tracked file under {@code root}.
   */
  static List<String> references(Path root) throws IOException, InterruptedException {
    List<String> found = new ArrayList<>();
    for (String name : git(root, "ls-files", "-z").split("\0")) {
      Path file = root.resolve(name);
      if (name.isEmpty() || !Files.isRegularFile(file)) {
        continue; // deleted in the working tree, or a submodule
      }
      String[] lines =
          new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1).split("\n");
      for (int i = 0; i < lines.length; i++) {
        for (String forbidden : FORBIDDEN) {
          if (lines[i].contains(forbidden)) {
            found.add(name + ":" + (i + 1) + ": " + forbidden);
          }
        }
      }
    }
    return found;
  }

  private static String git(Path dir, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("git", "-C", dir.toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("git finished").isTrue();
    assertThat(process.exitValue()).as("git %s: %s", String.join(" ", args), out).isZero();
    return out;
  }
}
