package dev.zenith.server.pageservice;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.page.ImagePageSource;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A timeline's relation forks and their sizes at an LSN: in an image's window (no WAL record between
 * the image and the LSN) the image's, every fork; elsewhere the page index's along the lineage (main,
 * visibility-map and init forks, exact at any LSN it covers, on branches too), and free-space maps as
 * {@code fsm} answers them where it can (empty: not listed). Blocking.
 */
public final class RelationSizes {
    /** One fork. */
    public record Entry(RelTag rel, long blocks) {
    }

    /**
     * {@code exact}: every fork listed has its size at the LSN ({@code fsmListed}: free-space maps among them);
     * {@code windowEnd}: where the image's own window ends.
     */
    public record Listing(Lsn lsn, Lsn imageLsn, Lsn windowEnd, boolean exact, boolean fsmListed, List<Entry> relations) {
    }

    /** Free-space map sizes at an LSN outside an image's window, where they can be told. */
    @FunctionalInterface
    public interface FreeSpaceMaps {
        Optional<Map<RelTag, Long>> at(TimelineId timeline, Lsn lsn);

        FreeSpaceMaps NONE = (timeline, lsn) -> Optional.empty();
    }

    private RelationSizes() {
    }

    /** Empty when no image lies at or below the LSN. */
    public static Optional<Listing> at(Store store, TimelineId timeline, Lsn lsn, FreeSpaceMaps fsm) {
        Optional<ImageManifest> found = store.images().latestImageAtOrBefore(timeline, lsn);
        if (found.isEmpty()) {
            return Optional.empty();
        }
        ImageManifest image = found.get();
        Lsn windowEnd = ImagePageSource.windowEnd(store.wal(), timeline, image);
        Map<RelTag, Long> sizes = new TreeMap<>(RelTag.ORDER);
        boolean exact = true;
        boolean fsmListed = true;
        if (!lsn.isAfter(windowEnd)) {
            for (RelationSize r : image.relations()) {
                sizes.put(r.rel(), r.blocks());
            }
        } else {
            try {
                sizes.putAll(store.index().forks(timeline, lsn));
            } catch (IndexNotReadyException e) {
                exact = false; // below the index's base: the image's, as a lower bound, is all there is
                image.relations().stream().filter(r -> r.rel().fork() != ForkNumber.FSM).forEach(r -> sizes.put(r.rel(), r.blocks()));
            }
            Optional<Map<RelTag, Long>> maps = fsm.at(timeline, lsn);
            maps.ifPresent(sizes::putAll);
            fsmListed = maps.isPresent();
        }
        List<Entry> out = new ArrayList<>();
        sizes.forEach((rel, n) -> out.add(new Entry(rel, n)));
        return Optional.of(new Listing(lsn, image.lsn(), windowEnd, exact, fsmListed, out));
    }
}
