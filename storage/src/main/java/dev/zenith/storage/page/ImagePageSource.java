package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.SlruKind;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.segment.WalGeometry;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The page source the store can answer exactly today: a timeline at an LSN that lies in an image's
 * <em>window</em>, from the image's checkpoint record to where the next WAL record starts. In a
 * window no WAL record lies between the image and the LSN, so the image's relation sizes, its files
 * (SLRU segments) and the newest page version at or below the LSN (the image's pages) are the state
 * at that LSN. Anywhere else the answer is {@link PageUnavailableException.Reason#NOT_MATERIALIZED}.
 *
 * <p>Why not more. A page whose newest stored version has no entry in the block-change index since
 * then is not enough: records that change a fork's size or content without naming its blocks (SMGR
 * truncate, relations dropped at commit, CREATE DATABASE by file copy, visibility-map bits cleared by
 * heap records) are not in that index, so such a page could be one of a truncated block, a dropped
 * relation or a stale visibility map. Sizes and those records at every LSN, and versions between
 * images, come with the store's page versions; then this class gives way to one that uses them.
 */
public final class ImagePageSource implements PageSource {
    /** Image windows kept decoded, per timeline (a manifest decodes in hundreds of microseconds). */
    private static final int VIEWS_PER_TIMELINE = 8;
    /** WAL read to decode an image's checkpoint record (about a hundred bytes, maybe across a page header). */
    private static final int CHECKPOINT_READ = 16 * 1024;

    private final PageStore pages;
    private final ImageStore images;
    private final WalLog wal;
    private final Map<TimelineId, Map<Lsn, Window>> windows = new HashMap<>();
    /** Per timeline, the window a read used last: page-service workers ask it at once, without a lock. */
    private final Map<TimelineId, Window> lastUsed = new ConcurrentHashMap<>();

    /**
     * Per timeline, LSNs (after, upTo] found in no image's window: the newest image at or below upTo ends its
     * window at {@code after}. Trusted for a second, as an image stored later below upTo (a pull) would end it;
     * {@link #covers} only chooses the quicker of two exact ways, so a stale answer costs time, not exactness.
     */
    private record Gap(Lsn after, Lsn upTo, long foundAt) {
        private static final long TRUSTED_NANOS = 1_000_000_000L;

        boolean holds(Lsn lsn) {
            return lsn.isAfter(after) && !lsn.isAfter(upTo) && trusted();
        }

        private boolean trusted() {
            return System.nanoTime() - foundAt < TRUSTED_NANOS;
        }

        /**
         * The gap (after, lsn] just found, joined with {@code known} when that one ends the same window (the same
         * image is the newest below both): reads at many LSNs past one image keep one gap, trusted from the older find.
         */
        static Gap found(Gap known, Lsn after, Lsn lsn) {
            if (known != null && known.after.equals(after) && known.trusted()) {
                return new Gap(after, Lsn.max(known.upTo, lsn), known.foundAt);
            }
            return new Gap(after, lsn, System.nanoTime());
        }
    }

    private final Map<TimelineId, Gap> gaps = new ConcurrentHashMap<>();

    public ImagePageSource(PageStore pages, ImageStore images, WalLog wal) {
        this.pages = pages;
        this.images = images;
        this.wal = wal;
    }

    /** An image's manifest, as maps, and how far past its checkpoint record it is the state of the timeline. */
    private record Window(ImageManifest image, Lsn end, Map<RelTag, Long> sizes, Set<String> directories) {
        boolean covers(Lsn lsn) {
            // an image whose pages are at an earlier redo point (pulled from a step) is not the state at its checkpoint
            return image.redoLsn().equals(image.lsn()) && !lsn.isBefore(image.lsn()) && !lsn.isAfter(end);
        }
    }

    @Override
    public boolean exists(TimelineId timeline, RelTag rel, Lsn lsn) {
        return window(timeline, lsn).sizes().containsKey(rel);
    }

    @Override
    public int nblocks(TimelineId timeline, RelTag rel, Lsn lsn) {
        return size(window(timeline, lsn), rel, lsn);
    }

    private static int size(Window w, RelTag rel, Lsn lsn) {
        Long blocks = w.sizes().get(rel);
        if (blocks != null) {
            return (int) (long) blocks;
        }
        if (rel.fork() == ForkNumber.FSM || rel.fork() == ForkNumber.VISIBILITY_MAP) {
            return 0; // as Neon: PostgreSQL creates these forks and asks their size before extending them
        }
        throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                "relation " + rel.path() + " does not exist at " + lsn);
    }

    @Override
    public long dbSize(TimelineId timeline, int dbOid, Lsn lsn) {
        Window w = window(timeline, lsn);
        if (!w.directories().contains("base/" + Integer.toUnsignedString(dbOid))) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_FOUND,
                    "database " + Integer.toUnsignedString(dbOid) + " does not exist at " + lsn);
        }
        long blocks = 0;
        for (Map.Entry<RelTag, Long> e : w.sizes().entrySet()) {
            RelFileNode n = e.getKey().node();
            if (n.spcOid() == RelFileNode.DEFAULT_TABLESPACE && n.dbOid() == dbOid) {
                blocks += e.getValue();
            }
        }
        return blocks * WalGeometry.BLCKSZ;
    }

    @Override
    public byte[] page(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        return storedPage(timeline, rel, block, lsn).page();
    }

    @Override
    public CompletableFuture<StoredPage> storedPageLater(TimelineId timeline, RelTag rel, int block, Lsn lsn, Lsn upTo) {
        return CompletableFuture.completedFuture(storedPage(timeline, rel, block, lsn));
    }

    /** As {@link #page}, still encoded when stored so (decoded where it goes). */
    public StoredPage storedPage(TimelineId timeline, RelTag rel, int block, Lsn lsn) {
        Window w = window(timeline, lsn);
        if (Integer.toUnsignedLong(block) >= Integer.toUnsignedLong(size(w, rel, lsn))) {
            return StoredPage.of(new byte[WalGeometry.BLCKSZ]); // beyond the end: zeros, as Neon answers
        }
        // In the window the newest version at or below the LSN is the image's page: no record since.
        return pages.exactStored(timeline, rel, block, lsn).orElseThrow(() -> new StoreException(
                "the image at " + w.image().lsn() + " lists " + rel.path() + " with " + w.sizes().get(rel)
                        + " blocks, but block " + Integer.toUnsignedString(block) + " has no stored version"));
    }

    @Override
    public byte[] slruSegment(TimelineId timeline, SlruKind kind, int segment, Lsn lsn) {
        Window w = window(timeline, lsn);
        String path = kind.segmentPath(segment);
        byte[] content = images.imageFile(w.image(), path).orElseThrow(() -> new PageUnavailableException(
                PageUnavailableException.Reason.NOT_FOUND, "SLRU segment " + path + " does not exist at " + lsn));
        if (content.length % WalGeometry.BLCKSZ != 0) {
            throw new StoreException(path + " of the image at " + w.image().lsn() + " has " + content.length
                    + " bytes, not whole pages");
        }
        return content;
    }

    /**
     * Whether an image's window holds {@code lsn}, so that this source answers there (blocking: may read the
     * store). Cheaper than catching NOT_MATERIALIZED: a caller that tries another source first asks this.
     */
    public boolean covers(TimelineId timeline, Lsn lsn) {
        Window last = lastUsed.get(timeline);
        if (last != null && last.covers(lsn)) {
            return true; // a read at the latest LSN of a stopped timeline
        }
        Gap gap = gaps.get(timeline);
        if (gap != null && gap.holds(lsn)) {
            return false; // a historical read: neither the windows' lock nor a store read to learn that again
        }
        Window known = covering(timeline, lsn);
        if (known != null) {
            return true;
        }
        Window w = newestAtOrBefore(timeline, lsn);
        if (w == null || !w.covers(lsn)) {
            gaps.put(timeline, Gap.found(gap, w == null ? Lsn.INVALID : w.end(), lsn));
            return false;
        }
        lastUsed.put(timeline, w);
        return true;
    }

    /** The window holding {@code lsn} on the timeline's lineage, or NOT_MATERIALIZED. */
    private Window window(TimelineId timeline, Lsn lsn) {
        // No other image can lie inside a window (its checkpoint record would be a record there), so a
        // window we know that covers the LSN is the answer without asking the store. If garbage collection
        // took its image since, its sizes are still that LSN's state, and its pages are gone: reads fail.
        Window known = covering(timeline, lsn);
        if (known != null) {
            return known;
        }
        Window w = newestAtOrBefore(timeline, lsn);
        if (w == null) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED, "not materialized at "
                    + lsn + " yet: timeline " + timeline + " has no image at or below it");
        }
        if (!w.covers(lsn)) {
            throw new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED,
                    "page not materialized at " + lsn + " yet: the store has exact pages and sizes at its images;"
                            + " the newest at or below " + lsn + " is exact from " + w.image().lsn() + " to " + w.end());
        }
        lastUsed.put(timeline, w);
        return w;
    }

    /** The window of the newest image at or below {@code lsn}, or null when there is none. */
    private Window newestAtOrBefore(TimelineId timeline, Lsn lsn) {
        Lsn imageLsn = images.latestImageLsnAtOrBefore(timeline, lsn).orElse(null);
        if (imageLsn == null) {
            return null;
        }
        Window w = cached(timeline, imageLsn);
        if (w == null) {
            ImageManifest image = images.latestImageAtOrBefore(timeline, lsn).filter(i -> i.lsn().equals(imageLsn))
                    .orElseThrow(() -> new PageUnavailableException(PageUnavailableException.Reason.NOT_MATERIALIZED,
                            "the image at " + imageLsn + " went away (garbage collection); ask again"));
            w = remember(timeline, open(timeline, image));
        }
        return w;
    }

    private Window covering(TimelineId timeline, Lsn lsn) {
        Window last = lastUsed.get(timeline);
        if (last != null && last.covers(lsn)) {
            return last; // the common case (reads at the latest LSN of a stopped timeline), without the lock
        }
        Window w = coveringKnown(timeline, lsn);
        if (w != null) {
            lastUsed.put(timeline, w);
        }
        return w;
    }

    private synchronized Window coveringKnown(TimelineId timeline, Lsn lsn) {
        Map<Lsn, Window> own = windows.get(timeline);
        if (own != null) {
            for (Window w : own.values()) {
                if (w.covers(lsn)) {
                    return w;
                }
            }
        }
        return null;
    }

    private synchronized Window cached(TimelineId timeline, Lsn imageLsn) {
        Map<Lsn, Window> own = windows.get(timeline);
        return own == null ? null : own.get(imageLsn);
    }

    private synchronized Window remember(TimelineId timeline, Window w) {
        windows.computeIfAbsent(timeline, t -> new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Lsn, Window> eldest) {
                return size() > VIEWS_PER_TIMELINE;
            }
        }).put(w.image().lsn(), w);
        return w;
    }

    private Window open(TimelineId timeline, ImageManifest image) {
        Map<RelTag, Long> sizes = new HashMap<>();
        for (RelationSize r : image.relations()) {
            sizes.put(r.rel(), r.blocks());
        }
        return new Window(image, windowEnd(wal, timeline, image), Map.copyOf(sizes), Set.copyOf(image.directories()));
    }

    /**
     * The end of an image's window on a timeline: where the record after the image's checkpoint record
     * starts, read from this timeline's WAL (a branch may continue differently from its parent after the
     * image). If that record cannot be read, the window is the image's own LSN. Blocking.
     */
    public static Lsn windowEnd(WalLog wal, TimelineId timeline, ImageManifest image) {
        try {
            WalStreamDecoder decoder = WalStreamDecoder.startingAt(image.lsn());
            decoder.feed(wal.read(timeline, image.lsn(), CHECKPOINT_READ));
            DecodeResult r = decoder.poll();
            if (r instanceof DecodedRecord rec && rec.startLsn().equals(image.lsn())
                    && MainDataDecoder.decode(rec).orElse(null) instanceof CheckpointRecord) {
                return rec.nextRecordLsn();
            }
        } catch (StoreException | IllegalArgumentException e) {
            // WAL not there (any more): only the image's own LSN is known to be its state
        }
        return image.lsn();
    }
}
