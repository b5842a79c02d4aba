package dev.zenith.wal.record;

import dev.zenith.wal.RelTag;
import dev.zenith.wal.image.PageImages;

import java.nio.ByteBuffer;

/**
 * One block a record touches (a DecodedBkpBlock): which block, its per-block data, and its
 * full-page image if any. Offsets point into the owning record's bytes; nothing is copied until asked.
 */
public final class BlockReference {
    public static final int BKPBLOCK_FORK_MASK = 0x0F;
    public static final int BKPBLOCK_HAS_IMAGE = 0x10;
    public static final int BKPBLOCK_HAS_DATA = 0x20;
    public static final int BKPBLOCK_WILL_INIT = 0x40;
    public static final int BKPBLOCK_SAME_REL = 0x80;
    static final int BKPIMAGE_HAS_HOLE = 0x01;
    static final int BKPIMAGE_APPLY = 0x02;

    private final byte[] record;
    private final int blockId;
    private final RelTag rel;
    private final long blockNumber;
    private final int forkFlags;
    private final int imageInfo;
    private final int imageLength;
    private final int holeOffset;
    private final int holeLength;
    private int imageOffset;
    private final int dataLength;
    private int dataOffset;

    BlockReference(byte[] record, int blockId, RelTag rel, long blockNumber, int forkFlags, int imageInfo,
                   int imageLength, int holeOffset, int holeLength, int dataLength) {
        this.record = record;
        this.blockId = blockId;
        this.rel = rel;
        this.blockNumber = blockNumber;
        this.forkFlags = forkFlags;
        this.imageInfo = imageInfo;
        this.imageLength = imageLength;
        this.holeOffset = holeOffset;
        this.holeLength = holeLength;
        this.dataLength = dataLength;
    }

    /** Payloads follow all headers, so their offsets are known only after the header pass. */
    int placePayload(int offset) {
        if (hasImage()) {
            imageOffset = offset;
            offset += imageLength;
        }
        dataOffset = offset;
        return offset + dataLength;
    }

    public int blockId() {
        return blockId;
    }

    public RelTag rel() {
        return rel;
    }

    /** The block number, unsigned. */
    public long blockNumber() {
        return blockNumber;
    }

    public int forkFlags() {
        return forkFlags;
    }

    public boolean hasImage() {
        return (forkFlags & BKPBLOCK_HAS_IMAGE) != 0;
    }

    /** Whether redo restores the image (false: the image is only there for wal_consistency_checking). */
    public boolean applyImage() {
        return hasImage() && (imageInfo & BKPIMAGE_APPLY) != 0;
    }

    public boolean willInit() {
        return (forkFlags & BKPBLOCK_WILL_INIT) != 0;
    }

    public boolean hasData() {
        return (forkFlags & BKPBLOCK_HAS_DATA) != 0;
    }

    public int imageInfo() {
        return imageInfo;
    }

    /** bimg_len: bytes of (possibly compressed) image stored in the record. */
    public int imageLength() {
        return imageLength;
    }

    public int holeOffset() {
        return holeOffset;
    }

    public int holeLength() {
        return holeLength;
    }

    public ImageCompression compression() {
        return ImageCompression.fromInfo(imageInfo);
    }

    /** The stored image bytes as a read-only view (compressed if {@link #compression()} says so). */
    public ByteBuffer imageBytes() {
        return ByteBuffer.wrap(record, imageOffset, hasImage() ? imageLength : 0).slice().asReadOnlyBuffer();
    }

    /** The block's own data (for redo of this block) as a read-only view; empty if none. */
    public ByteBuffer data() {
        return ByteBuffer.wrap(record, dataOffset, dataLength).slice().asReadOnlyBuffer();
    }

    public int dataLength() {
        return dataLength;
    }

    /**
     * RestoreBlockImage: decompresses the image and puts the hole back, giving the 8192-byte page
     * as it was after this record.
     *
     * @throws IllegalStateException if there is no image or it does not decompress to its declared size
     */
    public byte[] restorePage() {
        if (!hasImage()) {
            throw new IllegalStateException("block " + blockId + " has no full-page image");
        }
        return PageImages.restore(record, imageOffset, imageLength, compression(), holeOffset, holeLength);
    }
}
