package dev.zenith.protocol.server;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.protocol.auth.ScramVerifier;
import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.replication.ReplicationCommand.*;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real PostgreSQL 15 clients (psql, pg_receivewal, pg_basebackup) connect to a test server built on
 * {@link ServerHandshake} and {@link dev.zenith.protocol.replication.ReplicationCommandParser}.
 */
@Tag("pg")
class ServerHandshakeClientsTest {
    static PgInstallation pg;
    static Path scratch;
    static TestReplicationServer server;

    @BeforeAll
    static void start() throws IOException {
        pg = PgInstallation.detect();
        scratch = Files.createTempDirectory(Path.of("/tmp"), "zenith-proto-");
        Files.setPosixFilePermissions(scratch, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        pg.handOver(scratch);
        server = new TestReplicationServer(Map.of("zen", ScramVerifier.generate("zen-secret")));
    }

    @AfterAll
    static void stop() throws IOException {
        server.close();
        PgCluster.deleteTree(scratch);
    }

    record Run(int exit, String output) {
    }

    static Run run(String binary, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(pg.command(binary, args)).redirectErrorStream(true);
        pb.environment().put("PGCONNECT_TIMEOUT", "60");
        Process p = pb.start();
        java.util.concurrent.CompletableFuture<byte[]> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return p.getInputStream().readAllBytes();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            fail("hung, killed: " + binary + " " + String.join(" ", args));
        }
        return new Run(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8));
    }

    static String conn(String password, String extra) {
        return "host=127.0.0.1 port=" + server.port() + " user=zen password=" + password + " " + extra;
    }

    List<ReplicationCommand> commandsSince(int from) {
        assertTrue(server.failures.isEmpty(), () -> "server thread failed: " + server.failures);
        return server.received.subList(from, server.received.size()).stream()
                .peek(r -> assertNull(r.error(), () -> "parse error for " + r.query() + ": " + r.error()))
                .map(TestReplicationServer.Received::command).toList();
    }

    @Test
    void psqlAuthenticatesWithScramAndRunsAQuery() throws Exception {
        int before = server.received.size();
        Run ok = run("psql", "-X", "-At", "-d", conn("zen-secret", "dbname=postgres"), "-c", "SELECT 'hi'");
        assertEquals(0, ok.exit(), ok.output());
        assertEquals("hello from zenith", ok.output().trim());
        assertEquals(List.of(new Sql("SELECT 'hi'")), commandsSince(before));
        assertTrue(server.events.stream().anyMatch(e -> e instanceof ServerEvent.EncryptionDeclined d
                && d.what().equals("SSL")), "libpq's default sslmode=prefer asks for SSL first");
        assertTrue(server.events.contains(new ServerEvent.Ready("zen", "postgres", ServerHandshake.ReplicationMode.NONE)));

        Run bad = run("psql", "-X", "-At", "-d", conn("wrong", "dbname=postgres sslmode=disable"), "-c", "SELECT 1");
        assertNotEquals(0, bad.exit());
        assertTrue(bad.output().contains("password authentication failed for user \"zen\""), bad.output());

        Run unknown = run("psql", "-X", "-At", "-d", "host=127.0.0.1 port=" + server.port()
                + " user=nobody password=x sslmode=disable", "-c", "SELECT 1");
        assertNotEquals(0, unknown.exit());
        assertTrue(unknown.output().contains("password authentication failed for user \"nobody\""), unknown.output());
    }

    @Test
    void pgReceivewalCreatesASlotAndStartsReplication() throws Exception {
        int before = server.received.size();
        Run create = run("pg_receivewal", "-d", conn("zen-secret", ""), "--slot=zslot", "--create-slot");
        assertEquals(0, create.exit(), create.output());
        assertTrue(commandsSince(before).contains(
                new CreateReplicationSlot("zslot", false, false, null, false, null, false)), server.received.toString());
        // what PostgreSQL 15's pg_receivewal really sends: quoted name, no RESERVE_WAL
        assertTrue(server.received.stream().anyMatch(r -> r.query().equals("CREATE_REPLICATION_SLOT \"zslot\" PHYSICAL")));
        assertTrue(server.events.stream().anyMatch(e -> e instanceof ServerEvent.Ready r
                && r.mode() == ServerHandshake.ReplicationMode.PHYSICAL));

        Path dir = scratch.resolve("receivewal");
        Files.createDirectories(dir);
        pg.handOver(dir);
        int before2 = server.received.size();
        Run stream = run("pg_receivewal", "-d", conn("zen-secret", ""), "--slot=zslot", "-D", dir.toString(),
                "--no-loop", "-n");
        assertNotEquals(0, stream.exit(), "our harness refuses START_REPLICATION: " + stream.output());
        assertTrue(stream.output().contains("test harness does not implement START_REPLICATION"), stream.output());
        List<ReplicationCommand> cmds = commandsSince(before2);
        assertTrue(cmds.contains(new IdentifySystem()), cmds.toString());
        assertTrue(cmds.contains(new ReadReplicationSlot("zslot")), cmds.toString());
        assertEquals(new StartReplication("zslot", false, Lsn.parse("0/3000000"), 1, Map.of()), cmds.get(cmds.size() - 1));
    }

    /** Our session streams a real segment to pg_receivewal, which writes it out byte for byte. */
    @Test
    void pgReceivewalReceivesARealSegmentFromOurSession() throws Exception {
        byte[] segment;
        try (PgCluster src = PgCluster.initdb()) {
            src.start();
            src.psql("CREATE TABLE t AS SELECT generate_series(1, 20000) AS x");
            src.psql("SELECT pg_switch_wal()");
            segment = Files.readAllBytes(src.walDir().resolve("000000010000000000000001"));
        }
        assertEquals(16 * 1024 * 1024, segment.length);
        server.serveWal(Lsn.parse("0/1000000"), segment);
        Path dir = scratch.resolve("receivewal-full");
        Files.createDirectories(dir);
        pg.handOver(dir);
        int events = server.sessionEvents.size();
        Run r;
        try {
            r = run("pg_receivewal", "-d", conn("zen-secret", ""), "--slot=zslot", "-D", dir.toString(),
                    "-E", "0/1FFFFFF", "--no-loop", "-n");
        } finally {
            server.serveWal(null, null);
        }
        assertEquals(0, r.exit(), r.output());
        byte[] written = Files.readAllBytes(dir.resolve("000000010000000000000001"));
        assertEquals(-1, java.util.Arrays.mismatch(segment, written), "pg_receivewal wrote different bytes");
        List<SessionEvent> seen = server.sessionEvents.subList(events, server.sessionEvents.size());
        assertTrue(seen.stream().anyMatch(e -> e instanceof SessionEvent.StandbyStatus), seen.toString());
        assertTrue(seen.contains(new SessionEvent.StreamingEnded(true)), seen.toString());
    }

    @Test
    void pgBasebackupSendsBaseBackupWeParse() throws Exception {
        Path dir = scratch.resolve("bb1");
        int before = server.received.size();
        Run r = run("pg_basebackup", "-d", conn("zen-secret", ""), "-D", dir.toString(), "-X", "fetch", "-c", "fast",
                "-P", "--max-rate=100k", "-l", "my label", "--manifest-checksums=SHA256");
        assertNotEquals(0, r.exit());
        assertTrue(r.output().contains("test harness does not implement BASE_BACKUP"), r.output());
        List<ReplicationCommand> cmds = commandsSince(before);
        assertTrue(cmds.contains(new Show("wal_segment_size")), cmds.toString());
        BaseBackupOptions o = ((BaseBackup) cmds.get(cmds.size() - 1)).options();
        assertEquals("my label", o.label());
        assertTrue(o.progress());
        assertEquals(Checkpoint.FAST, o.checkpoint());
        assertTrue(o.includeWal());
        assertEquals(100, o.maxRate());
        assertEquals(Manifest.YES, o.manifest());
        assertEquals("SHA256", o.manifestChecksums());

        int before2 = server.received.size();
        Run plain = run("pg_basebackup", "-d", conn("zen-secret", ""), "-D", scratch.resolve("bb2").toString(),
                "-X", "none", "--no-manifest", "-Ft", "-z");
        assertNotEquals(0, plain.exit());
        List<ReplicationCommand> cmds2 = commandsSince(before2);
        BaseBackupOptions p = ((BaseBackup) cmds2.get(cmds2.size() - 1)).options();
        assertEquals("pg_basebackup base backup", p.label());
        assertTrue(p.progress(), "PG 15's pg_basebackup asks for progress (size estimates) even without -P");
        assertTrue(p.tablespaceMap(), "tar format asks for tablespace_map");
        assertFalse(p.includeWal());
        assertEquals(Checkpoint.SPREAD, p.checkpoint());
        assertEquals(Manifest.NO, p.manifest());
    }
}
