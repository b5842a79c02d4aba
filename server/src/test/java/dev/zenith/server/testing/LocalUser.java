package dev.zenith.server.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Commands run as a local user: the owner (this process's user) or another, unprivileged one ({@code nobody},
 * through runuser: the tests must run as root for that). None of the environment's PG* or ZENITH_* settings
 * go along, and HOME leads nowhere: only what a command line says.
 */
public final class LocalUser {
    private LocalUser() {
    }

    public record Run(int code, String out) {
    }

    public static Run owner(String... cmd) throws IOException, InterruptedException {
        return run(List.of(cmd));
    }

    public static Run nobody(String... cmd) throws IOException, InterruptedException {
        return run(nobodyCommand(List.of(cmd)));
    }

    public static List<String> nobodyCommand(List<String> cmd) {
        List<String> argv = new ArrayList<>(List.of("runuser", "-u", "nobody", "--"));
        argv.addAll(cmd);
        return argv;
    }

    private static Run run(List<String> argv) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).directory(Path.of("/tmp").toFile()).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("ZENITH_"));
        pb.environment().put("HOME", "/nonexistent");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "hung: " + argv);
        return new Run(p.exitValue(), out.trim());
    }
}
