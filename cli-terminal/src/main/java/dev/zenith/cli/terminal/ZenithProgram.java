package dev.zenith.cli.terminal;

import dev.zenith.cli.Invocation;
import dev.zenith.cli.Main;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The {@code zenith} program (java -jar zenith-cli.jar): runs one command line on the user's terminal, with
 * progress bars there. Output is UTF-8 whatever the locale says (ASCII only, unless the locale is UTF-8), so
 * it is the same bytes as the daemon's for the launcher's lean path.
 */
public final class ZenithProgram {
    private ZenithProgram() {
    }

    public static void main(String[] argv) {
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), true,
                StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        // System.console(): stdin and stdout are both a terminal (the launcher's lean path asks the same)
        int code = new Main(Invocation.program(out, err, System.console() != null, System.in, new TerminalBars()))
                .run(List.of(argv));
        out.flush();
        err.flush();
        System.exit(code);
    }
}
