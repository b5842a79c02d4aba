package dev.zenith.wal.record;

/** How a full-page image is compressed (bimg_info's BKPIMAGE_COMPRESS_* bits), named as pg_waldump names them. */
public enum ImageCompression {
    NONE("none"), PGLZ("pglz"), LZ4("lz4"), ZSTD("zstd");

    static final int BKPIMAGE_COMPRESS_PGLZ = 0x04;
    static final int BKPIMAGE_COMPRESS_LZ4 = 0x08;
    static final int BKPIMAGE_COMPRESS_ZSTD = 0x10;

    private final String methodName;

    ImageCompression(String methodName) {
        this.methodName = methodName;
    }

    public String methodName() {
        return methodName;
    }

    static ImageCompression fromInfo(int bimgInfo) {
        if ((bimgInfo & BKPIMAGE_COMPRESS_PGLZ) != 0) {
            return PGLZ;
        }
        if ((bimgInfo & BKPIMAGE_COMPRESS_LZ4) != 0) {
            return LZ4;
        }
        if ((bimgInfo & BKPIMAGE_COMPRESS_ZSTD) != 0) {
            return ZSTD;
        }
        return NONE;
    }
}
