package dev.zenith.server.pageservice;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.page.ImagePageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A timeline's relation forks and their sizes at an LSN, from what the store knows today: the newest
 * image at or below the LSN, and the block-change index since it. Exact in the image's window (no WAL
 * record between the image and the LSN); after it, forks whose blocks WAL changed are marked, with the
 * size the image and those changes show at least (WAL that truncates, drops or creates relations
 * without naming blocks is not indexed yet). Blocking.
 */
public final class RelationSizes {
    /** One fork; {@code changedSinceImage}: {@code blocks} is a lower bound. */
    public record Entry(RelTag rel, long blocks, boolean changedSinceImage) {
    }

    /** {@code exact}: the LSN lies in the image's window, which ends at {@code windowEnd}. */
    public record Listing(Lsn lsn, Lsn imageLsn, Lsn windowEnd, boolean exact, List<Entry> relations) {
    }

    private RelationSizes() {
    }

    /** Empty when no image lies at or below the LSN. */
    public static java.util.Optional<Listing> at(Store store, TimelineId timeline, Lsn lsn) {
        java.util.Optional<ImageManifest> found = store.images().latestImageAtOrBefore(timeline, lsn);
        if (found.isEmpty()) {
            return java.util.Optional.empty();
        }
        ImageManifest image = found.get();
        Lsn windowEnd = ImagePageSource.windowEnd(store.wal(), timeline, image);
        boolean exact = !lsn.isAfter(windowEnd);
        Map<RelTag, Long> changedTo = new TreeMap<>(RelTag.ORDER);
        if (!exact) {
            for (BlockRef b : store.changes().changedBlocks(timeline, image.lsn(), lsn)) {
                changedTo.merge(b.rel(), Integer.toUnsignedLong(b.block()) + 1, Math::max);
            }
        }
        Map<RelTag, Entry> all = new TreeMap<>(RelTag.ORDER);
        for (RelationSize r : image.relations()) {
            Long changed = changedTo.remove(r.rel());
            all.put(r.rel(), new Entry(r.rel(), changed == null ? r.blocks() : Math.max(r.blocks(), changed), changed != null));
        }
        changedTo.forEach((rel, blocks) -> all.put(rel, new Entry(rel, blocks, true)));
        return java.util.Optional.of(new Listing(lsn, image.lsn(), windowEnd, exact, new ArrayList<>(all.values())));
    }
}
