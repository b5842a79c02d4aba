package dev.zenith.wal.decoder;

/** Everything fed so far is consumed or is an incomplete piece: feed more bytes. */
public final class NeedMoreData implements DecodeResult {
    public static final NeedMoreData INSTANCE = new NeedMoreData();

    private NeedMoreData() {
    }

    @Override
    public Kind kind() {
        return Kind.NEED_MORE_DATA;
    }

    @Override
    public String toString() {
        return "NEED_MORE_DATA";
    }
}
