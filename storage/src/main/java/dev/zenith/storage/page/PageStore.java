package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.index.IndexNotReadyException;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedValueException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.RelationSizes;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntUnaryOperator;

/**
 * Page versions by (timeline, relation fork, block, LSN), read along a timeline's lineage. Blocking
 * and thread-safe; each write is one durable LMDB transaction.
 */
public final class PageStore {
    private final Tables tables;
    private final TimelineStore timelines;
    /**
     * What reads at a point proved (which version is a block's page there): the next read of it is one get. Two sets:
     * an image window's reads ({@link #exactStored}) prove the version but know no fork size from the page index, and
     * {@link #versionAt}'s answers carry that size (its callers check the block against it), so neither answers the other.
     */
    private final ExactVersions inWindows = new ExactVersions();
    private final ExactVersions byIndex = new ExactVersions();

    public PageStore(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.timelines = timelines;
    }

    /** The newest stored version of a block at or below {@code lsn}, looking through ancestors. */
    public Optional<PageVersion> get(TimelineId id, RelTag rel, int block, Lsn lsn) {
        return Optional.ofNullable(find(id, rel, block, lsn)).map(f -> new PageVersion(f.step().timeline(), f.lsn(), f.stored()));
    }

    /**
     * {@link #get} of each of {@code blocks} at {@code lsn}, in their order (null where none): in one pooled read
     * transaction with the lineage read once, where each {@link #get} takes a transaction and reads the lineage (a
     * redo run seeds thousands of blocks). An evicted value is not downloaded inside that transaction (a long read
     * keeps the pages freed meanwhile from reuse): its block is read afterwards on its own, as {@link #get} reads it.
     */
    public List<PageVersion> getAll(TimelineId id, List<BlockRef> blocks, Lsn lsn) {
        PageLookup.Found[] found = new PageLookup.Found[blocks.size()];
        List<Integer> evicted = new ArrayList<>();
        tables.reading(tables.pages(), (txn, cursor) -> ColdValues.withoutFetching(() -> {
            try (PageLookup lookup = new PageLookup(tables.pages(), txn, timelines.lineage(txn, id, lsn), cursor)) {
                for (int i = 0; i < found.length; i++) {
                    try {
                        found[i] = lookup.find(blocks.get(i).rel(), blocks.get(i).block());
                    } catch (EvictedValueException e) {
                        evicted.add(i);
                    }
                }
            }
            return null;
        }));
        for (int i : evicted) {
            found[i] = find(id, blocks.get(i).rel(), blocks.get(i).block(), lsn);
        }
        List<PageVersion> out = new ArrayList<>(found.length);
        for (PageLookup.Found f : found) {
            out.add(f == null ? null : new PageVersion(f.step().timeline(), f.lsn(), f.stored()));
        }
        return out;
    }

    /** As {@link #get}, the version's page still encoded (a page service decodes it into its socket's buffer). */
    public Optional<StoredPage> getStored(TimelineId id, RelTag rel, int block, Lsn lsn) {
        return Optional.ofNullable(find(id, rel, block, lsn)).map(PageLookup.Found::stored);
    }

    /**
     * As {@link #getStored}, where the caller knows that the newest version at or below {@code lsn} is the block's
     * page at {@code lsn} (in an image's window): remembered, so the next read of the block there is one get.
     */
    public Optional<StoredPage> exactStored(TimelineId id, RelTag rel, int block, Lsn lsn) {
        ExactVersions.Fact known = inWindows.get(id, lsn, rel, block);
        if (known != null && known.hasVersion()) {
            StoredPage p = byKey(inWindows, id, rel, block, lsn, known);
            if (p != null) {
                return Optional.of(p);
            }
        }
        PageLookup.Found f = find(id, rel, block, lsn);
        if (f == null) {
            return Optional.empty();
        }
        inWindows.put(id, lsn, rel, block, new ExactVersions.Fact(null, f.step().timeline(), f.lsn(), true));
        return Optional.of(f.stored());
    }

    /** The version a fact of {@code facts} names, read by its key; null (and the fact forgotten) when it is gone. */
    private StoredPage byKey(ExactVersions facts, TimelineId id, RelTag rel, int block, Lsn at, ExactVersions.Fact known) {
        byte[] key = Keys.page(known.timeline(), rel, block, known.lsn());
        byte[] value = tables.reading(txn -> tables.pages().get(txn, key));
        if (value == null) {
            facts.forget(id, at, rel, block);
            return null;
        }
        return StoredPage.encoded(value);
    }

    private PageLookup.Found find(TimelineId id, RelTag rel, int block, Lsn lsn) {
        // one per GetPage: a reused read transaction (renewed, not begun) and its cursor (renewed, not opened)
        return tables.reading(tables.pages(), (txn, cursor) -> {
            try (PageLookup lookup = new PageLookup(tables.pages(), txn, timelines.lineage(txn, id, lsn), cursor)) {
                return lookup.find(rel, block);
            }
        });
    }

