package dev.zenith.protocol.replication;

import dev.zenith.protocol.ClientDriver;
import dev.zenith.protocol.PgTimelines;
import dev.zenith.protocol.replication.ReplicationEvent.*;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** {@link PhysicalReplicationClient} against a real PostgreSQL 15 primary. */
@Tag("pg")
class PhysicalReplicationClientPgTest {
    static final long SEGMENT = 16L * 1024 * 1024;

    static String segmentFileName(int timeline, long lsn) {
        long segNo = lsn / SEGMENT;
        return String.format("%08X%08X%08X", timeline, segNo / (0x100000000L / SEGMENT), segNo % (0x100000000L / SEGMENT));
    }

    @Test
    void streamedWalIsByteIdenticalToTheSegmentFileWhilePgbenchWrites() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().configure(Map.of("wal_keep_size", "256MB")).start();
            Lsn now = Lsn.parse(pg.psql("SELECT pg_current_wal_lsn()"));
            Lsn segStart = Lsn.of(now.value() - now.value() % SEGMENT);
            PhysicalReplicationClient client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_wal_test", "zenith_slot", segStart, 0));
            // Small reads: messages arrive split at arbitrary points.
            try (ClientDriver d = new ClientDriver(pg.port(), client, 1000)) {
                SystemIdentified sys = (SystemIdentified) d.until(e -> e instanceof SystemIdentified);
                assertEquals(1, sys.timeline());
                assertEquals(pg.psql("SELECT system_identifier FROM pg_control_system()"), sys.systemId());
                SlotReady slot = (SlotReady) d.until(e -> e instanceof SlotReady);
                assertTrue(slot.created());
                d.until(e -> e instanceof StreamingStarted);

                CompletableFuture<String> bench = CompletableFuture.supplyAsync(() -> {
                    try {
                        pg.pgbench("-i", "-s", "1", "-q");
                        pg.pgbench("-c", "2", "-t", "300", "-n");
                        return pg.psql("SELECT pg_switch_wal()");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                Lsn expected = segStart;
                Lsn segEnd = segStart.plus(SEGMENT);
                int walMessages = 0;
                while (expected.isBefore(segEnd)) {
                    ReplicationEvent e = d.until(x -> x instanceof WalData || x instanceof ServerError
                            || x instanceof ProtocolError);
                    assertInstanceOf(WalData.class, e, () -> "stream failed: " + e);
                    WalData w = (WalData) e;
                    assertEquals(expected, w.startLsn(), "WAL must arrive contiguously");
                    byte[] b = new byte[w.data().remaining()];
                    w.data().get(b);
                    int take = (int) Math.min(b.length, segEnd.minus(expected));
                    got.write(b, 0, take);
                    expected = w.endLsn();
                    walMessages++;
                }
                bench.get();
                byte[] file = Files.readAllBytes(pg.walDir().resolve(segmentFileName(1, segStart.value())));
                assertEquals(SEGMENT, file.length);
                byte[] streamed = got.toByteArray();
                assertEquals(SEGMENT, streamed.length);
                assertTrue(walMessages > 1);
                assertEquals(-1, Arrays.mismatch(file, streamed),
                        "first differing byte at offset " + Arrays.mismatch(file, streamed));
                // the slot exists and a second client finds it already there (SQLSTATE 42710 tolerated)
                assertEquals("zenith_slot|physical", pg.psql("SELECT slot_name, slot_type FROM pg_replication_slots"));
            }
            PhysicalReplicationClient again = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_wal_test2", "zenith_slot", null, 0));
            try (ClientDriver d = new ClientDriver(pg.port(), again, 1)) {
                SlotReady slot = (SlotReady) d.until(e -> e instanceof SlotReady);
                assertFalse(slot.created());
                d.until(e -> e instanceof StreamingStarted);
                d.write(again.stopStreaming());
                EndOfStreaming end = (EndOfStreaming) d.until(e -> e instanceof EndOfStreaming);
                assertNull(end.nextTimeline());
                assertEquals(PhysicalReplicationClient.State.DONE, again.state());
            }
        }
    }

    @Test
    void synchronousCommitWaitsForOurFlushAcknowledgement() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().configure(Map.of("synchronous_standby_names", "zenith_test")).start();
            pg.psql("BEGIN; SET LOCAL synchronous_commit = local; CREATE TABLE t(x int); COMMIT;");
            PhysicalReplicationClient client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_test", null, null, 0));
            try (ClientDriver d = new ClientDriver(pg.port(), client, 8192)) {
                StreamingStarted started = becomeSyncStandby(pg, client, d);

                CompletableFuture<String> commit = CompletableFuture.supplyAsync(() -> {
                    try {
                        return pg.psql("INSERT INTO t VALUES (42) RETURNING x");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                // the committing backend must reach the SyncRep wait, and must not return before our ack
                for (int i = 0; !"1".equals(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"));
                     i++) {
                    assertFalse(commit.isDone(), "commit returned without our flush acknowledgement");
                    assertTrue(i < 2400, "the commit never reached the SyncRep wait");
                    Thread.sleep(50);
                }
                Lsn commitFlushed = Lsn.parse(pg.psql("SELECT pg_current_wal_flush_lsn()"));
                WalData last = (WalData) d.until(e -> e instanceof WalData w && !w.endLsn().isBefore(commitFlushed));
                assertFalse(commit.isDone(), "commit returned before we acknowledged its flush");
                // write (but not flush) acknowledgement is not enough for synchronous_commit = on
                d.write(client.standbyStatusUpdate(last.endLsn(), started.startLsn(), started.startLsn(), false));
                waitFor(pg, "SELECT write_lsn = '" + last.endLsn() + "' FROM pg_stat_replication", "t");
                assertFalse(commit.isDone(), "commit returned on a write-only acknowledgement");
                assertEquals("1", pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"));

                d.write(client.standbyStatusUpdate(last.endLsn(), last.endLsn(), last.endLsn(), false));
                assertEquals("42", commit.get().lines().findFirst().orElseThrow());
                assertEquals("sync|" + last.endLsn(), pg.psql(
                        "SELECT sync_state, flush_lsn FROM pg_stat_replication WHERE application_name = 'zenith_test'"));

                // replyRequested in our status update makes the walsender answer with a keepalive at once
                d.write(client.standbyStatusUpdate(last.endLsn(), last.endLsn(), last.endLsn(), true));
                d.until(e -> e instanceof Keepalive);

                // hot standby feedback: the walsender adopts our xmin (shown as backend_xmin)
                long xmin = Long.parseLong(pg.psql("SELECT txid_snapshot_xmin(txid_current_snapshot())"));
                d.write(dev.zenith.protocol.wire.FrontendEncoder.encode(new dev.zenith.protocol.wire.FrontendMessage.CopyData(
                        ReplicationCodec.encode(new ReplicationMessage.HotStandbyFeedback(PgTime.now(), (int) xmin,
                                (int) (xmin >>> 32), 0, 0)))));
                waitFor(pg, "SELECT backend_xmin FROM pg_stat_replication WHERE application_name = 'zenith_test'",
                        Long.toString(xmin & 0xFFFFFFFFL));
                d.write(client.terminate());
            }
        }
    }

    @Test
    void aServerShutdownEndsTheStreamCleanlyOnceEverythingIsFlushed() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().configure(Map.of("synchronous_standby_names", "zenith_test")).start();
            PhysicalReplicationClient client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_test", null, null, 0));
            try (ClientDriver d = new ClientDriver(pg.port(), client, 8192)) {
                StreamingStarted started = becomeSyncStandby(pg, client, d);
                // the fast shutdown waits for us to flush its shutdown checkpoint, then ends COPY
                CompletableFuture<Void> stop = CompletableFuture.runAsync(() -> {
                    try {
                        pg.stop();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                Lsn flushed = started.startLsn();
                while (true) {
                    ReplicationEvent e = d.until(x -> x instanceof WalData || x instanceof Keepalive
                            || x instanceof EndOfStreaming || x instanceof ServerError || x instanceof ProtocolError);
                    // the client may have decoded the stream's end behind this event already (one read
                    // holds both): once it is no longer streaming there is no one to report to
                    boolean streaming = client.state() == PhysicalReplicationClient.State.STREAMING;
                    if (e instanceof WalData w) {
                        flushed = w.endLsn();
                        if (streaming) {
                            d.write(client.standbyStatusUpdate(flushed, flushed, flushed, false));
                        }
                    } else if (e instanceof Keepalive k) {
                        if (k.replyRequested() && streaming) {
                            d.write(client.standbyStatusUpdate(flushed, flushed, flushed, false));
                        }
                    } else {
                        assertInstanceOf(EndOfStreaming.class, e, () -> "the shutdown should end the stream: " + e);
                        break;
                    }
                }
                assertEquals(PhysicalReplicationClient.State.DONE, client.state());
                stop.get();
                String control = pg.exec("pg_controldata", pg.dataDir().toString());
                Lsn checkpoint = Lsn.parse(control.lines().filter(l -> l.startsWith("Latest checkpoint location:"))
                        .findFirst().orElseThrow().replaceAll(".*:\\s*", ""));
                assertTrue(flushed.isAfter(checkpoint), "we received the shutdown checkpoint " + checkpoint
                        + " before the stream ended (flushed " + flushed + ")");
            }
        }
    }

    @Test
    void streamingAHistoricTimelineEndsWithTheNextTimeline() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().start();
            pg.psql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS x");
            Lsn before = Lsn.parse(pg.psql("SELECT pg_current_wal_lsn()"));
            Lsn start = Lsn.of(before.value() - before.value() % SEGMENT);
            // restart as a standby of nothing, then promote: timeline 2 begins
            Lsn switchPoint = PgTimelines.promoteToTimeline2(pg);
            PhysicalReplicationClient client = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_tli", null, start, 1));
            try (ClientDriver d = new ClientDriver(pg.port(), client, 4096)) {
                SystemIdentified sys = (SystemIdentified) d.until(e -> e instanceof SystemIdentified);
                assertEquals(2, sys.timeline());
                d.until(e -> e instanceof StreamingStarted);
                Lsn expected = start;
                while (true) {
                    ReplicationEvent e = d.until(x -> x instanceof WalData || x instanceof EndOfStreaming
                            || x instanceof ServerError || x instanceof ProtocolError);
                    if (e instanceof EndOfStreaming end) {
                        assertEquals(2, end.nextTimeline());
                        assertEquals(switchPoint, end.nextTimelineStart());
                        break;
                    }
                    WalData w = assertInstanceOf(WalData.class, e, () -> "stream failed: " + e);
                    assertEquals(expected, w.startLsn());
                    expected = w.endLsn();
                }
                assertEquals(switchPoint, expected, "timeline 1 is streamed exactly up to the switch point");
                assertEquals(PhysicalReplicationClient.State.DONE, client.state());
            }
        }
    }

    @Test
    void serverErrorsAndProtocolViolationsBecomeTypedEvents() throws Exception {
        try (PgCluster pg = PgCluster.initdb()) {
            pg.allowReplication().start();
            PhysicalReplicationClient ahead = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_err", null, Lsn.parse("FF/0"), 0));
            try (ClientDriver d = new ClientDriver(pg.port(), ahead, 3)) {
                ServerError e = (ServerError) d.until(x -> x instanceof ServerError);
                assertEquals("ERROR", e.fields().severity());
                assertTrue(e.fields().message().contains("ahead of the WAL flush position"), e.toString());
                assertEquals(PhysicalReplicationClient.State.FAILED, ahead.state());
            }
            PhysicalReplicationClient badTli = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "postgres", null, "zenith_err", null, null, 7));
            try (ClientDriver d = new ClientDriver(pg.port(), badTli, 4096)) {
                ServerError e = (ServerError) d.until(x -> x instanceof ServerError);
                assertTrue(e.fields().message().contains("timeline 7"), e.toString());
            }
            // a role that does not exist: FATAL from the server during authentication
            PhysicalReplicationClient nobody = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                    "nobody", null, "zenith_err", null, null, 0));
            try (ClientDriver d = new ClientDriver(pg.port(), nobody, 4096)) {
                ServerError e = (ServerError) d.until(x -> x instanceof ServerError);
                assertEquals("FATAL", e.fields().severity());
                assertEquals("28000", e.fields().code());
            }
        }
    }

    /** Waits for streaming, then acknowledges its start: a valid flush position makes us the sync standby. */
    private static StreamingStarted becomeSyncStandby(PgCluster pg, PhysicalReplicationClient client, ClientDriver d)
            throws Exception {
        StreamingStarted started = (StreamingStarted) d.until(e -> e instanceof StreamingStarted);
        d.write(client.standbyStatusUpdate(started.startLsn(), started.startLsn(), started.startLsn(), false));
        waitFor(pg, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'zenith_test'", "sync");
        return started;
    }

    static void waitFor(PgCluster pg, String sql, String expected) throws Exception {
        for (int i = 0; i < 1200; i++) {
            if (expected.equals(pg.psql(sql))) {
                return;
            }
            Thread.sleep(50);
        }
        fail("never saw '" + expected + "' from: " + sql + " (last: " + pg.psql(sql) + ")");
    }
}
