package dev.zenith.cli;

import dev.zenith.cli.pagebench.PageBench;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.wal.Lsn;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code zenith pagebench PG}: GetPage@LSN load on the page service, against a loopback echo peer. */
@Command(name = "pagebench", description = "GetPage@LSN load on a pg's page stream, measured against a loopback echo "
        + "peer (42 bytes in, 8 KiB out) in the same run: answers/s each second, then mean, p50, p90, p99, p99.9, p99.99.",
        footerHeading = "%nExamples:%n", footer = {"  zenith pagebench main -c 8 --duration 30s",
                "  zenith pagebench main --lsn random --no-echo", "  zenith pagebench main --verify .zenith/pgs/main  (a stopped pg)"})
final class PageBenchCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(paramLabel = "PG", description = "the pg whose timeline is read")
    String pg;

    @Option(names = {"-c", "--connections"}, defaultValue = "1", description = "connections (default: 1)")
    int connections;

    @Option(names = {"-d", "--depth"}, defaultValue = "1", description = "requests in flight per connection (default: 1)")
    int depth;

    @Option(names = "--duration", defaultValue = "10s", description = "how long to measure, like 10s or 2m (default: 10s)")
    String duration;

    @Option(names = "--warmup", defaultValue = "2s", description = "load before measuring (default: 2s)")
    String warmup;

    @Option(names = "--lsn", defaultValue = "latest", description = "latest (default), random (in retention) or an LSN")
    String lsn;

    @Option(names = "--protocol", defaultValue = "v3", description = "v3 (default) or v2")
    String protocol;

    @Option(names = "--verify", paramLabel = "DATADIR", description = "compare every page with this data directory's files")
    Path verify;

    @Option(names = "--no-echo", description = "skip the echo peer")
    boolean noEcho;

    @Option(names = "--user", description = "the pg port's user (default: ZENITH_REPLICATION_USER or zenith)")
    String user;

    @Option(names = "--password", description = "its password (default: ZENITH_REPLICATION_PASSWORD, else the daemon's "
            + "ZENITH_HOME/replication-password)")
    String password;

    @Option(names = "--seed", description = "random seed (default: the clock)")
    Long seed;

    PageBenchCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        if (!lsn.equals("latest") && !lsn.equals("random")) {
            try {
                Lsn.parse(lsn);
            } catch (IllegalArgumentException e) {
                throw new CliException("--lsn is latest, random or an LSN like 0/16B3748, not '" + lsn + "'", 2);
            }
        }
        if (!protocol.equals("v3") && !protocol.equals("v2")) {
            throw new CliException("--protocol is v3 or v2, not '" + protocol + "'", 2);
        }
        int c = bounded("--connections", connections);
        int d = bounded("--depth", depth);
        var options = new PageBench.Options(pg, c, d, duration("--duration", duration), duration("--warmup", warmup), lsn,
                protocol.equals("v3") ? PagestreamVersion.V3 : PagestreamVersion.V2,
                verify == null ? null : verify.toAbsolutePath().normalize(), cli.json(), !noEcho,
                user != null ? user : env("ZENITH_REPLICATION_USER", "zenith"),
                password != null ? password : env("ZENITH_REPLICATION_PASSWORD", null) != null
                        ? env("ZENITH_REPLICATION_PASSWORD", null) : generatedPassword(),
                seed == null ? System.nanoTime() : seed);
        int pgPort = cli.client().get("/status").path("pg_port").asInt();
        return new PageBench(options, cli.client()::get, "127.0.0.1", pgPort, cli.out, cli.err).run();
    }

    /** The replication password the daemon generated (the owner reads it; 0600). */
    private String generatedPassword() {
        Path file = cli.home().dir().resolve("replication-password");
        try {
            return java.nio.file.Files.readAllLines(file).get(0).trim();
        } catch (java.io.IOException | IndexOutOfBoundsException e) {
            throw new CliException("cannot read the replication password from " + file + " (" + e.getMessage()
                    + "); give --password or ZENITH_REPLICATION_PASSWORD");
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    private static int bounded(String option, int n) {
        if (n < 1 || n > 4096) {
            throw new CliException(option + " is a whole number from 1 to 4096, not " + n, 2);
        }
        return n;
    }

    /** {@code 10s}, {@code 2m}, {@code 0s}. */
    private static Duration duration(String option, String text) {
        Matcher m = Pattern.compile("(\\d{1,6})([sm])").matcher(text);
        if (!m.matches()) {
            throw new CliException(option + " is a number of seconds or minutes, like 10s or 2m, not '" + text + "'", 2);
        }
        long n = Long.parseLong(m.group(1));
        return m.group(2).equals("s") ? Duration.ofSeconds(n) : Duration.ofMinutes(n);
    }
}
