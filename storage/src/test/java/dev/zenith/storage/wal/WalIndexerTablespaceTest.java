package dev.zenith.storage.wal;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rewrite.InPlaceTablespaces;
import dev.zenith.wal.rewrite.WalPatch;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.testing.Decoding;
import dev.zenith.wal.testing.WalCrafter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * WAL goes into the store with outside tablespace creations made in place, however the stream is cut
 * into messages: no drained append ever ends inside such a record, so no part of it is journaled,
 * stored or served as received.
 */
class WalIndexerTablespaceTest {
    private static final long SEG1 = WalGeometry.WAL_SEGMENT_SIZE;

    @TempDir
    Path tmp;

    @Test
    void tablespaceCreationsAreStoredInPlaceWhateverTheMessageBoundaries() {
        WalCrafter crafter = new WalCrafter(Lsn.of(SEG1), 1, 0x1234_5678_9ABCL);
        WalCrafter.Crafted first = crafter.noop(10);
        crafter.fillUntil(SEG1 + 8192 + 8184); // the header split across pages
        crafter.tablespaceCreate(16384, "/srv/a");
        crafter.fillUntil(SEG1 + 4 * 8192 - 200); // the location split across pages
        crafter.tablespaceCreate(16385, "/srv/" + "y".repeat(800));
        crafter.fillUntil(2 * SEG1 - 16); // the whole split across segments
        crafter.tablespaceCreate(16386, "/srv/" + "z".repeat(800));
        crafter.noop(1);
        byte[] wal = Arrays.copyOf(crafter.segments(), (int) crafter.end().minus(Lsn.of(SEG1)));

        byte[] expected = wal.clone();
        List<long[]> creations = new ArrayList<>();
        for (DecodedRecord r : Decoding.decode(Lsn.of(SEG1), wal, wal.length).records()) {
            List<WalPatch> patches = InPlaceTablespaces.patches(r);
            patches.forEach(p -> p.applyTo(expected, 0, expected.length, Lsn.of(SEG1)));
            if (!patches.isEmpty()) {
                creations.add(new long[] {r.startLsn().value(), r.endLsn().value()});
            }
        }

        int firstEnd = (int) (first.start().value() + first.totalLength() - SEG1);
        // Messages of 1 and 7 bytes around the creations (big ones elsewhere), and of 4096 and 8191 throughout.
        for (int chunk : new int[] {1, 7, 4096, 8191}) {
            try (Store store = Store.open(tmp.resolve("store-" + chunk))) {
                TimelineId tl = store.timelines().create(null, Lsn.INVALID, 1).id();
                store.wal().append(List.of(new WalAppend(tl, Lsn.of(SEG1), Arrays.copyOf(wal, firstEnd), List.of(),
                        List.of(), List.of(), Lsn.of(SEG1 + firstEnd))));
                WalIndexer indexer = WalIndexer.resume(store.wal(), tl);
                List<WalAppend> appends = new ArrayList<>();
                for (int at = firstEnd; at < wal.length; ) {
                    int n = Math.min(wal.length - at, chunk > 8 ? chunk : messageSize(SEG1 + at, chunk, creations));
                    assertNull(indexer.feed(Arrays.copyOfRange(wal, at, at + n)));
                    at += n;
                    WalAppend a = indexer.drain();
                    if (a != null) {
                        for (long[] c : creations) {
                            assertFalse(a.end().value() > c[0] && a.end().value() < c[1], "an append of " + chunk
                                    + "-byte messages ends inside the creation at " + Lsn.of(c[0]) + ": " + a.end());
                        }
                        appends.add(a);
                    }
                }
                store.wal().append(appends);
                assertArrayEquals(expected, store.wal().read(tl, Lsn.of(SEG1), wal.length), "messages of " + chunk + " bytes");
            }
        }
    }

    /** {@code small} near a creation, else up to the next one's neighbourhood (at most 1 MiB). */
    private static int messageSize(long at, int small, List<long[]> creations) {
        long next = at + (1 << 20);
        for (long[] c : creations) {
            if (at >= c[0] - 64 && at < c[1] + 64) {
                return small;
            }
            if (c[0] - 64 > at) {
                next = Math.min(next, c[0] - 64);
            }
        }
        return (int) (next - at);
    }
}
