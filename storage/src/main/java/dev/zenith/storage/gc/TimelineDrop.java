package dev.zenith.storage.gc;

import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.timeline.TimelineId;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.List;

/** Deletes a timeline nothing uses any more with everything keyed by it (its WAL, versions, images, index). */
final class TimelineDrop {
    private final Tables tables;
    private final DocumentStore documents;

    TimelineDrop(Tables tables, DocumentStore documents) {
        this.tables = tables;
        this.documents = documents;
    }

    /**
     * Deletes a timeline nothing uses and everything keyed by it, in one transaction: after a crash it is
     * either whole or gone.
     */
    GcStats drop(TimelineId id, boolean dryRun) {
        long[] walFreed = {0};
        long[] versions = {0, 0};
        long index = 0;
        int imagesFreed;
        // a dry run reads (a counted read transaction, closed after its Txn: closing twice is a no-op)
        try (ReadTxn read = dryRun ? tables.read() : null; Txn<byte[]> txn = dryRun ? read.txn() : tables.write()) {
            boolean apply = !dryRun;
            byte[] prefix = Keys.timeline(id);
            deleteAll(txn, tables.walChunks(), prefix, apply, length -> walFreed[0] += length);
            deleteAll(txn, tables.pages(), prefix, apply, length -> {
                versions[0]++;
                versions[1] += length;
            });
            imagesFreed = deleteAll(txn, tables.images(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.changesByLsn(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.commits(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.checkpoints(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.blockChanges(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.relSizes(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.databases(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.anchors(), prefix, apply, length -> { });
            index += deleteAll(txn, tables.materialized(), prefix, apply, length -> { });
            if (apply) {
                tables.indexState().delete(txn, prefix);
                tables.walState().delete(txn, prefix);
                tables.timelines().delete(txn, prefix);
                documents.deleteOf(txn, id.toString());
                txn.commit();
            }
        }
        return new GcStats(walFreed[0], imagesFreed, versions[0], versions[1], index, List.of(id), 0);
    }

    /**
     * Every entry whose key starts with {@code prefix}; each value's length is shown to {@code counted} first.
     * Values are not read: a damaged entry of a timeline nothing uses goes with it.
     */
    private static int deleteAll(Txn<byte[]> txn, Table table, byte[] prefix, boolean apply,
                                 java.util.function.IntConsumer counted) {
        int n = 0;
        try (TableCursor c = table.openCursor(txn)) {
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                counted.accept(c.valueLength());
                n++;
                if (apply) {
                    c.delete(); // LMDB's next step from a deleted entry is the entry after it
                }
            }
        }
        return n;
    }
}
