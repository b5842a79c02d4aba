package dev.zenith.wal.testing;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.page.PageHeader;
import dev.zenith.wal.record.RecordCrc;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds a WAL stream by hand (like Neon's wal_craft, but without a server): XLOG NOOP records of
 * chosen sizes, laid out with real page headers, so that records start, end and split exactly where
 * a test wants (headers split across pages, records spanning pages and segments). pg_waldump
 * accepts the result, which the crafted-WAL test checks.
 */
public final class WalCrafter {
    private static final int RM_XLOG = 0;
    private static final int XLOG_NOOP = 0x20;
    private static final int XLOG_SWITCH = 0x40;
    private static final int RM_TBLSPC = 5;
    /** A block reference without image or data, its relation given: header (4), RelFileNode (12), block (4). */
    private static final int BLOCK_HEADER_SIZE = 20;

    /** What was written: the record's start LSN, total length and its main data. */
    public record Crafted(Lsn start, int totalLength, byte[] mainData) {
    }

    private final long start;
    private final int timeline;
    private final long systemId;
    private byte[] out = new byte[WalGeometry.WAL_SEGMENT_SIZE];
    private long pos;
    private long prev;
    private final List<Crafted> records = new ArrayList<>();

    /** @param segmentStart where the stream starts (a segment boundary) */
    public WalCrafter(Lsn segmentStart, int timeline, long systemId) {
        if (!WalSegments.isSegmentBoundary(segmentStart.value())) {
            throw new IllegalArgumentException("start at a segment boundary");
        }
        this.start = segmentStart.value();
        this.pos = start;
        this.prev = 0;
        this.timeline = timeline;
        this.systemId = systemId;
    }

    /** Where the next record will start. */
    public long nextRecordStart() {
        return WalSegments.skipPageHeader(WalGeometry.maxAlign(pos));
    }

    /** Appends an XLOG NOOP record whose main data is {@code dataLength} bytes; returns what was written. */
    public Crafted noop(int dataLength) {
        byte[] data = new byte[dataLength];
        for (int i = 0; i < dataLength; i++) {
            data[i] = (byte) (i * 31 + records.size());
        }
        return record(RM_XLOG, XLOG_NOOP, data);
    }

    /**
     * Appends an XLOG NOOP record that also references block {@code block} of {@code rel} (no image, no
     * block data), as every data-changing record does: the store indexes such a reference.
     */
    public Crafted noopTouching(RelTag rel, int block, int dataLength) {
        byte[] data = new byte[dataLength];
        for (int i = 0; i < dataLength; i++) {
            data[i] = (byte) (i * 31 + records.size());
        }
        return record(RM_XLOG, XLOG_NOOP, rel, block, data);
    }

    /** Appends a Tablespace/CREATE record (xl_tblspc_create_rec: the OID, then the NUL-terminated location). */
    public Crafted tablespaceCreate(int oid, String location) {
        byte[] path = location.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] data = new byte[4 + path.length + 1];
        LittleEndian.put32(data, 0, oid);
        System.arraycopy(path, 0, data, 4, path.length);
        return record(RM_TBLSPC, 0x00, data);
    }

    /** Appends a record of resource manager {@code rmid} with only main data (no block references). */
    public Crafted record(int rmid, int info, byte[] data) {
        return record(rmid, info, null, 0, data);
    }

    /** A record with main data and, unless {@code rel} is null, a reference to block {@code block} of it. */
    private Crafted record(int rmid, int info, RelTag rel, int block, byte[] data) {
        int dataLength = data.length;
        int dataHeader = dataLength <= 255 ? 2 : 5;
        int blockHeader = rel == null ? 0 : BLOCK_HEADER_SIZE;
        int total = WalGeometry.RECORD_HEADER_SIZE + blockHeader + dataHeader + dataLength;
        byte[] rec = new byte[total];
        LittleEndian.put32(rec, 0, total);
        LittleEndian.put32(rec, 4, 0);
        rec[16] = (byte) info;
        rec[17] = (byte) rmid;
        int p = WalGeometry.RECORD_HEADER_SIZE;
        if (rel != null) { // XLogRecordBlockHeader (id 0, fork, no data) + RelFileNode + BlockNumber
            rec[p] = 0;
            rec[p + 1] = (byte) rel.fork().id();
            LittleEndian.put32(rec, p + 4, rel.node().spcOid());
            LittleEndian.put32(rec, p + 8, rel.node().dbOid());
            LittleEndian.put32(rec, p + 12, rel.node().relNode());
            LittleEndian.put32(rec, p + 16, block);
            p += blockHeader;
        }
        if (dataLength <= 255) {
            rec[p] = (byte) 255;
            rec[p + 1] = (byte) dataLength;
        } else {
            rec[p] = (byte) 254;
            LittleEndian.put32(rec, p + 1, dataLength);
        }
        System.arraycopy(data, 0, rec, p + dataHeader, dataLength);
        zeroPadTo(WalGeometry.maxAlign(pos));
        if (WalSegments.isPageBoundary(pos)) {
            pageHeader(0);
        }
        long recStart = pos;
        LittleEndian.put64(rec, 8, prev);
        LittleEndian.put32(rec, 20, RecordCrc.compute(rec, 0, total));
        int written = 0;
        while (written < total) {
            if (WalSegments.isPageBoundary(pos)) {
                pageHeader(total - written);
            }
            int n = (int) Math.min(total - written, WalGeometry.XLOG_BLCKSZ - WalSegments.pageOffset(pos));
            put(rec, written, n);
            written += n;
        }
        prev = recStart;
        Crafted c = new Crafted(Lsn.of(recStart), total, data);
        records.add(c);
        return c;
    }

    /**
     * Appends an XLOG_SWITCH record and the padding PostgreSQL writes after it: the rest of the segment's pages,
     * each with its page header and zeros. The next record starts at the next segment.
     */
    public Crafted walSwitch() {
        Crafted c = record(RM_XLOG, XLOG_SWITCH, new byte[0]);
        zeroPadTo(WalGeometry.maxAlign(pos));
        while (!WalSegments.isSegmentBoundary(pos)) {
            if (WalSegments.isPageBoundary(pos)) {
                pageHeader(0);
            }
            zeroPadTo(pos + WalGeometry.XLOG_BLCKSZ - WalSegments.pageOffset(pos));
        }
        return c;
    }

    /** Appends filler records so that the next record starts exactly at {@code target} (MAXALIGNed). */
    public void fillUntil(long target) {
        while (nextRecordStart() != target) {
            long cur = nextRecordStart();
            if (Long.compareUnsigned(cur, target) > 0) {
                throw new IllegalStateException("already past " + Lsn.of(target));
            }
            Integer fit = null;
            for (int len = 0; len <= 3000 && fit == null; len++) {
                if (startAfter(cur, WalGeometry.RECORD_HEADER_SIZE + (len <= 255 ? 2 : 5) + len) == target) {
                    fit = len;
                }
            }
            noop(fit != null ? fit : (target - cur > 4000 ? 2000 : 0));
        }
    }

    /** Where the record after one of {@code total} bytes starting at {@code from} would start. */
    private static long startAfter(long from, int total) {
        long p = from;
        int left = total;
        while (left > 0) {
            if (WalSegments.isPageBoundary(p)) {
                p += WalSegments.pageHeaderSize(p);
            }
            int n = (int) Math.min(left, WalGeometry.XLOG_BLCKSZ - WalSegments.pageOffset(p));
            p += n;
            left -= n;
        }
        return WalSegments.skipPageHeader(WalGeometry.maxAlign(p));
    }

    private void pageHeader(int remaining) {
        boolean isLong = WalSegments.isSegmentBoundary(pos);
        int info = (isLong ? PageHeader.XLP_LONG_HEADER : 0) | (remaining > 0 ? PageHeader.XLP_FIRST_IS_CONTRECORD : 0);
        PageHeader h = new PageHeader(WalGeometry.XLOG_PAGE_MAGIC, info, timeline, pos, remaining,
                isLong ? systemId : 0, isLong ? WalGeometry.WAL_SEGMENT_SIZE : 0, isLong ? WalGeometry.XLOG_BLCKSZ : 0);
        byte[] b = new byte[h.size()];
        h.write(b, 0);
        put(b, 0, b.length);
    }

    private void zeroPadTo(long target) {
        put(new byte[(int) (target - pos)], 0, (int) (target - pos));
    }

    private void put(byte[] b, int off, int len) {
        int at = (int) (pos - start);
        if (at + len > out.length) {
            out = Arrays.copyOf(out, Math.max(out.length * 2, at + len));
        }
        System.arraycopy(b, off, out, at, len);
        pos += len;
    }

    public List<Crafted> records() {
        return List.copyOf(records);
    }

    /** The first byte after the last record. */
    public Lsn end() {
        return Lsn.of(pos);
    }

    /** The stream from the start, padded with zeros to whole segments (as PostgreSQL's files are). */
    public byte[] segments() {
        long len = pos - start;
        int segs = (int) ((len + WalGeometry.WAL_SEGMENT_SIZE - 1) / WalGeometry.WAL_SEGMENT_SIZE);
        return Arrays.copyOf(out, segs * WalGeometry.WAL_SEGMENT_SIZE);
    }
}
