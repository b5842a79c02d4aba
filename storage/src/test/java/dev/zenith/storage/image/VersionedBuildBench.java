package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Measures building a data directory from page versions ({@link VersionedDirectory}): FORKS forks of BLOCKS
 * blocks, VERSIONS versions each. Not part of the suite:
 * {@code mvn -o -pl storage -am verify -DskipITs -Dzenith.bench=true -Dzenith.bench.versions=40 -Dtest=VersionedBuildBench
 * -Dsurefire.failIfNoSpecifiedTests=false}. Prints its numbers.
 */
@org.junit.jupiter.api.Tag("slow")
class VersionedBuildBench {
    @TempDir
    Path tmp;

    @Test
    void build() throws Exception {
        assumeTrue("true".equals(System.getProperty("zenith.bench")), "set -Dzenith.bench=true to run");
        int forks = Integer.getInteger("zenith.bench.forks", 20);
        int blocks = Integer.getInteger("zenith.bench.blocks", 1000);
        int versions = Integer.getInteger("zenith.bench.versions", 10);
        try (Store store = Store.open(tmp.resolve("store"))) {
            TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
            Random random = new Random(1);
            List<RelationSize> sizes = new ArrayList<>();
            for (int f = 0; f < forks; f++) {
                RelTag rel = RelTag.of(1663, 5, 16384 + f, ForkNumber.MAIN);
                sizes.add(new RelationSize(rel, blocks));
                for (int v = 1; v <= versions; v++) {
                    List<PageWrite> writes = new ArrayList<>();
                    for (int b = 0; b < blocks; b++) {
                        writes.add(new PageWrite(tl, rel, b, Lsn.of(0x1000000L * v), page(random, v)));
                    }
                    store.pages().putAll(writes);
                }
            }
            ImageManifest small = new ImageManifest(tl, Lsn.of(1), Lsn.of(1), Instant.now(), 0, "00",
                    List.of(), List.of(), List.of("base", "base/5"));
            VersionedDirectory d = new VersionedDirectory(small, new byte[8192], Map.of(), small.directories(), List.of(), sizes, List.of(),
                    Lsn.of(0x1000000L * versions));
            for (int run = 0; run < 3; run++) {
                MaterializeStats m = store.images().materialize(tl, d, tmp.resolve("d" + run), b -> { });
                System.out.printf("build %d: %d forks x %d blocks x %d versions: %.1f MB in %d ms = %.1f MB/s%n", run,
                        forks, blocks, versions, m.bytesWritten() / 1e6, m.duration().toMillis(),
                        m.bytesWritten() / 1e3 / Math.max(1, m.duration().toMillis()));
            }
        }
    }

    /** A page that passes the header checks: half text-like (compressible), half random. */
    private static byte[] page(Random random, int v) {
        byte[] p = new byte[8192];
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, 0x1000000L * v);
        b.putShort(12, (short) 24);
        b.putShort(14, (short) 4096);
        b.putShort(16, (short) 8192);
        b.putShort(18, (short) (8192 | 4));
        for (int i = 4096; i < 6144; i++) {
            p[i] = (byte) random.nextInt();
        }
        java.util.Arrays.fill(p, 6144, 8192, (byte) ' ');
        return p;
    }
}
