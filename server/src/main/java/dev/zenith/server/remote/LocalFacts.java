package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.objectstore.catalogue.MachineFacts;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The facts a pushed snapshot carries and a pull compares: this machine's (architecture, PostgreSQL, glibc and
 * ICU versions) and a cluster's (from its pg_control). Blocking: runs {@code postgres --version} and
 * {@code getconf} once.
 */
final class LocalFacts {
    private static final Pattern PG_VERSION = Pattern.compile("\\(PostgreSQL\\) ([0-9]+)(?:\\.([0-9]+))?");
    private static final Pattern ICU = Pattern.compile("libicuuc\\.so\\.([0-9]+(?:\\.[0-9]+)*)");

    private final String pgVersion;
    private final int pgVersionNum;
    private final MachineFacts machine;

    LocalFacts(PgInstallation pg) throws IOException {
        Matcher m = PG_VERSION.matcher(run(pg.bin("postgres").toString(), "--version"));
        if (!m.find()) {
            throw new IOException("cannot tell the version of " + pg.bin("postgres"));
        }
        int major = Integer.parseInt(m.group(1));
        int minor = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
        this.pgVersion = major + "." + minor;
        this.pgVersionNum = major * 10000 + minor;
        String glibc = run("getconf", "GNU_LIBC_VERSION").replace("glibc", "").trim();
        this.machine = new MachineFacts(System.getProperty("os.arch"), pgVersionNum, glibc.isEmpty() ? "unknown" : glibc, icuVersion());
    }

    MachineFacts machine() {
        return machine;
    }

    /** A cluster's facts from its pg_control; the databases' locales are not recorded yet (an empty list). */
    ClusterFacts cluster(byte[] pgControl) {
        ControlFile control = ControlFile.parse(pgControl);
        return new ClusterFacts(pgVersion, pgVersionNum, Long.toUnsignedString(control.systemIdentifier()),
                control.dataChecksumVersion() != 0, control.blockSize(), control.walSegmentSize(), List.of());
    }

    private static Optional<String> icuVersion() {
        for (String dir : List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")) {
            Path d = Path.of(dir);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> files = Files.list(d)) {
                Optional<String> v = files.map(p -> ICU.matcher(p.getFileName().toString())).filter(Matcher::matches)
                        .map(x -> x.group(1)).filter(s -> s.contains(".")).findFirst();
                if (v.isPresent()) {
                    return v;
                }
            } catch (IOException e) {
                // unreadable: look on
            }
        }
        return Optional.empty();
    }

    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + command[0], e);
        }
    }
}
