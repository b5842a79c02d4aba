package dev.zenith.storage.page;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

/**
 * "Newest stored version of a block at or below an LSN" over a timeline's lineage. A single lookup
 * ({@link #find}) uses one cursor for every lineage step (a GetPage: one cursor per read); a caller walking
 * many blocks ({@link #reader}: materialize, import) gets one open cursor per lineage step, opened when first
 * used, so it pays one seek per block and step. Close it before its transaction ends.
 */
public final class PageLookup implements AutoCloseable {
    private final Table pages;
    private final Txn<byte[]> txn;
    private final Lineage lineage;
    /** Per lineage step, the cursor a block-by-block reader scans with, once opened. */
    private final TableCursor[] cursors;
    /** {@link #find}'s cursor, repositioned for every step, once opened (or lent). */
    private TableCursor seeker;
    /** Whether {@link #seeker} is the caller's (kept with a pooled transaction): not closed here. */
    private final boolean seekerLent;

    public PageLookup(Table pages, Txn<byte[]> txn, Lineage lineage) {
        this(pages, txn, lineage, null);
    }

    /** With {@code seeker}, a cursor on {@code pages} in {@code txn} that {@link #find} uses and {@link #close} leaves open. */
    public PageLookup(Table pages, Txn<byte[]> txn, Lineage lineage, TableCursor seeker) {
        this.pages = pages;
        this.txn = txn;
        this.lineage = lineage;
        this.cursors = new TableCursor[lineage.steps().size()];
        this.seeker = seeker;
        this.seekerLent = seeker != null;
    }

    private TableCursor cursor(int step) {
        if (cursors[step] == null) {
            cursors[step] = pages.openCursor(txn);
        }
        return cursors[step];
    }

    /** The stored version's key LSN and encoded value, or null when no step has one. */
    public Found find(RelTag rel, int block) {
        return newest(rel, block, true);
    }

    /**
     * Where {@link #find} finds the version (its step and key LSN), its value not read: an evicted one is not
     * fetched (a writer checking that a version it found in an earlier transaction is still the newest); or null.
     */
    public Located locate(RelTag rel, int block) {
        Found f = newest(rel, block, false);
        return f == null ? null : new Located(f.step(), f.lsn());
    }

    /** The newest version along the lineage; its value read only {@code withValue} (else {@code encoded} is null). */
    private Found newest(RelTag rel, int block, boolean withValue) {
        if (seeker == null) {
            seeker = pages.openCursor(txn);
        }
        Found best = null;
        for (Lineage.Step step : lineage.steps()) {
            if (best != null && !step.upTo().isAfter(best.lsn)) {
                break; // everything this ancestor could offer is older than what we have
            }
            byte[] key = seeker.floorKey(Keys.page(step.timeline(), rel, block, step.upTo()), Keys.BLOCK_PREFIX);
            if (key != null) {
                Lsn lsn = Keys.lsnAt(key, Keys.BLOCK_PREFIX);
                if (best == null || lsn.isAfter(best.lsn)) {
                    best = new Found(step, lsn, withValue ? seeker.val() : null);
                }
            }
        }
        return best;
    }

    /** Where a version is stored: its lineage step (timeline) and key LSN. */
    public record Located(Lineage.Step step, Lsn lsn) {
    }

    /** Answers "newest version at or below the lineage's LSN" for blocks asked in increasing order. */
    @FunctionalInterface
    public interface BlockReader {
        Found find(int block);
    }

    /**
     * Reads one fork block by block (0, 1, 2, ...). When a single timeline of the lineage holds versions
     * of the fork (a root timeline, or a branch that has no image of its own yet), its versions are
     * scanned in key order, one cursor step each (a block with many versions: two seeks), instead of a
     * B-tree descent per block.
     */
    public BlockReader reader(RelTag rel) {
        return reader(rel, 0);
    }

