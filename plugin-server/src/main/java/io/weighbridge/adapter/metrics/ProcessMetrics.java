package io.weighbridge.adapter.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Micrometer's JVM binders (memory, GC, threads, classes, uptime) and the process metrics under the
 * names every Prometheus client uses ({@code process_cpu_seconds_total}, {@code
 * process_resident_memory_bytes}, {@code process_virtual_memory_bytes}, {@code process_open_fds},
 * {@code process_max_fds}, {@code process_start_time_seconds}) rather than Micrometer's own ({@code
 * process_cpu_usage}, {@code process_files_open_files}), so standard dashboards and alerts work;
 * and {@code weighbridge_build_info{version,revision}} (always 1).
 */
public final class ProcessMetrics implements AutoCloseable {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path FD_DIR = Path.of("/proc/self/fd");
  private static final Path LIMITS = Path.of("/proc/self/limits");

  private final JvmGcMetrics gc = new JvmGcMetrics();

  /** Binds every meter to {@code registry} with the build's version; call once. */
  public ProcessMetrics bindTo(MeterRegistry registry, BuildInfo build) {
    new JvmInfoMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry); // process_start_time_seconds, process_uptime_seconds
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean jdk) {
      FunctionCounter.builder("process.cpu", jdk, b -> b.getProcessCpuTime() / 1e9)
          .baseUnit("seconds")
          .description("Total user and system CPU time spent in seconds")
          .register(registry);
    }
    if (Files.isReadable(STATUS)) {
      Gauge.builder("process.resident.memory", () -> statusKib("VmRSS:") * 1024)
          .baseUnit("bytes")
          .description("Resident memory size in bytes")
          .register(registry);
      Gauge.builder("process.virtual.memory", () -> statusKib("VmSize:") * 1024)
          .baseUnit("bytes")
          .description("Virtual memory size in bytes")
          .register(registry);
    }
    if (Files.isDirectory(FD_DIR)) {
      Gauge.builder("process.open.fds", ProcessMetrics::openFds)
          .description("Number of open file descriptors")
          .register(registry);
      Gauge.builder("process.max.fds", ProcessMetrics::maxFds)
          .description("Maximum number of open file descriptors")
          .register(registry);
    }
    Gauge.builder("weighbridge.build.info", () -> 1)
        .description("The running build: version (the release, or dev) and revision (git commit)")
        .tag("version", build.version())
        .tag("revision", build.revision())
        .register(registry);
    return this;
  }

  /** A {@code Name: <n> kB} line of /proc/self/status, in KiB; NaN when it cannot be read. */
  private static double statusKib(String name) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(name)) {
          return Double.parseDouble(line.substring(name.length()).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // reported as NaN below
    }
    return Double.NaN;
  }

  private static double openFds() {
    try (var entries = Files.list(FD_DIR)) {
      return entries.count();
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  private static double maxFds() {
    try {
      List<String> lines = Files.readAllLines(LIMITS);
      for (String line : lines) {
        if (line.startsWith("Max open files")) {
          String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
          return "unlimited".equals(soft) ? Double.POSITIVE_INFINITY : Double.parseDouble(soft);
        }
      }
    } catch (IOException | RuntimeException e) {
      // reported as NaN below
    }
    return Double.NaN;
  }

  /** Stops listening for GC events. */
  @Override
  public void close() {
    gc.close();
  }
}
