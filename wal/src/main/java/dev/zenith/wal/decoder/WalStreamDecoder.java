package dev.zenith.wal.decoder;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.page.PageHeader;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.RecordCrc;
import dev.zenith.wal.record.RecordFormatException;
import dev.zenith.wal.record.RecordHeader;
import dev.zenith.wal.record.RecordParser;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decodes a PostgreSQL 15 WAL byte stream (page headers included, as in segment files and as
 * streamed by replication) fed in arbitrary chunks. Not thread-safe: one decoder per stream.
 *
 * <p>Start at a page boundary (then a record tail continuing from the previous page is skipped
 * using xlp_rem_len; {@link #firstRecordLsn()} says where the first whole record starts) or at the
 * exact start of a record in the middle of a page. Then {@link #feed} bytes and {@link #poll()}
 * until it returns {@link NeedMoreData}. After an {@link EndOfWal}, poll keeps returning it.
 */
public final class WalStreamDecoder {
    /** MaxAllocSize: xlogreader refuses longer records. */
    private static final int MAX_RECORD_LENGTH = 0x3FFFFFFF;
    private static final int EXACT_ALLOCATION_LIMIT = 1 << 20;

    private final int expectedTimeline;
    private long expectedSystemId;
    private int latestTimeline;

    private byte[] in = new byte[64 * 1024];
    private int inPos;
    private int inEnd;
    /** LSN of in[inPos]. */
    private long pos;

    /** Bytes up to here are discarded unread: alignment padding, a continuation we start inside, a switched segment. */
    private long skipUntil;
    /** Started at a page boundary and not yet past the continuation of an earlier record. */
    private boolean skippingContinuation;
    private long firstRecordLsn = -1;
    /** xl_prev the next record must carry; -1 when unknown (then only prev < start is checked). */
    private long expectedPrev;

    private final byte[] header = new byte[WalGeometry.RECORD_HEADER_SIZE];
    private boolean inRecord;
    private long recordStart;
    private int recordTotal = -1;
    private int recordFilled;
    private byte[] record;

    private EndOfWal end;

    WalStreamDecoder(WalDecoderBuilder b) {
        this.pos = b.start;
        this.skipUntil = b.start;
        this.expectedTimeline = b.timeline;
        this.latestTimeline = b.timeline;
        this.expectedSystemId = b.systemId;
        this.expectedPrev = b.prev;
        this.skippingContinuation = WalSegments.isPageBoundary(b.start) && !b.startIsRecord;
        if (!WalSegments.isPageBoundary(b.start)) {
            if (WalSegments.pageOffset(b.start) < WalSegments.pageHeaderSize(WalSegments.pageStart(b.start))
                    || b.start % WalGeometry.MAXIMUM_ALIGNOF != 0) {
                throw new IllegalArgumentException("not a page boundary nor a possible record start: " + Lsn.of(b.start));
            }
            firstRecordLsn = b.start;
        }
    }

    /** A decoder with default checks starting at {@code start}. */
    public static WalStreamDecoder startingAt(Lsn start) {
        return builder(start).build();
    }

    public static WalDecoderBuilder builder(Lsn start) {
        return new WalDecoderBuilder(start.value());
    }


    public void feed(byte[] chunk) {
        feed(chunk, 0, chunk.length);
    }

    public void feed(byte[] chunk, int off, int len) {
        ensureRoom(len);
        System.arraycopy(chunk, off, in, inEnd, len);
        inEnd += len;
    }

    /** Consumes the buffer's remaining bytes. */
    public void feed(ByteBuffer chunk) {
        int len = chunk.remaining();
        ensureRoom(len);
        chunk.get(in, inEnd, len);
        inEnd += len;
    }

    private void ensureRoom(int len) {
        if (in.length - inEnd >= len) {
            return;
        }
        int live = inEnd - inPos;
        if (live + len <= in.length && inPos >= in.length / 2) {
            System.arraycopy(in, inPos, in, 0, live);
        } else {
            byte[] bigger = new byte[Math.max(in.length * 2, live + len)];
            System.arraycopy(in, inPos, bigger, 0, live);
            in = bigger;
        }
        inPos = 0;
        inEnd = live;
    }

    /** The LSN the next fed byte is taken to be at. */
    public Lsn feedPosition() {
        return Lsn.of(pos + (inEnd - inPos));
    }

    /**
     * The record the bytes polled so far end inside of: its start, and once its header is complete its
     * resource manager and total length ({@code -1} before).
     */
    public record PendingRecord(Lsn start, int rmid, int totalLength) {
    }

    /** The record being assembled when the bytes fed so far end inside one (call after {@link #poll()}). */
    public java.util.Optional<PendingRecord> pendingRecord() {
        if (!inRecord || end != null) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(recordTotal < 0 ? new PendingRecord(Lsn.of(recordStart), -1, -1)
                : new PendingRecord(Lsn.of(recordStart), RecordHeader.rmid(header, 0), recordTotal));
    }

    /** Where the first whole record starts, once known (null before). */
    public Lsn firstRecordLsn() {
        return firstRecordLsn < 0 ? null : Lsn.of(firstRecordLsn);
    }

    /**
     * Where each complete record of {@code wal} (WAL bytes from {@code start}) ends, in order, up to the
     * first record that is incomplete or invalid.
     */
    public static List<Lsn> recordEnds(Lsn start, byte[] wal) {
        WalStreamDecoder d = startingAt(start);
        d.feed(wal, 0, wal.length);
        List<Lsn> ends = new ArrayList<>();
        for (DecodeResult r = d.poll(); r instanceof DecodedRecord rec; r = d.poll()) {
            ends.add(rec.endLsn());
        }
        return ends;
    }

    /** The next record decoded, {@link NeedMoreData#INSTANCE}, or the (sticky) {@link EndOfWal}. */
    public DecodeResult poll() {
        while (end == null) {
            int available = inEnd - inPos;
            if (pos < skipUntil) {
                int n = (int) Math.min(available, skipUntil - pos);
                if (n == 0) {
                    return NeedMoreData.INSTANCE;
                }
                consume(n);
                continue;
            }
            if (WalSegments.isPageBoundary(pos)) {
                if (available < WalGeometry.SHORT_PAGE_HEADER_SIZE) {
                    return NeedMoreData.INSTANCE;
                }
                boolean wantsLong = (PageHeader.read(in, inPos, false).info() & PageHeader.XLP_LONG_HEADER) != 0;
                if (wantsLong && available < WalGeometry.LONG_PAGE_HEADER_SIZE) {
                    return NeedMoreData.INSTANCE;
                }
                PageHeader ph = PageHeader.read(in, inPos, true);
                if (!acceptPageHeader(ph)) {
                    break;
                }
                consume(ph.size());
                continue;
            }
            if (available == 0) {
                return NeedMoreData.INSTANCE;
            }
            DecodedRecord r = assemble(available);
            if (r != null) {
                return r;
            }
        }
        return end;
    }

    private void consume(int n) {
        inPos += n;
        pos += n;
    }

    /** "log segment NAME, offset N" for messages; built only on failure (String.format is slow per page). */
    private String segmentAt(PageHeader ph) {
        return WalSegments.fileName(Math.max(ph.timeline(), 1), pos) + ", offset " + WalSegments.segmentOffset(pos);
    }

    /** XLogReaderValidatePageHeader plus the continuation bookkeeping; false when WAL ends here. */
    private boolean acceptPageHeader(PageHeader ph) {
        long validEnd = inRecord ? recordStart : pos;
        if (ph.magic() != WalGeometry.XLOG_PAGE_MAGIC) {
            boolean zeros = ph.magic() == 0 && ph.info() == 0 && ph.pageAddress() == 0 && ph.timeline() == 0;
            return fail(zeros ? EndReason.ZEROS : EndReason.BAD_MAGIC, validEnd, pos,
                    String.format("invalid magic number %04X in log segment %s", ph.magic(), segmentAt(ph)));
        }
        if ((ph.info() & ~PageHeader.XLP_ALL_FLAGS) != 0) {
            return fail(EndReason.BAD_PAGE_HEADER, validEnd, pos,
                    String.format("invalid info bits %04X in log segment %s", ph.info(), segmentAt(ph)));
        }
        if (WalSegments.isSegmentBoundary(pos)) {
            if (!ph.isLong()) {
                return fail(EndReason.BAD_PAGE_HEADER, validEnd, pos,
                        String.format("invalid info bits %04X in log segment %s", ph.info(), segmentAt(ph)));
            }
            if (ph.segmentSize() != WalGeometry.WAL_SEGMENT_SIZE || ph.xlogBlockSize() != WalGeometry.XLOG_BLCKSZ) {
                return fail(EndReason.BAD_PAGE_HEADER, validEnd, pos, "WAL file has segment size "
                        + ph.segmentSize() + " and page size " + ph.xlogBlockSize() + ", expected 16 MiB and 8 KiB");
            }
            if (expectedSystemId != 0 && ph.systemId() != expectedSystemId) {
                return fail(EndReason.BAD_PAGE_HEADER, validEnd, pos, "WAL file is from different database system: "
                        + "WAL file database system identifier is " + Long.toUnsignedString(ph.systemId())
                        + ", expected " + Long.toUnsignedString(expectedSystemId));
            }
            expectedSystemId = ph.systemId();
        } else if (ph.isLong()) {
            return fail(EndReason.BAD_PAGE_HEADER, validEnd, pos,
                    String.format("invalid info bits %04X in log segment %s", ph.info(), segmentAt(ph)));
        }
        if (ph.pageAddress() != pos) {
            return fail(EndReason.BAD_PAGE_ADDRESS, validEnd, pos, "unexpected pageaddr " + Lsn.of(ph.pageAddress())
                    + " in log segment " + segmentAt(ph));
        }
        if (Integer.compareUnsigned(ph.timeline(), latestTimeline) < 0
                || (expectedTimeline != 0 && ph.timeline() != expectedTimeline)) {
            return fail(EndReason.BAD_TIMELINE, validEnd, pos, "out-of-sequence timeline ID " + ph.timeline()
                    + " (after " + latestTimeline + ") in log segment " + segmentAt(ph));
        }
        latestTimeline = ph.timeline();

        int pageSpace = WalGeometry.XLOG_BLCKSZ - ph.size();
        if (inRecord) {
            if (!ph.isContinuation()) {
                return fail(EndReason.MISSING_CONTRECORD, validEnd, pos, "there is no contrecord flag at " + Lsn.of(pos));
            }
            long total = recordTotal >= 0 ? recordTotal : RecordHeader.totalLength(header, 0);
            long expected = Integer.toUnsignedLong((int) total) - recordFilled;
            if (ph.remainingLength() == 0 || Integer.toUnsignedLong(ph.remainingLength()) != expected) {
                return fail(EndReason.MISSING_CONTRECORD, validEnd, pos, "invalid contrecord length "
                        + Integer.toUnsignedString(ph.remainingLength()) + " (expected " + expected + ") at " + Lsn.of(pos));
            }
        } else if (skippingContinuation) {
            if (ph.isContinuation()) {
                long rest = WalGeometry.maxAlign(Integer.toUnsignedLong(ph.remainingLength()));
                if (rest >= pageSpace) {
                    skipUntil = pos + WalGeometry.XLOG_BLCKSZ; // the continuation covers this page too
                    return true;
                }
                skipUntil = pos + ph.size() + rest;
            }
            skippingContinuation = false;
            firstRecordLsn = pos + ph.size() + (ph.isContinuation()
                    ? WalGeometry.maxAlign(Integer.toUnsignedLong(ph.remainingLength())) : 0);
        } else if (ph.isContinuation()) {
            return fail(EndReason.UNEXPECTED_CONTRECORD, validEnd, pos,
                    "contrecord is requested by " + Lsn.of(pos + ph.size()));
        }
        return true;
    }

    /** Copies what is on this page into the record being read; returns it when complete. */
    private DecodedRecord assemble(int available) {
        if (!inRecord) {
            inRecord = true;
            recordStart = pos;
            recordFilled = 0;
            recordTotal = -1;
        }
        int onPage = WalGeometry.XLOG_BLCKSZ - WalSegments.pageOffset(pos);
        int n = Math.min(available, onPage);
        if (recordTotal < 0) {
            n = Math.min(n, WalGeometry.RECORD_HEADER_SIZE - recordFilled);
            System.arraycopy(in, inPos, header, recordFilled, n);
            recordFilled += n;
            consume(n);
            if (recordFilled >= 4 && !checkLength(RecordHeader.totalLength(header, 0))) {
                return null;
            }
            if (recordFilled < WalGeometry.RECORD_HEADER_SIZE || !checkHeader()) {
                return null;
            }
            recordTotal = RecordHeader.totalLength(header, 0);
            record = new byte[recordTotal <= EXACT_ALLOCATION_LIMIT ? recordTotal : EXACT_ALLOCATION_LIMIT];
            System.arraycopy(header, 0, record, 0, WalGeometry.RECORD_HEADER_SIZE);
            return recordFilled == recordTotal ? finishRecord() : null;
        }
        n = Math.min(n, recordTotal - recordFilled);
        if (recordFilled + n > record.length) {
            // grow as bytes arrive, so a garbage length cannot make us allocate a gigabyte up front
            record = Arrays.copyOf(record, (int) Math.min(recordTotal, Math.max(2L * record.length, recordFilled + n)));
        }
        System.arraycopy(in, inPos, record, recordFilled, n);
        recordFilled += n;
        consume(n);
        return recordFilled == recordTotal ? finishRecord() : null;
    }

    private boolean checkLength(int total) {
        if (total == 0) {
            return fail(EndReason.ZEROS, recordStart, recordStart, "invalid record length at " + Lsn.of(recordStart)
                    + ": wanted 24, got 0");
        }
        if (Integer.compareUnsigned(total, WalGeometry.RECORD_HEADER_SIZE) < 0) {
            return fail(EndReason.BOGUS_LENGTH, recordStart, recordStart, "invalid record length at "
                    + Lsn.of(recordStart) + ": wanted 24, got " + total);
        }
        if (Integer.compareUnsigned(total, MAX_RECORD_LENGTH) > 0) {
            return fail(EndReason.BOGUS_LENGTH, recordStart, recordStart, "record length "
                    + Integer.toUnsignedString(total) + " at " + Lsn.of(recordStart) + " too long");
        }
        return true;
    }

    /** ValidXLogRecordHeader. */
    private boolean checkHeader() {
        int rmid = RecordHeader.rmid(header, 0);
        if (!ResourceManager.isValid(rmid)) {
            return fail(EndReason.BAD_RMGR, recordStart, recordStart, "invalid resource manager ID " + rmid + " at "
                    + Lsn.of(recordStart));
        }
        long prev = RecordHeader.prev(header, 0);
        boolean prevOk = expectedPrev >= 0 ? prev == expectedPrev : Long.compareUnsigned(prev, recordStart) < 0;
        if (!prevOk) {
            return fail(EndReason.BAD_PREV_LINK, recordStart, recordStart, "record with incorrect prev-link "
                    + Lsn.of(prev) + " at " + Lsn.of(recordStart));
        }
        return true;
    }

    private DecodedRecord finishRecord() {
        byte[] bytes = record.length == recordTotal ? record : Arrays.copyOf(record, recordTotal);
        record = null;
        inRecord = false;
        if (!RecordCrc.isValid(bytes, 0, recordTotal)) {
            fail(EndReason.BAD_CRC, recordStart, recordStart, "incorrect resource manager data checksum in record at "
                    + Lsn.of(recordStart));
            return null;
        }
        DecodedRecord r;
        try {
            r = RecordParser.parse(bytes, recordStart, pos);
        } catch (RecordFormatException e) {
            fail(e.isLengthMismatch() ? EndReason.BOGUS_LENGTH : EndReason.BAD_BLOCK_REFERENCE, recordStart,
                    recordStart, e.getMessage() + " at " + Lsn.of(recordStart));
            return null;
        }
        expectedPrev = recordStart;
        skipUntil = WalGeometry.maxAlign(pos);
        if (r.isSwitch()) {
            // the rest of the segment is unused; the next record starts in the next segment
            skipUntil = WalSegments.segmentStart(WalSegments.segmentNumber(pos - 1) + 1);
        }
        return r;
    }

    private boolean fail(EndReason reason, long validEnd, long problemAt, String message) {
        end = new EndOfWal(reason, Lsn.of(validEnd), Lsn.of(problemAt), message);
        inRecord = false;
        record = null;
        return false;
    }
}
