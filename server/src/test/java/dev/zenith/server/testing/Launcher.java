package dev.zenith.server.testing;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real {@code ./zenith} launcher as a user runs it, after {@code mvn package} built the jars: for the home
 * and ports of a {@link DaemonFixture}, from a directory of the user's, with no build check.
 */
public final class Launcher {
    public static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private Launcher() {
    }

    /** {@code ./zenith ARGV} with {@code env} on top of the fixture's settings. */
    public static ProcessBuilder command(DaemonFixture d, Path workDir, Map<String, String> env, String... argv) {
        ProcessBuilder pb = DaemonFixture.withoutZenithSettings(new ProcessBuilder(ROOT.resolve("zenith").toString()))
                .directory(workDir.toFile());
        pb.command().addAll(List.of(argv));
        pb.environment().put("ZENITH_HOME", d.home.toString());
        pb.environment().put("ZENITH_HTTP_PORT", Integer.toString(d.httpPort));
        pb.environment().put("ZENITH_PG_PORT", Integer.toString(d.pgPort));
        pb.environment().put("ZENITH_COMPUTE_FIRST_PORT", Integer.toString(d.computeFirstPort));
        pb.environment().put("ZENITH_NO_BUILD", "1"); // the reactor built the jars
        pb.environment().putAll(env);
        return pb;
    }

    /** Runs it to its end (5 minutes at most): exit code, stdout, stderr. */
    public static CliRun run(DaemonFixture d, Path workDir, Map<String, String> env, String... argv) throws Exception {
        return run(command(d, workDir, env, argv));
    }

    /** Whether util-linux's script is there to give a command a terminal. */
    public static boolean canRunOnTerminal() {
        return Files.isExecutable(Path.of("/usr/bin/script"));
    }

    /** Runs it on a terminal of its own (a pseudo-terminal from script): stdout and stderr come out there, together. */
    public static CliRun runOnTerminal(DaemonFixture d, Path workDir, Map<String, String> env, String... argv) throws Exception {
        return typingOnTerminal(d, workDir, env, "", argv);
    }

    /**
     * {@link #runOnTerminal}, with {@code typed} typed on that terminal, then end of input (script sends the
     * terminal's EOF character, ^D, once its own input ends): what a person answers to a prompt.
     */
    public static CliRun typingOnTerminal(DaemonFixture d, Path workDir, Map<String, String> env, String typed, String... argv)
            throws Exception {
        StringBuilder line = new StringBuilder("'" + ROOT.resolve("zenith") + "'");
        for (String a : argv) {
            line.append(" '").append(a.replace("'", "'\\''")).append("'");
        }
        ProcessBuilder pb = command(d, workDir, env);
        pb.command(List.of("/usr/bin/script", "-qec", line.toString(), "/dev/null"));
        return run(pb, typed);
    }

    private static CliRun run(ProcessBuilder pb) throws Exception {
        return run(pb, "");
    }

    private static CliRun run(ProcessBuilder pb, String input) throws Exception {
        Path err = Files.createTempFile("zenith-launcher", ".err");
        try {
            Process p = pb.redirectError(err.toFile()).start(); // a file: a daemon it starts may keep a pipe open
            try (var stdin = p.getOutputStream()) {
                stdin.write(input.getBytes(StandardCharsets.UTF_8));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(5, TimeUnit.MINUTES));
            return new CliRun(p.exitValue(), out, Files.readString(err));
        } finally {
            Files.delete(err);
        }
    }
}
