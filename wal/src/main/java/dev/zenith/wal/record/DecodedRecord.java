package dev.zenith.wal.record;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * One WAL record, CRC-verified, with its block references decoded. It owns a copy of the record's
 * bytes (header included, page headers removed), so it stays valid after the decoder moves on.
 */
public final class DecodedRecord implements DecodeResult {
    /** XLR_INFO_MASK: the low info bits belong to the WAL machinery, the high ones to the rmgr. */
    public static final int XLR_INFO_MASK = 0x0F;
    public static final int XLR_SPECIAL_REL_UPDATE = 0x01;
    public static final int XLR_CHECK_CONSISTENCY = 0x02;
    private static final int XLOG_SWITCH = 0x40;

    private final long startLsn;
    private final long endLsn;
    private final byte[] bytes;
    private final List<BlockReference> blocks;
    private final int mainDataOffset;
    private final int mainDataLength;
    private final int origin;
    private final long toplevelXid;

    DecodedRecord(long startLsn, long endLsn, byte[] bytes, List<BlockReference> blocks, int mainDataOffset,
                  int mainDataLength, int origin, long toplevelXid) {
        this.startLsn = startLsn;
        this.endLsn = endLsn;
        this.bytes = bytes;
        this.blocks = blocks;
        this.mainDataOffset = mainDataOffset;
        this.mainDataLength = mainDataLength;
        this.origin = origin;
        this.toplevelXid = toplevelXid;
    }

    @Override
    public Kind kind() {
        return Kind.RECORD;
    }

    /** ReadRecPtr: where the record header starts. */
    public Lsn startLsn() {
        return Lsn.of(startLsn);
    }

    /** EndRecPtr: the first byte after the record (page headers it crossed included). */
    public Lsn endLsn() {
        return Lsn.of(endLsn);
    }

    /**
     * The end as xlogreader's EndRecPtr has it, MAXALIGNed: the LSN XLogInsert returns for this
     * record, which redo (and the primary) stamps as pd_lsn into every page the record changes.
     */
    public Lsn alignedEndLsn() {
        return Lsn.of(WalGeometry.maxAlign(endLsn));
    }

    /**
     * Where the next record starts: MAXALIGN(end), past a page header if that is a page boundary;
     * after XLOG_SWITCH, the first record of the next segment.
     */
    public Lsn nextRecordLsn() {
        long next = WalGeometry.maxAlign(endLsn);
        if (isSwitch()) {
            long segStart = WalSegments.segmentStart(WalSegments.segmentNumber(endLsn - 1) + 1);
            next = Math.max(next, segStart);
        }
        return Lsn.of(WalSegments.skipPageHeader(next));
    }

    /**
     * xlogreader's EndRecPtr after this record: MAXALIGN(end), or the next segment's start after
     * XLOG_SWITCH. When this is the last record recovery replays, recovery ends here, and a new
     * PostgreSQL timeline begins here.
     */
    public Lsn readerEndLsn() {
        if (isSwitch()) {
            return Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(endLsn - 1) + 1));
        }
        return Lsn.of(WalGeometry.maxAlign(endLsn));
    }

    public int totalLength() {
        return RecordHeader.totalLength(bytes, 0);
    }

    /** xl_xid, unsigned. */
    public long xid() {
        return RecordHeader.xid(bytes, 0);
    }

    public Lsn prevLsn() {
        return Lsn.of(RecordHeader.prev(bytes, 0));
    }

    /** xl_info, all eight bits. */
    public int info() {
        return RecordHeader.info(bytes, 0);
    }

    /** The rmgr's part of xl_info (XLogRecGetInfo(r) & ~XLR_INFO_MASK). */
    public int rmgrInfo() {
        return info() & ~XLR_INFO_MASK;
    }

    public int rmid() {
        return RecordHeader.rmid(bytes, 0);
    }

    public String rmgrName() {
        return ResourceManager.name(rmid());
    }

    public int crc() {
        return RecordHeader.crc(bytes, 0);
    }

    public List<BlockReference> blocks() {
        return blocks;
    }

    /** The record's main data as a read-only view. */
    public ByteBuffer mainData() {
        return ByteBuffer.wrap(bytes, mainDataOffset, mainDataLength).slice().asReadOnlyBuffer()
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    public int mainDataLength() {
        return mainDataLength;
    }

    /** Offset of the main data in {@link #rawBytes()}, for decoders that read it in place. */
    public int mainDataOffset() {
        return mainDataOffset;
    }

    /** The record bytes themselves (not a copy: do not modify). */
    public byte[] rawBytes() {
        return bytes;
    }

    /** Replication origin id, or -1 if the record carries none. */
    public int origin() {
        return origin;
    }

    /** Top-level xid for a subtransaction's first record, or -1 if none. */
    public long toplevelXid() {
        return toplevelXid;
    }

    /** Sum of bimg_len over the blocks with an image: what pg_waldump subtracts to get "rec" length. */
    public int fullPageImageBytes() {
        int n = 0;
        for (BlockReference b : blocks) {
            if (b.hasImage()) {
                n += b.imageLength();
            }
        }
        return n;
    }

    public boolean isSwitch() {
        return rmid() == ResourceManager.XLOG && rmgrInfo() == XLOG_SWITCH;
    }

    @Override
    public String toString() {
        return rmgrName() + " record at " + startLsn() + " len " + totalLength() + " info 0x"
                + Integer.toHexString(info()) + " blocks " + blocks.size();
    }
}
