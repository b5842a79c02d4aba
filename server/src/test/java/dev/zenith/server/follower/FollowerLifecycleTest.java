package dev.zenith.server.follower;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A follower's life while pgbench writes: started by latest reads, stopped and removed once none asks for
 * {@code idle_seconds}, started again by the next; killed -9, dropped and removed (reads go on, by redo), and another
 * started after the retry pause; stopped and removed with the daemon.
 */
@Tag("pg")
@Tag("slow")
class FollowerLifecycleTest {
    private static final long MINUTES = 3;

    @Test
    void startedByLatestReadsStoppedWhenIdleDroppedWhenKilledAndStoppedWithTheDaemon() throws Exception {
        System.setProperty("zenith.followerRetrySeconds", "2");
        try (DaemonFixture d = new DaemonFixture()) {
            d.followerSettings.put("idle_seconds", 3);
            d.startInProcess();
            Path followersDir = d.home.resolve("redo").resolve("followers");
            JsonObject pg = d.createPg("main");
            int port = pg.getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
            RelTag accounts = RelTag.of(1663, db, Integer.parseInt(d.psql(port,
                    "SELECT pg_relation_filenode('pgbench_accounts')").trim()), ForkNumber.MAIN);
            int blocks = Integer.parseInt(d.psql(port, "SELECT pg_relation_size('pgbench_accounts') / 8192").trim());
            TimelineId timeline = TimelineId.parse(pg.getString("timeline_id"));
            Store store = d.inProcessDaemon().storages().get("local").store();
            PageSource source = d.inProcessDaemon().computes().pageSource(store);
            Followers followers = d.inProcessDaemon().computes().followers();
            CompletableFuture<String> writer = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.pgbench(port, "-n", "-c", "2", "-T", "600");
                } catch (IOException e) {
                    return e.getMessage(); // ended by the compute's stop at the end
                }
            });
            Random random = new Random(7);
            BooleanSupplier read = () -> {
                try {
                    Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow();
                    source.pageLater(timeline, accounts, random.nextInt(blocks), end, Lsn.of(-1L)).get(3, TimeUnit.MINUTES);
                    return true;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            };

            readUntil(read, () -> followers.running() == 1 && followers.stats().answered() > 0, "a first follower answers");
            Path first = onlyFollower(followersDir);
            long firstPid = DaemonFixture.postmasterPid(first.resolve("data"));

            awaitTrue(() -> followers.running() == 0 && !Files.exists(first) && !alive(firstPid),
                    "the idle follower stopped and removed");

            readUntil(read, () -> followers.running() == 1, "a second follower runs");
            Path second = onlyFollower(followersDir);
            assertFalse(second.equals(first));
            long secondPid = DaemonFixture.postmasterPid(second.resolve("data"));
            long answered = followers.stats().answered();
            ProcessHandle.of(secondPid).ifPresent(ProcessHandle::destroyForcibly);
            readUntil(read, () -> followers.running() == 0 && !Files.exists(second), "the killed follower dropped");

            readUntil(read, () -> followers.running() == 1 && followers.stats().answered() > answered,
                    "a third follower answers after the retry pause");
            Path third = onlyFollower(followersDir);
            long lastPid = DaemonFixture.postmasterPid(third.resolve("data"));
            // at least one per phase: a follower no read asked for while a slow redo run answered one may be idle too
            assertTrue(followers.stats().started() >= 3, followers.stats().toString());
            System.out.println("followers: " + followers.stats());
            writer.cancel(false);

            d.inProcessShutdownKeepingHome();
            assertFalse(alive(lastPid), "the daemon's stop stops its follower");
            try (Stream<Path> s = Files.list(followersDir)) {
                assertEquals(List.of(), s.toList(), "the daemon's stop removes its followers' directories");
            }
        } finally {
            System.clearProperty("zenith.followerRetrySeconds");
        }
    }

    private static Path onlyFollower(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> all = s.toList();
            assertEquals(1, all.size(), all.toString());
            return all.get(0);
        }
    }

    private static boolean alive(long pid) {
        return dev.zenith.pgexec.Processes.isRunning(pid); // an exited postmaster init has not reaped yet is not running
    }

    private static void readUntil(BooleanSupplier read, BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(MINUTES);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within " + MINUTES + " minutes: " + what);
            read.getAsBoolean();
        }
    }

    private static void awaitTrue(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(MINUTES);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within " + MINUTES + " minutes: " + what);
            Thread.sleep(200);
        }
    }
}
