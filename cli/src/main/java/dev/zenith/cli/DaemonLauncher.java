package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.pgexec.Processes;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** {@code zenith start} and {@code zenith stop}: the daemon's life cycle, seen from the CLI. */
final class DaemonLauncher {
    /** The daemon's exit code when another daemon holds the home's lock. */
    private static final int EXIT_ALREADY_RUNNING = 3;
    /** lmdbjava reaches into java.nio internals. */
    static final List<String> JVM_FLAGS = List.of(
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
            "-XX:+UseG1GC", "-Xss1m",
            // A small young generation keeps reusing the same, already mapped, eden pages. Left to grow
            // (to ~1 GB here) G1 spreads allocation over fresh pages and the WAL receiver's allocations
            // page-fault for minutes: a quarter of the daemon's CPU under pgbench (bench/RESULTS.md).
            "-XX:MaxNewSize=96m",
            // The heap a burst grew (a base backup, an import) is given back after 30 s without a collection,
            // so an idle daemon's RSS falls back (bench/daemon-memory.sh); the bound itself is daemon.max_heap_mb.
            "-XX:G1PeriodicGCInterval=30000",
            // In the 1 MiB regions G1 picks for a heap of a few hundred MB, every 1 MiB WAL chunk read from
            // LMDB is a humongous object, and each one started a collection (185 of 201 over a run of
            // bench/daemon-memory.sh); in 4 MiB regions they are ordinary ones (31 of 132).
            "-XX:G1HeapRegionSize=4m",
            // keeps the log open through the daemon's own shutdown hook (SIGTERM)
            "-Djava.util.logging.manager=dev.zenith.server.DaemonLogManager");
    /**
     * How often a start looks whether the daemon listens: a look is a file's existence until the daemon
     * writes daemon.json, so it costs nothing, and every poll saved is time the user waits.
     */
    private static final long START_POLL_MS = 10;
    /** Environment variables the daemon reads as paths; the CLI makes relative ones absolute. */
    private static final List<String> PATH_VARIABLES = List.of("ZENITH_CONF", "ZENITH_COMPUTES_DIR", "ZENITH_PG_BIN");

    private final Home home;
    private final DaemonClient client;
    private final PrintStream out;

    DaemonLauncher(Home home, DaemonClient client, PrintStream out) {
        this.home = home;
        this.client = client;
        this.out = out;
    }

