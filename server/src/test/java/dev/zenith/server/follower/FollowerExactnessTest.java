package dev.zenith.server.follower;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * While pgbench writes, latest reads of pgbench's tables and index (the page source the page service answers from)
 * are answered by the timeline's follower where its file holds the block's version; each such page equals the page
 * a read at exactly that change's LSN gets afterwards (a stored version or a redo run: never the follower, which
 * only latest reads ask). Counts of follower answers and of the reads that ran redo instead are printed.
 */
@Tag("pg")
@Tag("slow")
class FollowerExactnessTest {
    private static final int COMPARED = 60;

    /** One page a follower answered. */
    private record Served(TimelineId timeline, BlockRef block, Lsn change, byte[] page) {
    }

    @Test
    void everyPageAFollowerAnswersUnderPgbenchIsTheVersionAtItsChange() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("replication_password", "follower-secret");
            d.startInProcess();
            JsonObject pg = d.createPg("main");
            int port = pg.getInteger("port");
            d.pgbench(port, "-i", "-s", "2", "-q");
            int db = Integer.parseInt(d.psql(port, "SELECT oid FROM pg_database WHERE datname = 'postgres'").trim());
            List<RelTag> rels = new ArrayList<>();
            for (String rel : List.of("pgbench_accounts", "pgbench_accounts_pkey", "pgbench_tellers", "pgbench_branches")) {
                rels.add(RelTag.of(1663, db, Integer.parseInt(d.psql(port, "SELECT pg_relation_filenode('" + rel + "')").trim()),
                        ForkNumber.MAIN));
            }
            int[] blocks = {blocks(d, port, "pgbench_accounts"), blocks(d, port, "pgbench_accounts_pkey"), 1, 1};
            TimelineId timeline = TimelineId.parse(pg.getString("timeline_id"));
            Store store = d.inProcessDaemon().storages().get("local").store();
            PageSource source = d.inProcessDaemon().computes().pageSource(store);
            Followers followers = d.inProcessDaemon().computes().followers();
            List<Served> served = java.util.Collections.synchronizedList(new ArrayList<>());
            followers.onServed((t, b, change, page) -> {
                if (served.size() < 20_000) {
                    served.add(new Served(t, b, change, page.clone()));
                }
            });

            CompletableFuture<String> writer = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.pgbench(port, "-n", "-c", "2", "-T", "45");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Random random = new Random(42);
            long reads = 0;
            while (!writer.isDone()) {
                Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow();
                List<CompletableFuture<byte[]>> batch = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    int r = random.nextInt(10) < 7 ? 0 : 1 + random.nextInt(3);
                    int block = random.nextInt(blocks[r]);
                    batch.add(source.pageLater(timeline, rels.get(r), block, end, Lsn.of(-1L)));
                }
                for (CompletableFuture<byte[]> f : batch) {
                    f.get(3, TimeUnit.MINUTES);
                }
                reads += batch.size();
            }
            writer.get(3, TimeUnit.MINUTES);
            Followers.Stats stats = followers.stats();
            System.out.println(reads + " latest reads under pgbench; followers: " + stats);
            assertTrue(stats.started() >= 1, "no follower started: " + stats);
            assertTrue(stats.answered() > 0, "no latest read was answered by the follower: " + stats);

            // every page the follower answered (a sample of them, spread over the run) against a read at its change
            List<Served> all;
            synchronized (served) {
                all = new ArrayList<>(served);
            }
            int step = Math.max(1, all.size() / COMPARED);
            int compared = 0;
            List<String> differences = new ArrayList<>();
            for (int i = 0; i < all.size(); i += step) {
                Served s = all.get(i);
                byte[] atChange = source.pageLater(s.timeline(), s.block().rel(), s.block().block(), s.change(), s.change())
                        .get(3, TimeUnit.MINUTES);
                compared++;
                if (!Arrays.equals(atChange, s.page())) {
                    differences.add(s.block() + " at " + s.change() + ": first differing byte "
                            + Arrays.mismatch(atChange, s.page()));
                }
            }
            System.out.println(compared + " of " + all.size() + " follower answers compared with reads at their change");
            assertEquals(List.of(), differences, "follower pages differing from the version at their change");
        }
    }

    private static int blocks(DaemonFixture d, int port, String rel) throws Exception {
        return Integer.parseInt(d.psql(port, "SELECT pg_relation_size('" + rel + "') / 8192").trim());
    }
}
