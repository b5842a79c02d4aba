package dev.zenith.server.ingest;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.PgbenchLedger;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A storage whose disk fills up (a small tmpfs): commits wait, and the log, the storage and the pg's
 * receiver say why ("no space left on device", state {@code stalled}); once there is room again it all
 * goes on by itself, and every commit pgbench saw acknowledged is in the store.
 */
@Tag("pg")
class DiskFullTest {
    private Path mount;
    private DaemonFixture d;

    @AfterEach
    void cleanUp() throws Exception {
        if (d != null) {
            d.close();
        }
        if (mount != null) {
            new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(1, TimeUnit.MINUTES);
            Files.deleteIfExists(mount);
        }
    }

    /** A tmpfs of {@code megabytes}, or the test is skipped saying why (mounting needs privileges). */
    private Path smallDisk(int megabytes) throws Exception {
        Path dir = DaemonFixture.reachableTempDir("zenith-full-");
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + megabytes + "m,mode=0755", "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            Files.deleteIfExists(dir);
            Assumptions.assumeTrue(false, "skipped: mounting a tmpfs is not permitted here (" + out.trim() + ")");
        }
        mount = dir;
        return dir;
    }

    @Test
    void aFullDiskStallsCommitsVisiblyAndTheyResumeWhenThereIsRoom() throws Exception {
        Path disk = smallDisk(512);
        d = new DaemonFixture().startProcess();
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "disk").put("type", "native")
                .put("path", disk.resolve("store").toString()).encode());
        JsonObject pg = (JsonObject) d.ok(201, "PUT", "/pgs", new JsonObject().put("name", "main")
                .put("storage_name", "disk").encode());
        int port = pg.getInteger("port");
        d.psql(port, PgbenchLedger.SETUP + "; CREATE TABLE pad (v text)");
        // Leave the storage about 24 MB of room; deleting the filler gives it hundreds, so it cannot fill up again.
        Path filler = disk.resolve("filler");
        long free = Files.getFileStore(disk).getUsableSpace();
        try (RandomAccessFile f = new RandomAccessFile(filler.toFile(), "rw")) {
            byte[] block = new byte[1 << 20];
            for (long left = free - (24L << 20); left > 0; left -= block.length) {
                f.write(block, 0, (int) Math.min(block.length, left));
            }
        }

        PgbenchLedger bench = new PgbenchLedger(d, d.home.resolve("bench"));
        bench.start(port, 4, 40);
        // WAL faster than the ledger writes it: about 60 MB, more than the room left
        Process bulk = d.withCredentials(new ProcessBuilder(d.pg.bin("psql").toString(), "-X", "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "postgres", "-d", "postgres", "-c",
                "INSERT INTO pad SELECT repeat(md5(g::text), 30) FROM generate_series(1, 60000) g"), port)
                .redirectErrorStream(true).start();

        JsonObject storage = d.awaitJson("/storages/disk", j -> "stalled".equals(j.getString("status")));
        assertTrue(storage.getString("reason").startsWith("no space left on device"), storage.encode());
        JsonObject stalled = d.pg("main");
        assertEquals("running", stalled.getString("status"));
        JsonObject receiver = stalled.getJsonObject("wal_receiver");
        assertEquals("stalled", receiver.getString("state"), stalled.encode());
        assertTrue(receiver.getString("reason").startsWith("no space left on device"), receiver.encode());
        // the status shows the store's stall as soon as a write fails; the receiver logs it when that failure reaches it
        long logDeadline = System.nanoTime() + 30_000_000_000L;
        while (!d.log().contains("stalled: the storage cannot be written (no space left on device") && System.nanoTime() < logDeadline) {
            Thread.sleep(100);
        }
        assertTrue(d.log().contains("stalled: the storage cannot be written (no space left on device"), "the log says it");

        Files.delete(filler);
        d.awaitJson("/storages/disk", j -> "available".equals(j.getString("status")));
        d.awaitJson("/pgs/main", j -> "streaming".equals(j.getJsonObject("wal_receiver").getString("state")));
        try {
            bench.await();
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; the daemon's log ends with:\n" + String.join("\n",
                    d.log().lines().toList().subList(Math.max(0, (int) d.log().lines().count() - 60), (int) d.log().lines().count())), e);
        }
        assertTrue(bulk.waitFor(5, TimeUnit.MINUTES), "the bulk insert finishes once there is room");
        assertEquals(0, bulk.exitValue(), new String(bulk.getInputStream().readAllBytes()));
        assertTrue(d.log().contains("the storage can be written again"), "and the log says it went on");
        System.out.println("the daemon's log about the stall:\n" + String.join("\n", d.log().lines()
                .filter(l -> l.contains("stall") || l.contains("space") || l.contains("written again")).limit(20).toList()));

        // Everything acknowledged is in the store: a rebuild from it has every row pgbench saw committed.
        d.action("main", "stop");
        PgCluster.deleteTree(Path.of(pg.getString("pgdata")));
        d.action("main", "start");
        bench.assertAcknowledgedStored(d.psql(port, PgbenchLedger.COUNTS));
        assertEquals("60000", d.psql(port, "SELECT count(*) FROM pad"));
    }
}