    /** {@link #reader(RelTag)} for blocks from {@code firstBlock} on (a later segment file of the fork). */
    public BlockReader reader(RelTag rel, int firstBlock) {
        int withData = -1;
        for (int i = 0; i < cursors.length; i++) {
            byte[] prefix = Keys.forkPrefix(lineage.steps().get(i).timeline(), rel);
            TableCursor c = cursor(i);
            if (c.get(prefix, GetOp.MDB_SET_RANGE) && Keys.hasPrefix(c.key(), prefix)) {
                if (withData >= 0) {
                    return block -> find(rel, block); // versions in several timelines: merge per block
                }
                withData = i;
            }
        }
        if (withData < 0) {
            return block -> null;
        }
        TableCursor c = cursor(withData);
        if (firstBlock != 0) {
            // The block's oldest possible version: the scan starts at its first stored one, or a later block's.
            byte[] from = Keys.page(lineage.steps().get(withData).timeline(), rel, firstBlock, Lsn.of(0));
            if (!c.get(from, GetOp.MDB_SET_RANGE)) {
                return block -> null;
            }
        }
        return new ForkScan(c, lineage.steps().get(withData), rel);
    }

    /**
     * The ordered scan: the cursor already stands on the fork's first version. A block's versions are
     * stepped over one by one while there are few; from the {@link #SEEK_AFTER}th on, one seek lands on
     * the newest at or below the step's LSN and a second on the next block, so a hot block with thousands
     * of versions (each one a value copied out of LMDB and checked) costs two seeks, not thousands of steps.
     */
    private static final class ForkScan implements BlockReader {
        private static final int SEEK_AFTER = 3;
        private final TableCursor cursor;
        private final Lineage.Step step;
        private final RelTag rel;
        private final byte[] prefix;
        private boolean valid = true;

        ForkScan(TableCursor cursor, Lineage.Step step, RelTag rel) {
            this.cursor = cursor;
            this.step = step;
            this.rel = rel;
            this.prefix = Keys.forkPrefix(step.timeline(), rel);
        }

        @Override
        public Found find(int block) {
            Found best = null;
            int seen = 0;
            while (valid && Keys.hasPrefix(cursor.key(), prefix)) {
                byte[] key = cursor.key();
                long keyBlock = Integer.toUnsignedLong(Keys.getInt(key, Keys.TL + 13));
                if (keyBlock > Integer.toUnsignedLong(block)) {
                    break;
                }
                if (keyBlock == Integer.toUnsignedLong(block)) {
                    if (++seen == SEEK_AFTER) {
                        return seekPast(block);
                    }
                    Lsn lsn = Keys.lsnAt(key, Keys.BLOCK_PREFIX);
                    if (!lsn.isAfter(step.upTo())) {
                        best = new Found(step, lsn, cursor.val());
                    }
                }
                valid = cursor.next();
            }
            return best;
        }

        /** The newest version of {@code block} at or below the step's LSN by a seek; leaves the cursor on the next block. */
        private Found seekPast(int block) {
            byte[][] hit = cursor.floor(Keys.page(step.timeline(), rel, block, step.upTo()), Keys.BLOCK_PREFIX);
            Found found = hit == null ? null : new Found(step, Keys.lsnAt(hit[0], Keys.BLOCK_PREFIX), hit[1]);
            valid = block != -1 && cursor.get(Keys.page(step.timeline(), rel, block + 1, Lsn.of(0)), GetOp.MDB_SET_RANGE);
            return found;
        }
    }

    /** A version found in {@code step}'s timeline, keyed at {@code lsn}. */
    public record Found(Lineage.Step step, Lsn lsn, byte[] encoded) {
        public byte[] page() {
            return PageCodec.decode(encoded);
        }

        /** The version still encoded, decoded where it goes. */
        public StoredPage stored() {
            return StoredPage.encoded(encoded);
        }

        /**
         * Decodes the version of {@code rel} block {@code block} into {@code target} at {@code offset},
         * verified as PostgreSQL verifies a page it reads (its checksum when {@code checksums}): a page that
         * fails is a {@link StoreCorruptException} naming it, never data.
         */
        public void decodeVerified(RelTag rel, long block, boolean checksums, byte[] target, int offset) {
            PageCodec.decodeInto(encoded, target, offset);
            String problem = PageLayout.verify(target, offset, block, checksums);
            if (problem != null) {
                throw new StoreCorruptException("stored page " + rel.path() + " block " + Long.toUnsignedString(block)
                        + " (the version at " + lsn + " of timeline " + step.timeline() + ") is damaged: " + problem);
            }
        }
    }

    @Override
    public void close() {
        for (TableCursor c : cursors) {
            if (c != null) {
                c.close();
            }
        }
        if (seeker != null && !seekerLent) {
            seeker.close();
        }
    }
}
