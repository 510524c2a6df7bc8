package io.weighbridge.charts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fenced blocks of an operator doc, as the reader meets them: {@code sh} blocks split into
 * commands (continuation lines joined, trailing comments dropped, a heredoc kept with its command),
 * {@code yaml} blocks whole.
 */
final class DocSteps {

  /** One step: a shell command (with its heredoc body, if any) or a YAML block. */
  record Step(String doc, int line, String language, String text, String heredoc) {

    boolean isYaml() {
      return language.equals("yaml");
    }

    @Override
    public String toString() {
      return doc + ":" + line + " " + text.lines().findFirst().orElse("");
    }
  }

  private static final Pattern FENCE = Pattern.compile("^\\s*```(\\w*)\\s*$");
  private static final Pattern HEREDOC = Pattern.compile("<<'?(\\w+)'?");
  // A trailing comment: "  # ..." after the command (docs align them with two or more spaces).
  private static final Pattern COMMENT = Pattern.compile("\\s{2,}#.*$|^\\s*#.*$");

  private DocSteps() {}

  /** The sh and yaml steps of {@code file}, in order. */
  static List<Step> of(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    String doc = file.getFileName().toString();
    List<Step> steps = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher open = FENCE.matcher(lines.get(i));
      if (!open.matches() || open.group(1).isEmpty()) {
        continue;
      }
      String language = open.group(1);
      int start = i + 1;
      int end = start;
      while (end < lines.size() && !FENCE.matcher(lines.get(end)).matches()) {
        end++;
      }
      List<String> body = lines.subList(start, end);
      if (language.equals("yaml")) {
        steps.add(new Step(doc, start + 1, language, String.join("\n", body), ""));
      } else if (language.equals("sh")) {
        commands(doc, start, body, steps);
      }
      i = end;
    }
    return steps;
  }

  private static void commands(String doc, int start, List<String> body, List<Step> steps) {
    StringBuilder command = new StringBuilder();
    int first = -1;
    for (int j = 0; j < body.size(); j++) {
      String line = body.get(j);
      String code = COMMENT.matcher(line).replaceAll("").stripTrailing();
      if (command.isEmpty() && code.isBlank()) {
        continue;
      }
      if (first < 0) {
        first = start + j + 1;
      }
      boolean continued = code.endsWith("\\");
      command.append(continued ? code.substring(0, code.length() - 1).strip() + " " : code.strip());
      if (continued) {
        continue;
      }
      String heredoc = "";
      Matcher here = HEREDOC.matcher(command);
      if (here.find()) {
        StringBuilder text = new StringBuilder();
        for (j++; j < body.size() && !body.get(j).strip().equals(here.group(1)); j++) {
          text.append(body.get(j)).append('\n');
        }
        heredoc = text.toString();
      }
      steps.add(new Step(doc, first, "sh", command.toString().strip(), heredoc));
      command.setLength(0);
      first = -1;
    }
  }
}
