package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.objectstore.catalogue.MachineFacts;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.wal.control.ControlFile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
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
    private final Path psql;

    LocalFacts(PgInstallation pg) throws IOException {
        this.psql = pg.bin("psql");
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

    /** A cluster's facts from its pg_control, with its databases' locales as {@link #databases} read them. */
    ClusterFacts cluster(byte[] pgControl, List<ClusterFacts.DatabaseLocale> databases) {
        ControlFile control = ControlFile.parse(pgControl);
        return new ClusterFacts(pgVersion, pgVersionNum, Long.toUnsignedString(control.systemIdentifier()),
                control.dataChecksumVersion() != 0, control.blockSize(), control.walSegmentSize(), databases);
    }

    /**
     * The databases' locale providers, collations and collation versions as the running PostgreSQL on {@code port}
     * reports them (pg_database), through psql as role postgres with {@code password}.
     */
    List<ClusterFacts.DatabaseLocale> databases(int port, String password) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(psql.toString(), "-X", "-w", "-h", "127.0.0.1", "-p", Integer.toString(port),
                "-U", "postgres", "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", DATABASES);
        pb.environment().remove("PGPASSFILE");
        if (password != null) {
            pb.environment().put("PGPASSWORD", password);
        }
        Process p = pb.redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() != 0) {
                throw new IOException("psql on port " + port + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        JsonArray rows = new JsonArray(out);
        List<ClusterFacts.DatabaseLocale> list = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            JsonObject d = rows.getJsonObject(i);
            list.add(new ClusterFacts.DatabaseLocale(d.getString("name"), "i".equals(d.getString("provider")) ? "icu" : "libc",
                    d.getString("collate"), d.getString("ctype"), Optional.ofNullable(d.getString("icu_locale")),
                    Optional.ofNullable(d.getString("collation_version"))));
        }
        return list;
    }

    private static final String DATABASES = "SELECT coalesce(json_agg(json_build_object('name', datname, 'provider', datlocprovider,"
            + " 'collate', datcollate, 'ctype', datctype, 'icu_locale', daticulocale, 'collation_version', datcollversion)"
            + " ORDER BY datname), '[]') FROM pg_database WHERE datallowconn";

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
