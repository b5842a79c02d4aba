package dev.zenith.storage.lmdb;

import org.lmdbjava.Txn;

/**
 * A read transaction the store counts while it is open ({@link OpenReads}): pages freed after its snapshot are not
 * reused until it closes, so the cache bound's admission waits for it before counting them as room. Close it (with
 * try-with-resources); any thread may use and close it (MDB_NOTLS).
 */
public final class ReadTxn implements AutoCloseable {
    private final Txn<byte[]> txn;
    private final OpenReads reads;
    private final OpenReads.Reading reading;

    ReadTxn(Txn<byte[]> txn, OpenReads reads, OpenReads.Reading reading) {
        this.txn = txn;
        this.reads = reads;
        this.reading = reading;
    }

    /** The transaction, to read through; it must not outlive this handle. */
    public Txn<byte[]> txn() {
        return txn;
    }

    @Override
    public void close() {
        try {
            txn.close();
        } finally {
            reads.ended(reading);
        }
    }
}