    int start(boolean foreground) throws IOException, InterruptedException {
        if (client.isUp()) {
            out.println("zenith is already running (" + client.baseUrl().orElse("?") + ", ZENITH_HOME=" + home.dir() + ")");
            return 0;
        }
        PrivateFiles.directory(home.dir()); // 0700: other users keep out of the daemon's state and secrets
        List<String> cmd = daemonCommand(foreground);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("ZENITH_HOME", home.dir().toString());
        // glibc gives each thread that mallocs an arena of its own (up to 8 per core); the daemon's many threads
        // (event loops, page I/O, redo runs, uploads) kept tens of MB of them resident when idle. Two suffice: the
        // JVM allocates its objects in the heap, not with malloc.
        pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
        // The daemon works in its home: it neither writes into nor pins the directory zenith was started
        // from, so paths given relative to that directory must reach it absolute.
        pb.directory(home.dir().toFile());
        for (String pathVariable : PATH_VARIABLES) {
            String value = pb.environment().get(pathVariable);
            if (value != null && !value.isBlank()) {
                pb.environment().put(pathVariable, StorageCommands.absolute(value));
            }
        }
        if (foreground) {
            return pb.inheritIO().start().waitFor();
        }
        Path outFile = home.outFile();
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(outFile.toFile()));
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long outStart = Files.exists(outFile) ? Files.size(outFile) : 0;
        Process p = pb.start();
        long deadline = System.nanoTime() + 10L * 60 * 1_000_000_000;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                if (p.exitValue() == EXIT_ALREADY_RUNNING) {
                    out.println("zenith is already running (ZENITH_HOME=" + home.dir() + ")");
                    return 0;
                }
                // The daemon says why ("zenith failed to start: ...", "zenith: bad configuration: ..."); the
                // CLI's own "zenith: " goes in front, once.
                String why = tail(outFile, outStart).replaceFirst("^zenith:? ", "");
                throw new CliException((why.isEmpty() ? "failed to start (exit " + p.exitValue() + ")" : why)
                        + "\nlog: " + home.logFile());
            }
            Optional<JsonNode> status = daemonFileNames(p.pid()) ? statusOnceUp() : Optional.empty();
            if (status.isPresent()) {
                JsonNode st = status.get();
                out.println("zenith started (pid " + p.pid() + ")");
                out.println("  REST API:  " + client.baseUrl().orElse("?"));
                out.println("  home:      " + home.dir());
                out.println("  log:       " + home.logFile());
                if (st.has("pg_port")) {
                    out.println("  PG port:   " + st.get("pg_port").asText());
                }
                return 0;
            }
            Thread.sleep(START_POLL_MS);
        }
        throw new CliException("zenith did not come up within 10 minutes; see " + home.logFile());
    }

    int stop(PrintStream progress) throws InterruptedException {
        Optional<JsonNode> status;
        try {
            status = client.statusIfRunning();
        } catch (CliException e) {
            status = Optional.empty();
        }
        if (status.isEmpty()) {
            out.println("zenith is not running (ZENITH_HOME=" + home.dir() + ")");
            return 0;
        }
        long running = status.get().path("pgs_running").asLong();
        if (running > 0) {
            // it takes a while (each one's fast shutdown, then an image of its directory): say so
            progress.println("zenith: stopping " + running + " running pg" + (running == 1 ? "" : "s")
                    + " cleanly, then the daemon...");
        }
        long pid = readPid();
        try {
            client.post("/shutdown", null);
        } catch (CliException e) {
            if (pid <= 0) {
                throw e; // without its pid we cannot tell a stopping daemon from a failed request
            }
            // the daemon may have closed the connection while stopping: its process decides below
        }
        long deadline = System.nanoTime() + 5L * 60 * 1_000_000_000;
        while (System.nanoTime() < deadline) {
            // the daemon's process when its pid is known (exited, even if not reaped yet), else whether it answers
            boolean gone = pid > 0 ? !Processes.isRunning(pid) : !client.isUp();
            if (gone) {
                out.println("zenith stopped");
                return 0;
            }
            Thread.sleep(100);
        }
        throw new CliException("zenith did not stop within 5 minutes (pid " + pid + "); see " + home.logFile());
    }

    private List<String> daemonCommand(boolean foreground) {
        String jar = System.getProperty("zenith.serverJar");
        if (jar == null || !Files.exists(Path.of(jar))) {
            throw new CliException("cannot find the server jar (zenith.serverJar=" + jar + "); run ./zenith from the repository");
        }
        List<String> cmd = new ArrayList<>();
        if (!foreground && Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid"); // its own session: closing the terminal does not hang it up
        }
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(JVM_FLAGS);
        String conf = System.getProperty("zenith.conf");
        cmd.addAll(memoryFlags(conf == null || conf.isBlank() ? null : Path.of(StorageCommands.absolute(conf))));
        cmd.addAll(classDataArchiveFlags(Path.of(jar)));
        // Extra JVM flags for profiling or heap limits, e.g. ZENITH_JVM_OPTS="-XX:+DumpPerfMapAtExit".
        String extra = System.getenv("ZENITH_JVM_OPTS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        if (conf != null && !conf.isBlank()) {
            cmd.add("-Dzenith.conf=" + StorageCommands.absolute(conf));
        }
        cmd.add("-jar");
        cmd.add(jar);
        if (foreground) {
            cmd.add("--foreground");
        }
        return cmd;
    }

    /** What conf/zenith.json's daemon section defaults to (the daemon's ZenithConfig has the same). */
    private static final int DEFAULT_MAX_HEAP_MB = 256;
    private static final int DEFAULT_MAX_DIRECT_MEMORY_MB = 128;

    /**
     * The daemon's memory bound, from the config file's {@code daemon} section: -Xmx and
     * -XX:MaxDirectMemorySize, none for 0 (the JVM's defaults). A value that is no whole number is left to
     * the daemon, which refuses to start naming it.
     */
    static List<String> memoryFlags(Path conf) {
        JsonNode daemon = null;
        if (conf != null && Files.isRegularFile(conf)) {
            try {
                daemon = DaemonClient.JSON.readTree(conf.toFile()).get("daemon");
            } catch (IOException e) {
                daemon = null; // the daemon reports a damaged file, naming it
            }
        }
        List<String> flags = new ArrayList<>();
        long heap = megabytes(daemon, "max_heap_mb", DEFAULT_MAX_HEAP_MB);
        long direct = megabytes(daemon, "max_direct_memory_mb", DEFAULT_MAX_DIRECT_MEMORY_MB);
        if (heap > 0) {
            flags.add("-Xmx" + heap + "m");
        }
        if (direct > 0) {
            flags.add("-XX:MaxDirectMemorySize=" + direct + "m");
        }
        return flags;
    }

    private static long megabytes(JsonNode section, String key, long fallback) {
        JsonNode v = section == null ? null : section.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        return v.isIntegralNumber() && v.asLong() >= 0 ? v.asLong() : 0;
    }

    /**
     * A daemon's JVM starts ~0.6 s sooner from a class-data archive of the classes a daemon of the same
     * jar loaded before (AppCDS). The first daemon of a build writes it when it exits. Its name carries
     * the jar's time and size: a daemon still running from an older build writes one that no later start
     * uses (the JVM would refuse it anyway), and the older ones are deleted. The JVM writes the header
     * last, so a daemon starting while one is written finds it incomplete and starts without it, as with
     * none (-Xshare:auto, quietly).
     */
    static List<String> classDataArchiveFlags(Path jar) {
        String base = jar.getFileName().toString().replaceFirst("\\.jar$", "");
        Path archive;
        try {
            archive = jar.resolveSibling(base + "-" + Files.getLastModifiedTime(jar).toMillis() + "-" + Files.size(jar) + ".jsa");
            try (var old = Files.newDirectoryStream(jar.getParent(), base + "-*.jsa")) {
                for (Path p : old) {
                    if (!p.equals(archive)) {
                        Files.deleteIfExists(p); // a running daemon that maps it keeps its copy
                    }
                }
            }
        } catch (IOException e) {
            return List.of(); // no archive is only slower
        }
        List<String> flags = new ArrayList<>(List.of("-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"));
        if (Files.isRegularFile(archive)) {
            flags.add("-XX:SharedArchiveFile=" + archive);
        } else if (Files.isWritable(jar.getParent())) {
            flags.add("-XX:ArchiveClassesAtExit=" + archive);
        } else {
            return List.of();
        }
        return flags;
    }

    /** The daemon's /status, asked once (it was twice: whether it answers, then what), or empty while it does not answer. */
    private Optional<JsonNode> statusOnceUp() {
        try {
            return client.statusIfRunning();
        } catch (CliException e) {
            return Optional.empty();
        }
    }

    private boolean daemonFileNames(long pid) {
        try {
            return Files.exists(home.daemonFile())
                    && DaemonClient.JSON.readTree(home.daemonFile().toFile()).path("pid").asLong() == pid;
        } catch (IOException e) {
            return false;
        }
    }

    private long readPid() {
        try {
            return DaemonClient.JSON.readTree(home.daemonFile().toFile()).path("pid").asLong(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    private static String tail(Path file, long from) {
        try {
            byte[] all = Files.readAllBytes(file);
            int start = (int) Math.min(from, all.length);
            String s = new String(all, start, all.length - start).trim();
            return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
        } catch (IOException e) {
            return "";
        }
    }
}