    /**
     * What a GetPage outside an image's window reads, in one read transaction (each its own cost about as much as
     * the page): the fork's size by the page index when it tracks the fork ({@code nblocks}; empty: the fork
     * does not exist), the newest stored version at or below {@code versionKey} (null: none), and whether the
     * index shows no change redo applies between that version and {@code at} ({@code exact}; false when the
     * index cannot tell). The index must be caught up to {@code at} ({@link PageIndex#covers}); sizes it cannot
     * answer are an {@link dev.zenith.storage.index.IndexNotReadyException}. An answer shown exact, or decided by the
     * fork's size, is remembered per ({@code id}, {@code at}) ({@link ExactVersions}; {@code versionKey} is a function
     * of {@code at}, the caller's one rule): the next read of the block there is one get by the version's key.
     */
    public VersionAt versionAt(PageIndex index, TimelineId id, RelTag rel, int block, Lsn at, Lsn versionKey) {
        // A read of the block at this point proved its answer before: one get by the version's key, no index.
        ExactVersions.Fact known = byIndex.get(id, at, rel, block);
        if (known != null) {
            if (!known.hasVersion()) {
                return new VersionAt(known.nblocks(), null, known.exact());
            }
            StoredPage p = byKey(byIndex, id, rel, block, at, known);
            if (p != null) {
                return new VersionAt(known.nblocks(), new PageVersion(known.timeline(), known.lsn(), p), true);
            }
        }
        VersionAt read = readVersionAt(index, id, rel, block, at, versionKey);
        if (read.exact() || read.beyondTheFork(block)) {
            PageVersion v = read.version();
            byIndex.put(id, at, rel, block, new ExactVersions.Fact(read.nblocks(), v == null ? null : v.timeline(),
                    v == null ? null : v.lsn(), read.exact()));
        }
        return read;
    }

    private VersionAt readVersionAt(PageIndex index, TimelineId id, RelTag rel, int block, Lsn at, Lsn versionKey) {
        // one pooled read transaction, and its kept cursors on the index's tables and the versions (none opened here)
        return tables.readingWithCursors(read -> {
            Txn<byte[]> txn = read.txn();
            PageIndex.AtLsn indexAt = index.at(read, id, at); // its lineage and reach read once for both questions
            OptionalLong nblocks = RelationSizes.tracks(rel.fork()) ? indexAt.nblocks(rel) : null;
            VersionAt sized = new VersionAt(nblocks, null, false);
            if (sized.beyondTheFork(block)) {
                return sized; // no such fork, or beyond its end: no version needed
            }
            PageVersion version;
            try (PageLookup lookup = new PageLookup(tables.pages(), txn, timelines.lineage(txn, id, versionKey),
                    read.cursor(tables.pages()))) {
                PageLookup.Found f = lookup.find(rel, block);
                version = f == null ? null : new PageVersion(f.step().timeline(), f.lsn(), f.stored());
            }
            boolean exact;
            try {
                exact = !indexAt.changedIn(rel, block, version == null ? Lsn.INVALID : version.lsn());
            } catch (IndexNotReadyException e) {
                exact = false; // the decoded WAL decides
            }
            return new VersionAt(nblocks, version, exact);
        });
    }

    /**
     * {@link #versionAt}'s answer; {@code nblocks} is null for a fork the index does not track (free-space maps).
     * The version's page stays encoded until asked for.
     */
    public record VersionAt(OptionalLong nblocks, PageVersion version, boolean exact) {
        /** Whether the fork's size alone answers the block: no such fork, or the block at or past its end. */
        public boolean beyondTheFork(int block) {
            return nblocks != null && (nblocks.isEmpty() || Integer.toUnsignedLong(block) >= nblocks.getAsLong());
        }
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
        readInto(id, rel, lsn, count, i -> first + i, lookup -> lookup.reader(rel, first), checksums, missingAsZeros,
                out, offset);
    }

    /**
     * Scattered blocks of a fork as of {@code lsn} ({@code blocks[0..count)}, ascending), decoded into {@code out} one
     * after another from {@code offset}, verified and with {@code missingAsZeros} as {@link #readBlocks}, in one read
     * transaction with one seek per block: a ready directory's update, whose changed blocks are mostly one here and
     * one there (an ordered scan would step over every version in between, a transaction per block repeat the
     * lineage and the cursors).
     */
    public void readListed(TimelineId id, RelTag rel, Lsn lsn, long[] blocks, int count, boolean checksums,
                           boolean missingAsZeros, byte[] out, int offset) {
        readInto(id, rel, lsn, count, i -> (int) blocks[i], lookup -> block -> lookup.find(rel, block), checksums,
                missingAsZeros, out, offset);
    }

    /** {@code count} blocks, the i-th {@code blockAt(i)}, found by the reader {@code readerOf} makes, into {@code out}. */
    private void readInto(TimelineId id, RelTag rel, Lsn lsn, int count, IntUnaryOperator blockAt,
                          Function<PageLookup, PageLookup.BlockReader> readerOf, boolean checksums, boolean missingAsZeros,
                          byte[] out, int offset) {
        try (ReadTxn read = tables.read();
             PageLookup lookup = new PageLookup(tables.pages(), read.txn(), timelines.lineage(read.txn(), id, lsn))) {
            PageLookup.BlockReader reader = readerOf.apply(lookup);
            for (int i = 0; i < count; i++) {
                int block = blockAt.applyAsInt(i);
                PageLookup.Found f = reader.find(block);
                if (f == null && missingAsZeros) {
                    java.util.Arrays.fill(out, offset + i * WalGeometry.BLCKSZ, offset + (i + 1) * WalGeometry.BLCKSZ, (byte) 0);
                    continue;
                }
                if (f == null) {
                    throw new StoreException("no stored version of " + rel.path() + " block "
                            + Integer.toUnsignedString(block) + " at or below " + lsn);
                }
                f.decodeVerified(rel, Integer.toUnsignedLong(block), checksums, out, offset + i * WalGeometry.BLCKSZ);
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
