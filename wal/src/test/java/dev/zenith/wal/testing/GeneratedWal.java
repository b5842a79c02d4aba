package dev.zenith.wal.testing;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * WAL from a real PostgreSQL 15, made once per test JVM: pgbench -i, then a pgbench load under each
 * wal_compression method, CREATE DATABASE (both strategies), TRUNCATE, VACUUM, index builds, an
 * aborted transaction that created a table, two-phase commit and rollback, DROP DATABASE, writes to
 * all-visible and all-frozen pages (visibility-map bits cleared by insert, update, delete, COPY and
 * row locks), records with wal_consistency_checking images, a segment switch, and a clean shutdown.
 * The cluster is stopped afterwards (its files stay for pg_waldump and pg_controldata) and
 * removed when the JVM exits.
 */
public final class GeneratedWal {
    public static final List<String> COMPRESSION_METHODS = List.of("off", "pglz", "lz4", "zstd");
    private static GeneratedWal instance;

    private final PgCluster cluster;
    private final List<Path> segments;
    private final RelationFiles.State initial;
    private String waldumpOutput;

    private GeneratedWal(PgCluster cluster, List<Path> segments, RelationFiles.State initial) {
        this.cluster = cluster;
        this.segments = segments;
        this.initial = initial;
    }

    public static synchronized GeneratedWal get() {
        if (instance == null) {
            try {
                instance = generate();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return instance;
    }

    private static GeneratedWal generate() throws IOException {
        PgCluster c = PgCluster.initdb();
        Runtime.getRuntime().addShutdownHook(new Thread(c::close));
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("wal_keep_size", "2GB"); // keep every segment since initdb for the comparison
        conf.put("max_wal_size", "2GB");
        conf.put("autovacuum", "off");
        conf.put("wal_compression", "off");
        conf.put("max_prepared_transactions", "2");
        c.configure(conf);
        RelationFiles.State initial = RelationFiles.State.of(c.dataDir()); // initdb's files at its shutdown checkpoint
        c.start();
        try {
            c.pgbench("-i", "-s", "1", "-q");
            c.psql("CREATE DATABASE copied STRATEGY FILE_COPY");
            for (String method : COMPRESSION_METHODS) {
                c.psql("ALTER SYSTEM SET wal_compression = '" + method + "'");
                c.psql("SELECT pg_reload_conf()");
                c.psql("CHECKPOINT"); // so the load below starts with full-page images
                c.pgbench("-n", "-c", "2", "-j", "1", "-t", "60");
                c.psql("CREATE INDEX accounts_abalance_" + method + " ON pgbench_accounts (abalance)");
            }
            c.psql("TRUNCATE pgbench_history");
            c.psql("VACUUM pgbench_accounts");
            // deleting a table's tail and vacuuming it logs an SMGR truncate
            c.psql("CREATE TABLE shrinking AS SELECT generate_series(1, 20000) AS a");
            c.psql("DELETE FROM shrinking WHERE a > 100");
            c.psql("VACUUM shrinking");
            c.psql("BEGIN; CREATE TABLE rolled_back (a int); INSERT INTO rolled_back VALUES (1); ROLLBACK");
            c.psql("BEGIN; CREATE TABLE prepared_kept (a int); PREPARE TRANSACTION 'kept'");
            c.psql("COMMIT PREPARED 'kept'");
            c.psql("BEGIN; CREATE TABLE prepared_dropped (a int); PREPARE TRANSACTION 'dropped'");
            c.psql("ROLLBACK PREPARED 'dropped'");
            c.psql("DROP DATABASE copied");
            writeToFrozenPages(c);
            c.psql("CREATE DATABASE logged STRATEGY WAL_LOG");
            c.psql("SELECT pg_switch_wal()");
            c.pgbench("-n", "-c", "1", "-t", "20");
        } finally {
            c.stop(); // writes the shutdown checkpoint
        }
        List<Path> segs;
        try (Stream<Path> s = Files.list(c.walDir())) {
            segs = s.filter(p -> WalSegments.isSegmentFileName(p.getFileName().toString())).sorted().toList();
        }
        return new GeneratedWal(c, segs, initial);
    }

    /**
     * Writes that clear visibility-map bits in redo without referencing the map: an insert, a HOT
     * and a cross-page update, a delete, a COPY (multi-insert) into all-visible pages, and row locks
     * on all-frozen pages; plus a few records carrying wal_consistency_checking images.
     */
    private static void writeToFrozenPages(PgCluster c) throws IOException {
        // as computes run: hint bits after a checkpoint log XLOG_FPI_FOR_HINT without an image
        c.psql("ALTER SYSTEM SET full_page_writes = off");
        c.psql("SELECT pg_reload_conf()");
        c.psql("CREATE TABLE frozen (a int PRIMARY KEY, b text)");
        c.psql("INSERT INTO frozen SELECT g, 'x' FROM generate_series(1, 3000) g");
        c.psql("VACUUM (FREEZE) frozen");
        c.psql("INSERT INTO frozen VALUES (5000, 'new')");
        c.psql("UPDATE frozen SET b = 'hot' WHERE a = 10");
        c.psql("UPDATE frozen SET b = repeat('z', 2000) WHERE a = 20");
        c.psql("DELETE FROM frozen WHERE a = 700");
        c.psql("VACUUM (FREEZE) frozen");
        c.psql("COPY frozen (a) FROM PROGRAM 'seq 6001 6100'");
        c.psql("VACUUM (FREEZE) frozen");
        c.psql("SELECT * FROM frozen WHERE a = 900 FOR UPDATE");
        c.psql("SELECT * FROM frozen WHERE a = 1900 FOR KEY SHARE");
        c.psql("SET wal_consistency_checking = 'heap,btree'; INSERT INTO frozen VALUES (7000, 'checked');"
                + " UPDATE frozen SET b = 'checked' WHERE a = 30");
        c.psql("CHECKPOINT");
        c.psql("SELECT count(*) FROM frozen WHERE b = 'hot'"); // sets hint bits on the pages written since VACUUM
        c.psql("ALTER SYSTEM RESET full_page_writes");
        c.psql("SELECT pg_reload_conf()");
    }

    /** Relation files, database directories and the checkpoint initdb left (the WAL after it moves them on). */
    public RelationFiles.State initialState() {
        return initial;
    }

    public PgCluster cluster() {
        return cluster;
    }

    /** The segment files in pg_wal, in order, consecutive. */
    public List<Path> segments() {
        return segments;
    }

    public Lsn firstSegmentStart() {
        return Lsn.of(WalSegments.parseFileName(segments.get(0).getFileName().toString()).startLsn());
    }

    /** All segments, concatenated: the WAL stream from {@link #firstSegmentStart()}. */
    public byte[] stream() throws IOException {
        byte[] all = new byte[segments.size() * WalGeometry.WAL_SEGMENT_SIZE];
        int off = 0;
        for (Path p : segments) {
            byte[] b = Files.readAllBytes(p);
            System.arraycopy(b, 0, all, off, b.length);
            off += b.length;
        }
        return all;
    }

    /** pg_waldump -b over all segments (stdout only; it ends with an error on stderr at end of WAL). */
    public synchronized String waldump() throws IOException {
        if (waldumpOutput == null) {
            List<String> args = new ArrayList<>(List.of("-b", "-p", cluster.walDir().toString(),
                    segments.get(0).getFileName().toString(), segments.get(segments.size() - 1).getFileName().toString()));
            waldumpOutput = runStdout(cluster, "pg_waldump", args);
        }
        return waldumpOutput;
    }

    /** Runs a PostgreSQL binary and returns its stdout whatever its exit status. */
    public static String runStdout(PgCluster cluster, String binary, List<String> args) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cluster.installation().command(binary, args.toArray(String[]::new)));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
