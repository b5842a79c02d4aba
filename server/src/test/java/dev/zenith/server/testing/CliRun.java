package dev.zenith.server.testing;

import dev.zenith.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

/** What a run of the {@code zenith} CLI gave: its exit code, stdout and stderr. */
public record CliRun(int code, String out, String err) {
    /** The CLI's {@link Main} in this JVM (its home from the {@code zenith.home} property, if set). */
    public static CliRun inProcess(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Main(new PrintStream(out, true), new PrintStream(err, true)).run(List.of(argv));
        return new CliRun(code, out.toString(), err.toString());
    }
}
