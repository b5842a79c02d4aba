package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import org.lmdbjava.Cursor;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Eviction of the bulky values (page versions, file contents) of a store whose home is elsewhere (an s3
 * storage's prefix). The least recently read values are packed into segments; once the caller has made a
 * segment durable where {@link SegmentSource} reads from (and listed it, so nobody deletes it), each value is
 * replaced by a {@link ValuePointer} into it, if it is still the value packed. A read of a pointer fetches the
 * segment back through the source and checks the value's own CRC-32C: one fetch-and-verify path for every
 * evictable table. Recency is approximate: reads stamp a slot chosen by the key's hash with the current
 * eviction epoch (no lock; a collision only makes a cold value look warm), and values never read since the
 * store opened are the coldest.
 */
public final class ColdValues {
    /** Values smaller than this are not worth a pointer and its segment's bytes. */
    static final int MIN_EVICTED_BYTES = 256;
    private static final int SLOTS = 1 << 18;
    /** Values read back waiting to be written back hold at most this much memory (more are not written back). */
    static final long WRITE_BACK_QUEUE_BYTES = 16L << 20;
    /** Set while the current thread reads through {@link #withoutFetching}. */
    private static final ThreadLocal<Boolean> NOT_FETCHING = new ThreadLocal<>();

    private final long[] readEpochs = new long[SLOTS];
    private final AtomicLong epoch = new AtomicLong(1);
    private final AtomicLong fetched = new AtomicLong();
    private volatile SegmentSource source;
    private Tables tables;
    private List<Table> evictable = List.of();
    /** Values read back, to be stored again in place of their pointers while the bound leaves room. */
    private final ConcurrentLinkedQueue<ReadBack> readBack = new ConcurrentLinkedQueue<>();
    private final AtomicLong readBackBytes = new AtomicLong();
    private final AtomicLong writtenBack = new AtomicLong();

    /** A value read back from its segment: the pointer stored at the key, and the stored bytes it stood for. */
    private record ReadBack(Table table, byte[] key, byte[] pointer, byte[] sealed) {
    }

    ColdValues() {
    }

    void bind(Tables tables, List<Table> evictable) {
        this.tables = tables;
        this.evictable = evictable;
    }

    /** Sets where evicted values are read back from (until then reading one is an error naming it). */
    public void source(SegmentSource source) {
        this.source = source;
    }

    /** How many evicted values were read back since the store opened. */
    public long fetchedValues() {
        return fetched.get();
    }

    /**
     * Runs {@code read} on this thread with every read of an evicted value that would download its segment
     * failing at once with {@link EvictedValueException} instead (a segment the source holds in memory is still
     * read): for a thread that serves many clients and must not wait for S3, which then hands the read to a
     * thread that may. What {@code read} did before the exception is not undone; run only reads this way.
     */
    public static <T> T withoutFetching(Supplier<T> read) {
        if (NOT_FETCHING.get() != null) {
            return read.get();
        }
        NOT_FETCHING.set(Boolean.TRUE);
        try {
            return read.get();
        } finally {
            NOT_FETCHING.remove();
        }
    }

    void touched(byte[] key) {
        readEpochs[slot(key)] = epoch.get();
    }

    private static int slot(byte[] key) {
        int h = Arrays.hashCode(key);
        h ^= h >>> 16;
        return h & (SLOTS - 1);
    }

    /**
     * The sealed bytes {@code pointer} names (checked by the caller against the entry's CRC-32C); null when the
     * current thread reads {@link #withoutFetching} and the segment is not held in memory.
     */
    byte[] fetch(ValuePointer pointer, String what) {
        SegmentSource s = source;
        if (s == null) {
            throw new StoreException(what + " was evicted to segment " + pointer.segmentHex()
                    + " and no remote home is attached to read it back");
        }
        byte[] segment = NOT_FETCHING.get() == null ? s.segment(pointer.segment(), pointer.segmentLength())
                : s.held(pointer.segment(), pointer.segmentLength());
        if (segment == null) {
            if (NOT_FETCHING.get() != null) {
                return null;
            }
            throw new StoreException(what + " was evicted to segment " + pointer.segmentHex()
                    + " and its remote home does not give it back");
        }
        if (segment.length != pointer.segmentLength()) {
            throw new StoreCorruptException("segment " + pointer.segmentHex() + " holds " + segment.length
                    + " bytes, not " + pointer.segmentLength() + " (" + what + " is in it)");
        }
        fetched.incrementAndGet();
        return pointer.cut(segment);
    }

    /**
     * A value read back through its pointer, checked: kept to be written back by {@link #writeBack} if the
     * store's bound leaves room for it now (a read may run inside a read transaction: no write here).
     */
    void readBack(Table table, byte[] key, byte[] pointer, byte[] sealed) {
        CacheRoom room = tables.room();
        if (room.bound() <= 0 || !room.keeps(readBackBytes.get() + sealed.length)) {
            return;
        }
        if (readBackBytes.addAndGet(sealed.length) > WRITE_BACK_QUEUE_BYTES) {
            readBackBytes.addAndGet(-sealed.length);
            return;
        }
        readBack.add(new ReadBack(table, key, pointer, sealed));
    }

    /**
     * Stores the values read back since the last call in place of their pointers, in one transaction, as far as
     * the bound leaves room without eviction ({@link CacheRoom#keeps}); a value whose pointer changed meanwhile
     * (written, deleted) is left alone. The segments stay in S3 (a base drops those no pointer names). The next
     * read of such a value is local. Blocking (an LMDB commit): call on a worker, never a reading thread that
     * holds a read transaction. Returns how many were written back.
     */
    public int writeBack() {
        if (readBack.isEmpty()) {
            return 0;
        }
        List<ReadBack> batch = new ArrayList<>();
        for (ReadBack r; (r = readBack.poll()) != null; ) {
            readBackBytes.addAndGet(-r.sealed().length);
            batch.add(r);
        }
        CacheRoom room = tables.room();
        room.changed();
        long adding = 0;
        int n = 0;
        try (Txn<byte[]> txn = tables.write()) {
            for (ReadBack r : batch) {
                if (!room.keeps(adding + r.sealed().length)) {
                    break;
                }
                byte[] now = r.table().dbi().get(txn, r.key());
                if (now != null && Arrays.equals(now, r.pointer())) {
                    r.table().dbi().put(txn, r.key(), r.sealed());
                    adding += r.sealed().length;
                    n++;
                }
            }
            txn.commit();
        }
        room.changed();
        writtenBack.addAndGet(n);
        return n;
    }

    /** How many values read back were stored again in place of their pointers since the store opened. */
    public long writtenBackValues() {
        return writtenBack.get();
    }

    /**
     * The segments (SHA-256 in hex) some pointer of the store names: a segment named by none holds nothing the
     * store still reads (its values were deleted, or changed before their pointers were written).
     */
    public Set<String> referencedSegments() {
        Set<String> out = new HashSet<>();
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            for (Table t : evictable) {
                try (Cursor<byte[]> c = t.dbi().openCursor(txn)) {
                    for (boolean ok = c.first(); ok; ok = c.next()) {
                        byte[] stored = c.val();
                        byte[] key = c.key();
                        if (t.isPointer(key, stored)) {
                            out.add(ValuePointer.decode(Arrays.copyOf(stored, stored.length - Table.CHECKSUM_BYTES),
                                    "an eviction pointer").segmentHex());
                        }
                    }
                }
            }
        }
        return out;
    }

    /** One packed segment: the stored bytes of each value, one after another, and where each came from. */
    public record Segment(byte[] bytes, List<Packed> values) {
        /** How many stored bytes evicting it frees (less its pointers). */
        public long freedBytes() {
            return values.stream().mapToLong(p -> p.length() - ValuePointer.BYTES - Table.CHECKSUM_BYTES).sum();
        }
    }

    record Packed(Table table, byte[] key, int offset, int length) {
    }

    private record Candidate(Table table, byte[] key, long readEpoch, int length) {
    }

    /**
     * The least recently read values not evicted yet, at least {@code bytes} of them (fewer when there are
     * not as many), packed into segments of at most about {@code segmentBytes}. Changes nothing. The store is scanned
     * in read transactions of at most {@link #SCAN_BATCH} entries each, not one for the whole store: a reader keeps
     * every page freed after its snapshot from reuse while it is open.
     */
    public List<Segment> coldest(long bytes, int segmentBytes) {
        List<Candidate> all = new ArrayList<>();
        for (Table t : evictable) {
            for (byte[] from = null; (from = scan(t, from, all)) != null; ) {
                // the next batch starts at the key this one stopped before
            }
        }
        all.sort(Comparator.comparingLong(Candidate::readEpoch)); // stable: key order within an epoch
        List<Segment> out = new ArrayList<>();
        long taken = 0;
        ByteArrayOutputStream segment = new ByteArrayOutputStream();
        List<Packed> packed = new ArrayList<>();
        for (int i = 0; i < all.size() && taken < bytes; ) {
            try (ReadTxn read = tables.read()) {
                for (int end = Math.min(all.size(), i + SCAN_BATCH); i < end && taken < bytes; i++) {
                    Candidate cand = all.get(i);
                    byte[] stored = cand.table().dbi().get(read.txn(), cand.key());
                    if (stored == null || stored.length < MIN_EVICTED_BYTES || cand.table().isPointer(cand.key(), stored)) {
                        continue; // deleted or changed since the scan's batch
                    }
                    packed.add(new Packed(cand.table(), cand.key(), segment.size(), stored.length));
                    segment.writeBytes(stored);
                    taken += stored.length;
                    if (segment.size() >= segmentBytes) {
                        out.add(new Segment(segment.toByteArray(), packed));
                        segment = new ByteArrayOutputStream();
                        packed = new ArrayList<>();
                    }
                }
            }
        }
        if (!packed.isEmpty()) {
            out.add(new Segment(segment.toByteArray(), packed));
        }
        return out;
    }

    /** Entries of a table a scan looks at per read transaction. */
    static final int SCAN_BATCH = 4096;

    /**
     * Adds {@code t}'s evictable values from key {@code from} on (the first, if null) to {@code out}, at most
     * {@link #SCAN_BATCH} entries in one read transaction: the key to go on from, null at the table's end.
     */
    private byte[] scan(Table t, byte[] from, List<Candidate> out) {
        try (ReadTxn read = tables.read(); Cursor<byte[]> c = t.dbi().openCursor(read.txn())) {
            int n = 0;
            for (boolean ok = from == null ? c.first() : c.get(from, GetOp.MDB_SET_RANGE); ok; ok = c.next()) {
                byte[] key = c.key();
                if (n++ == SCAN_BATCH) {
                    return key;
                }
                byte[] stored = c.val();
                if (stored.length >= MIN_EVICTED_BYTES && !t.isPointer(key, stored)) {
                    out.add(new Candidate(t, key, readEpochs[slot(key)], stored.length));
                }
            }
            return null;
        }
    }

    /**
     * Replaces each value of {@code segment} still stored as packed by a pointer into the segment object
     * with SHA-256 {@code sha256}, in one durable transaction. Call it only once that object is durable and
     * kept where the source reads. Returns the stored bytes freed.
     */
    public long evict(Segment segment, byte[] sha256) {
        long freed = 0;
        try (Txn<byte[]> txn = tables.write()) {
            for (Packed p : segment.values()) {
                byte[] now = p.table().dbi().get(txn, p.key());
                if (now == null || now.length != p.length()
                        || !Arrays.equals(now, 0, now.length, segment.bytes(), p.offset(), p.offset() + p.length())) {
                    continue; // changed or deleted since it was packed
                }
                byte[] pointer = new ValuePointer(sha256, segment.bytes().length, p.offset(), p.length()).encode();
                p.table().putPointer(txn, p.key(), pointer);
                freed += p.length() - (pointer.length + Table.CHECKSUM_BYTES);
            }
            txn.commit();
        }
        epoch.incrementAndGet(); // reads from now on are newer than every stamp before this eviction
        return freed;
    }
}
