package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.lmdbjava.Txn;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Page versions by (timeline, relation fork, block, LSN), read along a timeline's lineage. Blocking
 * and thread-safe; each write is one durable LMDB transaction.
 */
public final class PageStore {
    private final Tables tables;
    private final TimelineStore timelines;

    public PageStore(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /** The newest stored version of a block at or below {@code lsn}, looking through ancestors. */
    public Optional<PageVersion> get(TimelineId id, RelTag rel, int block, Lsn lsn) {
        // one per GetPage: a reused read transaction (renewed, not begun)
        return tables.reading(txn -> {
            try (PageLookup lookup = new PageLookup(tables.pages(), txn, timelines.lineage(txn, id, lsn))) {
                PageLookup.Found f = lookup.find(rel, block);
                return f == null ? Optional.<PageVersion>empty()
                        : Optional.of(new PageVersion(f.step().timeline(), f.lsn(), f.page()));
            }
        });
    }

    /**
     * Blocks [first, first + count) of a fork as of {@code lsn}, decoded into {@code out} (8 KiB each from
     * {@code offset}) in one read transaction and one ordered scan: what a base backup streams. Each is
     * verified as PostgreSQL would (its data checksum with {@code checksums}); a block without a stored
     * version at or below {@code lsn} is a {@link StoreException}, a damaged one a {@link StoreCorruptException}.
     */
    public void readBlocks(TimelineId id, RelTag rel, Lsn lsn, int first, int count, boolean checksums, byte[] out,
                           int offset) {
        readBlocks(id, rel, lsn, first, count, checksums, false, out, offset);
    }

    /** As above; with {@code missingAsZeros} a block without a version is all zeros (extended, never written). */
    public void readBlocks(TimelineId id, RelTag rel, Lsn lsn, int first, int count, boolean checksums,
                           boolean missingAsZeros, byte[] out, int offset) {
        try (Txn<byte[]> txn = tables.read();
             PageLookup lookup = new PageLookup(tables.pages(), txn, timelines.lineage(txn, id, lsn))) {
            PageLookup.BlockReader reader = lookup.reader(rel, first);
            for (int i = 0; i < count; i++) {
                PageLookup.Found f = reader.find(first + i);
                if (f == null && missingAsZeros) {
                    java.util.Arrays.fill(out, offset + i * WalGeometry.BLCKSZ, offset + (i + 1) * WalGeometry.BLCKSZ, (byte) 0);
                    continue;
                }
                if (f == null) {
                    throw new StoreException("no stored version of " + rel.path() + " block "
                            + Integer.toUnsignedString(first + i) + " at or below " + lsn);
                }
                f.decodeVerified(rel, Integer.toUnsignedLong(first + i), checksums, out, offset + i * WalGeometry.BLCKSZ);
            }
        }
    }

    /** Stores one page version (full-page images from WAL, pages reconstructed by redo). */
    public void put(TimelineId id, RelTag rel, int block, Lsn lsn, byte[] page) {
        putAll(List.of(new PageWrite(id, rel, block, lsn, page)));
    }

    /** Stores page versions in one durable transaction (a batch of FPIs or a redo round's output). */
    public void putAll(List<PageWrite> writes) {
        try (Txn<byte[]> txn = tables.write()) {
            Set<TimelineId> checked = new HashSet<>();
            for (PageWrite w : writes) {
                if (checked.add(w.timeline())) {
                    timelines.require(txn, w.timeline());
                }
                tables.pages().put(txn, Keys.page(w.timeline(), w.rel(), w.block(), w.lsn()), PageCodec.encode(w.page()));
            }
            txn.commit();
        }
    }
}
