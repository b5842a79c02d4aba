package dev.zenith.server.basebackup;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.io.IOException;
import java.io.InputStream;

/**
 * The bytes of one segment file of a relation fork as of an image: each block's newest stored
 * version at or below the image LSN, read from the store page by page (no file is written).
 */
final class RelationSegmentStream extends InputStream {
    private final Store store;
    private final TimelineId timeline;
    private final RelTag rel;
    private final Lsn lsn;
    private final long endBlock;
    private long nextBlock;
    private byte[] page;
    private int pos;

    RelationSegmentStream(Store store, TimelineId timeline, RelTag rel, Lsn lsn, long firstBlock, long endBlock) {
        this.store = store;
        this.timeline = timeline;
        this.rel = rel;
        this.lsn = lsn;
        this.nextBlock = firstBlock;
        this.endBlock = endBlock;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        int n = 0;
        while (n < len) {
            if (page == null || pos == page.length) {
                if (nextBlock == endBlock) {
                    break;
                }
                page = fetch(nextBlock++);
                pos = 0;
            }
            int k = Math.min(len - n, page.length - pos);
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

    private byte[] fetch(long block) throws IOException {
        PageVersion v = store.getPage(timeline, rel, (int) block, lsn).orElseThrow(() ->
                new IOException("no stored version of " + rel.path() + " block " + block + " at or below " + lsn));
        if (v.page().length != PageLayout.BLCKSZ) {
            throw new IOException(rel.path() + " block " + block + " has " + v.page().length + " bytes");
        }
        return v.page();
    }
}
