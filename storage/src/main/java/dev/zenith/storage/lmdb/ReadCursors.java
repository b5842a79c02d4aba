package dev.zenith.storage.lmdb;

import org.lmdbjava.Txn;

/**
 * A pooled read transaction and the cursors kept with it ({@link Tables#readingWithCursors}): a hot read that
 * asks several tables (a GetPage outside an image's window: fork sizes, block changes, page versions) positions
 * a renewed cursor on each instead of opening and closing one (LMDB's malloc and free, lmdbjava's native
 * holders). Neither the transaction nor the cursors outlive the read, and the cursors are never closed by it.
 */
public interface ReadCursors {
    Txn<byte[]> txn();

    /** The cursor on {@code table} kept with this transaction; the caller positions it and never closes it. */
    TableCursor cursor(Table table);
}
