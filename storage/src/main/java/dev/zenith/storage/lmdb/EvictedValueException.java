package dev.zenith.storage.lmdb;

/**
 * A read run through {@link ColdValues#withoutFetching} met a value whose bytes are only in its remote home:
 * not a failure of the store, a signal to run the read again where a download may be waited for, or to
 * {@link #fetch} the value once the read transaction is closed. No stack trace: it is expected, and thrown on a
 * hot thread.
 */
public final class EvictedValueException extends RuntimeException {
    private final transient Table table;
    private final byte[] key;
    private final byte[] stored;

    /** {@code stored}: the eviction pointer as read at {@code key} of {@code table} (copies, valid past the transaction). */
    EvictedValueException(String message, Table table, byte[] key, byte[] stored) {
        super(message, null, false, false);
        this.table = table;
        this.key = key;
        this.stored = stored;
    }

    /**
     * The value the pointer stood for, downloaded and checked as a read inside the transaction would have: for a
     * reader that collects what is evicted in a short read transaction and fetches it after closing it (a reader
     * open across a download keeps every page freed meanwhile from reuse, so writes grow the file). Blocking.
     */
    public byte[] fetch() {
        return table.open(key, stored);
    }
}
