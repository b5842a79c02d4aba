package dev.zenith.server.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A pgbench load whose every acknowledged transaction can be checked afterwards: each transaction
 * inserts one row for its client into {@code ledger}, and pgbench's per-transaction log (-l) says which
 * transactions it saw commit. After any crash, each client must have at least as many rows as pgbench
 * logged for it (and at most one more: a commit that was durable but whose acknowledgement was lost).
 */
public final class PgbenchLedger {
    public static final String SETUP = "CREATE TABLE ledger (id bigserial PRIMARY KEY, client int NOT NULL, at timestamptz DEFAULT clock_timestamp())";

    private final DaemonFixture d;
    private final Path dir;
    private Process process;

    public PgbenchLedger(DaemonFixture d, Path dir) throws IOException {
        this.d = d;
        this.dir = dir;
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ledger.sql"), "INSERT INTO ledger (client) VALUES (:client_id);\n");
    }

    /** Starts pgbench in the background (run as this user: it is only a client). */
    public void start(int port, int clients, int seconds) throws IOException {
        process = d.withCredentials(new ProcessBuilder(d.pg.bin("pgbench").toString(), "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres", "-n", "-c", Integer.toString(clients), "-j", "2", "-T",
                Integer.toString(seconds), "-l", "--log-prefix=" + dir.resolve("pgb"), "-f", dir.resolve("ledger.sql").toString(),
                "postgres"), port).redirectErrorStream(true).redirectOutput(dir.resolve("pgbench.out").toFile()).start();
    }

    /**
     * Waits for pgbench to end. Its commits wait on our receiver, so if the daemon died pgbench would
     * wait forever: after 5 minutes it is killed and the test fails instead of hanging the build.
     */
    public void await() throws InterruptedException {
        if (!process.waitFor(5, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("pgbench did not finish within 5 minutes: its commits never got acknowledged");
        }
    }

    public String output() throws IOException {
        return Files.readString(dir.resolve("pgbench.out"));
    }

    /** Transactions pgbench logged as committed, per client id. */
    public Map<Integer, Integer> acknowledged() throws IOException {
        Map<Integer, Integer> n = new HashMap<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("pgb.")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    String[] parts = line.trim().split("\\s+");
                    if (parts.length >= 6 && parts[2].matches("\\d+")) {
                        n.merge(Integer.parseInt(parts[0]), 1, Integer::sum);
                    }
                }
            }
        }
        return n;
    }

    /** Completion times (epoch microseconds) of every logged transaction. */
    public List<Long> completionTimesMicros() throws IOException {
        List<Long> t = new java.util.ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("pgb.")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    String[] parts = line.trim().split("\\s+");
                    if (parts.length >= 6 && parts[2].matches("\\d+")) {
                        t.add(Long.parseLong(parts[4]) * 1_000_000L + Long.parseLong(parts[5]));
                    }
                }
            }
        }
        return t;
    }

    /** Every transaction pgbench saw commit is among {@code counts} (the output of {@link #COUNTS}), per client. */
    public void assertAcknowledgedStored(String counts) throws IOException {
        Map<Integer, Integer> acked = acknowledged();
        Map<Integer, Integer> stored = parseCounts(counts);
        if (acked.isEmpty()) {
            throw new AssertionError("pgbench committed nothing: " + output());
        }
        for (var e : acked.entrySet()) {
            int have = stored.getOrDefault(e.getKey(), 0);
            if (have < e.getValue()) {
                throw new AssertionError("client " + e.getKey() + ": pgbench saw " + e.getValue() + " commits, store has " + have);
            }
        }
    }

    /** Parses "client|count" lines from psql. */
    public static Map<Integer, Integer> parseCounts(String psqlOutput) {
        Map<Integer, Integer> m = new HashMap<>();
        for (String line : psqlOutput.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] p = line.split("\\|");
            m.put(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
        }
        return m;
    }

    public static final String COUNTS = "SELECT client, count(*) FROM ledger GROUP BY client ORDER BY client";
}
