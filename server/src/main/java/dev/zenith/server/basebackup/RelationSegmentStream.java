package dev.zenith.server.basebackup;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.io.InputStream;

/**
 * The bytes of one segment file of a relation fork as of an image: each block's newest stored
 * version at or below the image LSN, read from the store up to {@link #BATCH} pages at a time (one read
 * transaction and one ordered scan per batch; no file is written). Whole pages a caller asks for are
 * decoded straight into its array; only a read of part of a page goes through a one-page buffer (a
 * base backup has a stream per relation segment, over a thousand small ones in a fresh cluster: a
 * batch-sized buffer each cost more to allocate and zero than the pages did to read).
 */
final class RelationSegmentStream extends InputStream {
    private final Store store;
    private final TimelineId timeline;
    private final RelTag rel;
    private final Lsn lsn;
    private final long endBlock;
    private final boolean checksums;
    private final boolean missingAsZeros;
    private static final int BATCH = 128;
    private long nextBlock;
    /** The page a caller reads part of; allocated on first need. */
    private byte[] page;
    private int filled;
    private int pos;

    /**
     * {@code checksums}: the cluster has data checksums (every block is verified against its own);
     * {@code missingAsZeros}: a block without a stored version is all zeros (else an error).
     */
    RelationSegmentStream(Store store, TimelineId timeline, RelTag rel, Lsn lsn, long firstBlock, long endBlock,
                          boolean checksums, boolean missingAsZeros) {
        this.store = store;
        this.timeline = timeline;
        this.rel = rel;
        this.lsn = lsn;
        this.nextBlock = firstBlock;
        this.endBlock = endBlock;
        this.checksums = checksums;
        this.missingAsZeros = missingAsZeros;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        int n = 0;
        while (n < len) {
            if (pos == filled) {
                if (nextBlock == endBlock) {
                    break;
                }
                int wholePages = (int) Math.min(Math.min(BATCH, (len - n) / WalGeometry.BLCKSZ), endBlock - nextBlock);
                if (wholePages > 0) {
                    readBlocks(wholePages, b, off + n);
                    n += wholePages * WalGeometry.BLCKSZ;
                    continue;
                }
                if (page == null) {
                    page = new byte[WalGeometry.BLCKSZ];
                }
                readBlocks(1, page, 0);
                filled = WalGeometry.BLCKSZ;
                pos = 0;
            }
            int k = Math.min(len - n, filled - pos);
            System.arraycopy(page, pos, b, off + n, k);
            pos += k;
            n += k;
        }
        return n == 0 ? -1 : n;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    /** The next {@code count} blocks, decoded into {@code out} from {@code offset}. */
    private void readBlocks(int count, byte[] out, int offset) throws IOException {
        try {
            store.pages().readBlocks(timeline, rel, lsn, (int) nextBlock, count, checksums, missingAsZeros, out, offset);
        } catch (StoreException e) {
            throw new IOException(e.getMessage(), e);
        }
        nextBlock += count;
    }
}
