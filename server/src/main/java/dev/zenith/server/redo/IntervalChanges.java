package dev.zenith.server.redo;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.PageChange;
import dev.zenith.wal.change.PageChanges;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the WAL of one stretch of a timeline does to pages, decoded from the store's WAL: for every
 * block, the ends of the records that change it under redo ({@link PageChanges}: block references
 * and the visibility-map pages heap and truncate records clear without one; hint-only references
 * left out), and where records end. The stretch starts at a record start (a redo point or an
 * image's checkpoint) and grows as more WAL is asked about. One checkpoint interval's worth: what
 * GetPage's "is this version exact at X" asks ({@link RedoPageSource}), until it asks the page index
 * (background materialization does already). Thread-safe.
 */
public final class IntervalChanges {
    private static final int READ = 1 << 20;

    private final TimelineId timeline;
    private final Lsn from;
    private final WalStreamDecoder decoder;
    private final Map<BlockRef, long[]> changes = new HashMap<>();
    /** Per free-space map fork, [count, end1, length1, end2, length2, ...]: what each record's redo extends it to. */
    private final Map<RelTag, long[]> fsmGrowth = new HashMap<>();
    /** Ends of the records that create, truncate or drop relations, databases or tablespaces. */
    private long[] lifecycleEnds = new long[16];
    private int lifecycles;
    private long[] recordStarts = new long[1024];
    private long[] recordEnds = new long[1024];
    private int records;
    /** How far the stored WAL was fed to the decoder (written under the lock, read without it). */
    private volatile Lsn fed;

    public IntervalChanges(TimelineId timeline, Lsn from) {
        this.timeline = timeline;
        this.from = from;
        this.fed = from;
        this.decoder = WalStreamDecoder.builder(from).build();
    }

    public Lsn from() {
        return from;
    }

    /** Whether the WAL up to {@code upTo} was decoded already ({@link #extendTo} would do nothing). */
    public boolean reaches(Lsn upTo) {
        return !fed.isBefore(upTo);
    }

    /** Decodes the stored WAL up to {@code upTo} (records ending after it stay pending). Blocking. */
    public synchronized void extendTo(WalLog wal, Lsn upTo) {
        while (fed.isBefore(upTo)) {
            byte[] bytes = wal.read(timeline, fed, (int) Math.min(READ, upTo.minus(fed)));
            if (bytes.length == 0) {
                throw new StoreException("timeline " + timeline + " has no WAL at " + fed + " (wanted up to " + upTo + ")");
            }
            decoder.feed(bytes);
            fed = fed.plus(bytes.length);
            for (DecodeResult r = decoder.poll(); ; r = decoder.poll()) {
                if (r instanceof DecodedRecord rec) {
                    add(rec);
                } else if (r instanceof EndOfWal end) {
                    throw new StoreException("the stored WAL of timeline " + timeline + " does not decode after " + from
                            + ": " + end);
                } else {
                    break;
                }
            }
        }
    }

    private void add(DecodedRecord rec) {
        long end = rec.endLsn().value();
        List<PageChange> pageChanges = PageChanges.of(rec);
        for (PageChange c : pageChanges) {
            if (c.changedByRedo()) {
                changes.merge(new BlockRef(c.rel(), (int) c.block()), new long[] {1, end}, IntervalChanges::append);
            }
        }
        Map<RelTag, Long> fsm = FreeSpaceMapGrowth.lengthsNeeded(rec, pageChanges);
        if (fsm == null) {
            if (lifecycles == lifecycleEnds.length) {
                lifecycleEnds = Arrays.copyOf(lifecycleEnds, lifecycles * 2);
            }
            lifecycleEnds[lifecycles++] = end;
        } else {
            fsm.forEach((rel, blocks) -> fsmGrowth.merge(rel, new long[] {1, end, blocks}, IntervalChanges::appendPair));
        }
        if (records == recordEnds.length) {
            recordStarts = Arrays.copyOf(recordStarts, records * 2);
            recordEnds = Arrays.copyOf(recordEnds, records * 2);
        }
        recordStarts[records] = rec.startLsn().value();
        recordEnds[records++] = end;
    }

    /** [count, end1, end2, ...]: appends the one end in {@code add}. */
    private static long[] append(long[] list, long[] add) {
        int n = (int) list[0];
        if (n > 0 && list[n] == add[1]) {
            return list; // two references to one block in one record
        }
        long[] out = n + 1 < list.length ? list : Arrays.copyOf(list, list.length * 2);
        out[n + 1] = add[1];
        out[0] = n + 1;
        return out;
    }

    /** [count, end1, value1, ...]: appends the one pair in {@code add}. */
    private static long[] appendPair(long[] list, long[] add) {
        int n = (int) list[0];
        long[] out = 2 * n + 2 < list.length ? list : Arrays.copyOf(list, list.length * 2 + 1);
        out[2 * n + 1] = add[1];
        out[2 * n + 2] = add[2];
        out[0] = n + 1;
        return out;
    }

    /**
     * Whether free-space maps as long as {@code known} after the record ending at {@code after} are still that long
     * after the records ending up to {@code upTo} (both decoded): none of those creates, truncates or drops
     * relations, databases or tablespaces, and none extends a map past its known length ({@link FreeSpaceMapGrowth}).
     */
    public synchronized boolean freeSpaceMapsKept(Lsn after, Lsn upTo, Map<RelTag, Long> known) {
        if (lifecycleIn(after, upTo)) {
            return false;
        }
        for (Map.Entry<RelTag, long[]> e : fsmGrowth.entrySet()) {
            long[] list = e.getValue();
            long length = known.getOrDefault(e.getKey(), 0L);
            for (int i = (int) list[0]; i >= 1 && list[2 * i - 1] > after.value(); i--) {
                if (list[2 * i - 1] <= upTo.value() && list[2 * i] > length) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Whether a record ending in ({@code after}, {@code upTo}] creates, truncates or drops relations, databases or tablespaces. */
    public synchronized boolean lifecycleIn(Lsn after, Lsn upTo) {
        for (int i = lifecycles - 1; i >= 0 && lifecycleEnds[i] > after.value(); i--) {
            if (lifecycleEnds[i] <= upTo.value()) {
                return true;
            }
        }
        return false;
    }

    /** The end of the last record decoded that starts before {@code lsn} (a redo point's predecessor), or null. */
    public synchronized Lsn lastRecordEndBefore(Lsn lsn) {
        int i = Arrays.binarySearch(recordStarts, 0, records, lsn.value());
        int before = (i >= 0 ? i : -i - 1) - 1;
        return before < 0 ? null : Lsn.of(recordEnds[before]);
    }

    /** The end of the last record decoded that ends at or before {@code lsn}, or null. */
    public synchronized Lsn lastRecordEndAtOrBefore(Lsn lsn) {
        int i = Arrays.binarySearch(recordEnds, 0, records, lsn.value());
        int at = i >= 0 ? i : -i - 2;
        return at < 0 ? null : Lsn.of(recordEnds[at]);
    }

    /** The end of the last record at or before {@code atOrBefore} that changes the block, or null. */
    public synchronized Lsn lastChange(BlockRef block, Lsn atOrBefore) {
        long[] list = changes.get(block);
        if (list == null) {
            return null;
        }
        for (int i = (int) list[0]; i >= 1; i--) {
            if (list[i] <= atOrBefore.value()) {
                return Lsn.of(list[i]);
            }
        }
        return null;
    }

    /** Every block changed by a record ending at or before {@code atOrBefore}, with its version key (MAXALIGNed end). */
    public synchronized Map<BlockRef, Lsn> versionKeys(Lsn atOrBefore) {
        Map<BlockRef, Lsn> out = new HashMap<>();
        changes.forEach((b, list) -> {
            Lsn last = null;
            for (int i = (int) list[0]; i >= 1 && last == null; i--) {
                if (list[i] <= atOrBefore.value()) {
                    last = Lsn.of(list[i]);
                }
            }
            if (last != null) {
                out.put(b, versionKey(last));
            }
        });
        return out;
    }

    /** Every block whose last change by a record ending at or before {@code atOrBefore} ends after {@code after}. */
    public synchronized Set<BlockRef> changedAfter(Lsn after, Lsn atOrBefore) {
        Set<BlockRef> out = new HashSet<>();
        changes.forEach((b, list) -> {
            for (int i = (int) list[0]; i >= 1 && list[i] > after.value(); i--) {
                if (list[i] <= atOrBefore.value()) {
                    out.add(b);
                    break;
                }
            }
        });
        return out;
    }

    /** The key a version made by the record ending at {@code recordEnd} is stored under: the pd_lsn redo stamps. */
    public static Lsn versionKey(Lsn recordEnd) {
        return Lsn.of(WalGeometry.maxAlign(recordEnd.value()));
    }
}
