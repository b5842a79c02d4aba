package dev.zenith.wal.record;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.segment.WalGeometry;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** DecodeXLogRecord: splits a whole, CRC-checked record into block references and main data. */
public final class RecordParser {
    static final int XLR_MAX_BLOCK_ID = 32;
    static final int XLR_BLOCK_ID_DATA_SHORT = 255;
    static final int XLR_BLOCK_ID_DATA_LONG = 254;
    static final int XLR_BLOCK_ID_ORIGIN = 253;
    static final int XLR_BLOCK_ID_TOPLEVEL_XID = 252;

    /** ForkNumber.values() clones its array on every call; this is per block in the hot path. */
    private static final ForkNumber[] FORKS = ForkNumber.values();

    private RecordParser() {
    }

    /**
     * @param bytes the whole record (header first), owned by the result from now on
     * @param startLsn ReadRecPtr
     * @param endLsn EndRecPtr
     */
    public static DecodedRecord parse(byte[] bytes, long startLsn, long endLsn) throws RecordFormatException {
        final int total = RecordHeader.totalLength(bytes, 0);
        int pos = WalGeometry.RECORD_HEADER_SIZE;
        int remaining = total - pos;
        int dataTotal = 0;
        int mainDataLength = 0;
        int origin = -1;
        long toplevelXid = -1;
        int maxBlockId = -1;
        RelFileNode lastRel = null;
        List<BlockReference> blocks = List.of();

        while (remaining > dataTotal) {
            need(remaining, 1);
            int blockId = bytes[pos] & 0xFF;
            pos++;
            remaining--;
            if (blockId == XLR_BLOCK_ID_DATA_SHORT) {
                need(remaining, 1);
                mainDataLength = bytes[pos] & 0xFF;
                pos++;
                remaining--;
                dataTotal += mainDataLength;
                break; // main data is always last
            } else if (blockId == XLR_BLOCK_ID_DATA_LONG) {
                need(remaining, 4);
                mainDataLength = LittleEndian.i32(bytes, pos);
                if (mainDataLength < 0) {
                    throw new RecordFormatException("main data length " + Integer.toUnsignedString(mainDataLength)
                            + " too large", true);
                }
                pos += 4;
                remaining -= 4;
                dataTotal += mainDataLength;
                break;
            } else if (blockId == XLR_BLOCK_ID_ORIGIN) {
                need(remaining, 2);
                origin = LittleEndian.u16(bytes, pos);
                pos += 2;
                remaining -= 2;
            } else if (blockId == XLR_BLOCK_ID_TOPLEVEL_XID) {
                need(remaining, 4);
                toplevelXid = LittleEndian.u32(bytes, pos);
                pos += 4;
                remaining -= 4;
            } else if (blockId <= XLR_MAX_BLOCK_ID) {
                if (blockId <= maxBlockId) {
                    throw new RecordFormatException("out-of-order block_id " + blockId, false);
                }
                maxBlockId = blockId;
                need(remaining, 3);
                int forkFlags = bytes[pos] & 0xFF;
                int dataLength = LittleEndian.u16(bytes, pos + 1);
                pos += 3;
                remaining -= 3;
                boolean hasData = (forkFlags & BlockReference.BKPBLOCK_HAS_DATA) != 0;
                if (hasData && dataLength == 0) {
                    throw new RecordFormatException("BKPBLOCK_HAS_DATA set, but no data included", false);
                }
                if (!hasData && dataLength != 0) {
                    throw new RecordFormatException("BKPBLOCK_HAS_DATA not set, but data length is " + dataLength,
                            false);
                }
                dataTotal += dataLength;
                int imageInfo = 0;
                int imageLength = 0;
                int holeOffset = 0;
                int holeLength = 0;
                if ((forkFlags & BlockReference.BKPBLOCK_HAS_IMAGE) != 0) {
                    need(remaining, 5);
                    imageLength = LittleEndian.u16(bytes, pos);
                    holeOffset = LittleEndian.u16(bytes, pos + 2);
                    imageInfo = bytes[pos + 4] & 0xFF;
                    pos += 5;
                    remaining -= 5;
                    boolean hasHole = (imageInfo & BlockReference.BKPIMAGE_HAS_HOLE) != 0;
                    boolean compressed = ImageCompression.fromInfo(imageInfo) != ImageCompression.NONE;
                    if (compressed) {
                        if (hasHole) {
                            need(remaining, 2);
                            holeLength = LittleEndian.u16(bytes, pos);
                            pos += 2;
                            remaining -= 2;
                        }
                    } else {
                        holeLength = WalGeometry.BLCKSZ - imageLength;
                    }
                    dataTotal += imageLength;
                    if (hasHole && (holeOffset == 0 || holeLength == 0 || imageLength == WalGeometry.BLCKSZ)) {
                        throw new RecordFormatException("BKPIMAGE_HAS_HOLE set, but hole offset " + holeOffset
                                + " length " + holeLength + " block image length " + imageLength, false);
                    }
                    if (!hasHole && (holeOffset != 0 || holeLength != 0)) {
                        throw new RecordFormatException("BKPIMAGE_HAS_HOLE not set, but hole offset " + holeOffset
                                + " length " + holeLength, false);
                    }
                    if (compressed && imageLength == WalGeometry.BLCKSZ) {
                        throw new RecordFormatException("BKPIMAGE_COMPRESSED set, but block image length "
                                + imageLength, false);
                    }
                    if (!hasHole && !compressed && imageLength != WalGeometry.BLCKSZ) {
                        throw new RecordFormatException("neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, "
                                + "but block image length is " + imageLength, false);
                    }
                }
                RelFileNode rel;
                if ((forkFlags & BlockReference.BKPBLOCK_SAME_REL) == 0) {
                    need(remaining, 12);
                    rel = new RelFileNode(LittleEndian.i32(bytes, pos), LittleEndian.i32(bytes, pos + 4),
                            LittleEndian.i32(bytes, pos + 8));
                    pos += 12;
                    remaining -= 12;
                    lastRel = rel;
                } else {
                    if (lastRel == null) {
                        throw new RecordFormatException("BKPBLOCK_SAME_REL set but no previous rel", false);
                    }
                    rel = lastRel;
                }
                need(remaining, 4);
                long blockNumber = LittleEndian.u32(bytes, pos);
                pos += 4;
                remaining -= 4;
                int forkId = forkFlags & BlockReference.BKPBLOCK_FORK_MASK;
                if (forkId > 3) {
                    throw new RecordFormatException("invalid fork number " + forkId + " in block " + blockId, false);
                }
                if (blocks.isEmpty()) {
                    blocks = new ArrayList<>(4);
                }
                blocks.add(new BlockReference(bytes, blockId, new RelTag(rel, FORKS[forkId]), blockNumber,
                        forkFlags, imageInfo, imageLength, holeOffset, holeLength, dataLength));
            } else {
                throw new RecordFormatException("invalid block_id " + blockId, false);
            }
        }
        if (remaining != dataTotal) {
            throw new RecordFormatException("record with invalid length: headers and payloads take "
                    + (pos + dataTotal) + " bytes, xl_tot_len is " + total, true);
        }
        for (BlockReference b : blocks) {
            pos = b.placePayload(pos);
        }
        return new DecodedRecord(startLsn, endLsn, bytes, blocks.isEmpty() ? blocks : Collections.unmodifiableList(blocks),
                pos, mainDataLength, origin, toplevelXid);
    }

    private static void need(int remaining, int n) throws RecordFormatException {
        if (remaining < n) {
            throw new RecordFormatException("record too short for its block headers", true);
        }
    }
}
