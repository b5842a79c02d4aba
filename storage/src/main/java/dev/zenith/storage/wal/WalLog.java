package dev.zenith.storage.wal;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.failure.WriteStall;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The timelines' WAL in LMDB, as received: appended in group commits with what was indexed from it
 * (block changes, commits, checkpoints), read back across chunks and branch points, and cut only at a
 * torn tail. Blocking and thread-safe; every write is one durable LMDB transaction.
 */
public final class WalLog {
    /** WAL values are split so no single LMDB value gets huge. */
    public static final int MAX_WAL_CHUNK = 1 << 20;
    /**
     * The largest WAL value under a cache bound (an s3 storage's): a 1 MiB value takes 257 contiguous LMDB pages, and
     * the free pages of an evicting cache, split by every smaller write, rarely hold such a run, so LMDB grew its file
     * instead of reusing them (at 16 MiB the file reached 24.9 MB while WAL loaded). 64 KiB takes 17.
     */
    static final int BOUNDED_WAL_CHUNK = 64 << 10;

    /** What sits in front of the log (the WAL journal): told of each append, and asked to empty itself before a cut. */
    public interface Listener {
        /** The appends are in LMDB (called on the appending thread). */
        void appended(List<WalAppend> appends);

        /** The timeline's WAL is about to be cut: whatever is held ahead of LMDB must be in it first. */
        void beforeCut(TimelineId id);
    }

    /**
     * Where evicted WAL is fetched back from (an s3 storage's prefix): the piece of the timeline's own WAL
     * that holds {@code pos}, verified by the caller's checksum. Blocking: never called on an event loop.
     */
    public interface RemoteWal {
        /** Stored WAL bytes starting at {@code start}, holding {@code pos}. */
        record Piece(Lsn start, byte[] bytes) {
            public Lsn end() {
                return start.plus(bytes.length);
            }
        }

        Piece fetch(TimelineId id, Lsn pos);
    }

    private static final RemoteWal NO_REMOTE = (id, pos) -> {
        throw new StoreException("WAL " + pos + " of timeline " + id + " was evicted and no remote home is attached");
    };

    private static final Listener NONE = new Listener() {
        @Override
        public void appended(List<WalAppend> appends) {
        }

        @Override
        public void beforeCut(TimelineId id) {
        }
    };

    private final Tables tables;
    private final TimelineStore timelines;
    private final Path directory;
    private volatile Listener listener = NONE;
    private volatile RemoteWal remote = NO_REMOTE;
    /** Set while LMDB commits of WAL fail (a full disk); cleared by the next one that succeeds. */
    private volatile WriteStall stall;

    public WalLog(Tables tables, TimelineStore timelines, Path directory) {
        this.tables = tables;
        this.timelines = timelines;
        this.directory = directory;
    }

    /** Sets where evicted WAL is read back from. */
    public void remote(RemoteWal remote) {
        this.remote = remote;
    }

    /**
     * Evicts the timeline's own WAL chunks that end at or before {@code below} (whole chunks; bytes the
     * remote home holds, which the caller guarantees): reads of them go to {@link RemoteWal}. Returns the
     * bytes freed. Blocking (an LMDB commit).
     */
    public long evictBelow(TimelineId id, Lsn below) {
        long freed = 0;
        try (Txn<byte[]> txn = tables.write()) {
            WalPositions p = positions(txn, id);
            if (p == null || p.isEmpty()) {
                return 0;
            }
            Lsn localStart = p.localStart() == null ? p.start() : p.localStart();
            try (TableCursor c = tables.walChunks().openCursor(txn)) {
                byte[] prefix = Keys.timeline(id);
                for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                    Lsn start = Keys.lsnAt(c.key(), Keys.TL);
                    Lsn chunkEnd = start.plus(c.valueLength());
                    if (chunkEnd.isAfter(below) || !chunkEnd.isBefore(p.end())) {
                        break; // the chunk holding the end stays: appends continue it
                    }
                    freed += c.valueLength();
                    localStart = chunkEnd;
                    c.delete();
                }
            }
            if (freed == 0) {
                return 0;
            }
            tables.walState().put(txn, Keys.timeline(id),
                    new WalPositions(p.start(), p.end(), p.lastRecordEnd(), localStart).encode());
            txn.commit();
        }
        return freed;
    }

    /** Where the timeline's WAL held locally starts (its start when nothing was evicted), if it stores any. */
    public Optional<Lsn> localStart(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            WalPositions p = positions(txn, id);
            return p == null ? Optional.empty() : Optional.of(p.localStart() == null ? p.start() : p.localStart());
        }
    }

    /** Sets what sits in front of the log (once, while the store opens). */
    public void listen(Listener listener) {
        this.listener = listener;
    }

    /**
     * Appends WAL for one or more timelines in ONE durable transaction (group commit). Each append
     * must start where its timeline's WAL ends (including earlier appends of the same batch); if
     * any does not, nothing is written and {@link WalGapException} is thrown.
     */
    public void append(List<WalAppend> appends) {
        try {
            commit(appends);
        } catch (RuntimeException e) {
            stall = WriteStall.after(stall, e, directory);
            throw e;
        }
        if (stall != null) {
            stall = null;
        }
        listener.appended(appends);
    }

    /** Why LMDB commits of WAL fail right now, if they do. */
    public Optional<WriteStall> stall() {
        return Optional.ofNullable(stall);
    }

    /** The LMDB transaction of {@link #append}. */
    private void commit(List<WalAppend> appends) {
        try (Txn<byte[]> txn = tables.write()) {
            Map<TimelineId, WalPositions> positions = new HashMap<>();
            for (WalAppend a : appends) {
                WalPositions p = positions.containsKey(a.timeline()) ? positions.get(a.timeline())
                        : ownPositions(txn, a.timeline());
                Lsn expected = p.end();
                if (!a.start().equals(expected) && !p.isEmpty()) {
                    throw new WalGapException(a.timeline(), expected, a.start());
                }
                if (p.isEmpty() && !p.start().equals(Lsn.INVALID) && !a.start().equals(p.start())) {
                    throw new WalGapException(a.timeline(), p.start(), a.start());
                }
                Lsn start = p.isEmpty() ? a.start() : p.start();
                int chunkBytes = tables.room().bound() > 0 ? BOUNDED_WAL_CHUNK : MAX_WAL_CHUNK;
                for (int off = 0; off < a.bytes().length; off += chunkBytes) {
                    int n = Math.min(chunkBytes, a.bytes().length - off);
                    byte[] chunk = new byte[n];
                    System.arraycopy(a.bytes(), off, chunk, 0, n);
                    tables.walChunks().put(txn, Keys.timelineLsn(a.timeline(), a.start().plus(off)), chunk);
                }
                byte[] empty = new byte[0];
                if (!a.blockChanges().isEmpty()) {
                    // One entry per append, keyed by its first record: a commit writes one index page, not two
                    // B-tree entries per block reference (that was most of a commit's cost under pgbench).
                    Lsn first = a.blockChanges().get(0).recordLsn();
                    tables.changesByLsn().put(txn, Keys.timelineLsn(a.timeline(), first),
                            BlockChanges.pack(a.blockChanges()));
                }
                for (CommitRecord c : a.commits()) {
                    tables.commits().put(txn, Keys.commit(a.timeline(), c.pgMicros(), c.recordLsn()), empty);
                }
                for (Lsn ckpt : a.checkpoints()) {
                    tables.checkpoints().put(txn, Keys.timelineLsn(a.timeline(), ckpt), empty);
                }
                Lsn lastRecordEnd = a.lastRecordEnd() != null ? a.lastRecordEnd() : p.lastRecordEnd();
                WalPositions next = new WalPositions(start, a.end(), lastRecordEnd, p.localStart());
                positions.put(a.timeline(), next);
                tables.walState().put(txn, Keys.timeline(a.timeline()), next.encode());
            }
            txn.commit();
        }
    }

    /**
     * Cuts a torn tail: the timeline's own WAL after {@code to}, which must not lie before the end of
     * its last complete record (complete records are never rewritten). Used before a compute is rebuilt
     * from the store, since PostgreSQL will write new WAL where the torn record began.
     */
    public void truncate(TimelineId id, Lsn to) {
        listener.beforeCut(id); // the journal must not bring the cut bytes back at the next open
        try (Txn<byte[]> txn = tables.write()) {
            if (cutChunks(txn, id, to)) {
                txn.commit();
            }
        }
    }

    /** The work of {@link #truncate}; the cursor is closed before the caller commits, as LMDB requires. */
    private boolean cutChunks(Txn<byte[]> txn, TimelineId id, Lsn to) {
        try (TableCursor c = tables.walChunks().openCursor(txn)) {
            WalPositions p = ownPositions(txn, id);
            if (p.equals(WalPositions.EMPTY) || to.isBefore(p.start()) || to.isAfter(p.end())) {
                throw new StoreException("cannot cut timeline " + id + "'s WAL at " + to + ": it holds "
                        + p.start() + ".." + p.end());
            }
            if (p.lastRecordEnd() != null && to.isBefore(p.lastRecordEnd())) {
                throw new StoreException("cannot cut timeline " + id + "'s WAL at " + to
                        + ": its last complete record ends at " + p.lastRecordEnd());
            }
            if (to.equals(p.end())) {
                return false;
            }
            if (p.evicted(to)) {
                throw new StoreException("cannot cut timeline " + id + "'s WAL at " + to + ": it was evicted below "
                        + p.localStart());
            }
            byte[][] chunk = c.floor(Keys.timelineLsn(id, to), Keys.TL);
            while (chunk != null) {
                Lsn chunkStart = Keys.lsnAt(chunk[0], Keys.TL);
                if (chunkStart.compareTo(to) >= 0) {
                    c.delete();
                } else if (chunkStart.plus(chunk[1].length).isAfter(to)) {
                    tables.walChunks().put(txn, chunk[0], Arrays.copyOf(chunk[1], (int) to.minus(chunkStart)));
                }
                if (!c.get(Keys.timelineLsn(id, chunkStart.plus(1)), GetOp.MDB_SET_RANGE)
                        || !Keys.hasPrefix(c.key(), Keys.timeline(id))) {
                    break;
                }
                chunk = new byte[][] {c.key(), c.val()};
            }
            tables.walState().put(txn, Keys.timeline(id), new WalPositions(p.start(), to, p.lastRecordEnd(), p.localStart()).encode());
            return true;
        }
    }

    /**
     * The timeline's own WAL range. A root without WAL is empty with start 0/0 (the first append
     * sets it); a branch without WAL of its own starts and ends at its branch point.
     */
    private WalPositions ownPositions(Txn<byte[]> txn, TimelineId id) {
        Timeline t = timelines.known(txn, id); // on every GetPage outside an image's window: no LMDB read
        WalPositions p = positions(txn, id);
        if (p != null) {
            return p;
        }
        return t.isRoot() ? WalPositions.EMPTY : new WalPositions(t.branchLsn(), t.branchLsn(), null);
    }

    private WalPositions positions(Txn<byte[]> txn, TimelineId id) {
        byte[] v = tables.walState().get(txn, Keys.timeline(id));
        return v == null ? null : WalPositions.decode(v);
    }

    /** Where the timeline's own stored WAL ends, in the caller's transaction; null when it stores none. */
    public Lsn storedEnd(Txn<byte[]> txn, TimelineId id) {
        WalPositions p = positions(txn, id);
        return p == null ? null : p.end();
    }

    /** First stored WAL byte readable on this timeline (through its ancestors), if any WAL is stored. */
    public Optional<Lsn> start(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            Timeline t = timelines.require(txn, id);
            while (t.parent() != null) {
                t = timelines.require(txn, t.parent());
            }
            WalPositions p = positions(txn, t.id());
            return p == null ? Optional.empty() : Optional.of(p.start());
        }
    }

    /** The first byte of the timeline's own stored WAL (garbage collection raises it), if it stores any. */
    public Optional<Lsn> ownStart(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            WalPositions p = ownPositions(txn, id);
            return p.equals(WalPositions.EMPTY) ? Optional.empty() : Optional.of(p.start());
        }
    }

    /** {@link #ownStart} of every timeline that stores WAL of its own, in one read transaction (not one per timeline). */
    public Map<TimelineId, Lsn> ownStarts() {
        List<Timeline> all = timelines.all();
        Map<TimelineId, Lsn> out = new HashMap<>();
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            for (Timeline t : all) {
                if (timelines.find(txn, t.id()) == null) {
                    continue; // dropped meanwhile
                }
                WalPositions p = ownPositions(txn, t.id());
                if (!p.equals(WalPositions.EMPTY)) {
                    out.put(t.id(), p.start());
                }
            }
        }
        return out;
    }

    /** Where the timeline's WAL ends (the next append's start). */
    public Optional<Lsn> end(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            WalPositions p = ownPositions(txn, id);
            return p.equals(WalPositions.EMPTY) ? Optional.empty() : Optional.of(p.end());
        }
    }

    /** End of the last complete WAL record of the timeline (for a branch without records: the branch point). */
    public Optional<Lsn> lastRecordEnd(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return Optional.ofNullable(lastRecordEnd(txn, id));
        }
    }

    /** As {@link #lastRecordEnd(TimelineId)}, in the caller's transaction; null when there is none. */
    public Lsn lastRecordEnd(Txn<byte[]> txn, TimelineId id) {
        WalPositions p = ownPositions(txn, id);
        return p.lastRecordEnd() != null ? p.lastRecordEnd() : timelines.require(txn, id).isRoot() ? null : p.start();
    }

    /**
     * Up to {@code maxBytes} of stored WAL from exactly {@code from} (any byte position), crossing
     * chunk boundaries and falling through to the parent below the branch point. Returns fewer
     * bytes only at the end of the stored WAL (none when {@code from} is the end).
     */
    public byte[] read(TimelineId id, Lsn from, int maxBytes) {
        List<ByteBuffer> slices = readSlices(id, from, maxBytes);
        byte[] out = new byte[slices.stream().mapToInt(ByteBuffer::remaining).sum()];
        int at = 0;
        for (ByteBuffer b : slices) {
            int n = b.remaining();
            b.get(out, at, n);
            at += n;
        }
        return out;
    }

    /**
     * What {@link #read} returns, as slices of the stored chunks, without copying them into one array
     * (the WAL sender frames them as they are). The slices are the caller's. Evicted WAL is fetched from the
     * remote home between read transactions, never inside one.
     */
    public List<ByteBuffer> readSlices(TimelineId id, Lsn from, int maxBytes) {
        List<ByteBuffer> out = new ArrayList<>();
        int length = -1;
        int filled = 0;
        while (true) {
            Owner evicted = null; // set when the next bytes are evicted: fetched once the read transaction is closed
            try (ReadTxn read = tables.read(); TableCursor c = tables.walChunks().openCursor(read.txn())) {
                Txn<byte[]> txn = read.txn();
                if (length < 0) {
                    WalPositions own = ownPositions(txn, id);
                    if (own.equals(WalPositions.EMPTY) || from.isAfter(own.end())) {
                        throw new StoreException("WAL position " + from + " is beyond the end of timeline " + id);
                    }
                    length = (int) Math.min(maxBytes, own.end().minus(from));
                }
                Owner o = null;
                byte[][] chunk = null;
                Lsn chunkStart = null;
                while (filled < length) {
                    Lsn pos = from.plus(filled);
                    if (o == null || !pos.isBefore(o.readableEnd())) {
                        o = owner(txn, id, pos); // crossing a branch point: another timeline owns the bytes
                        chunk = null;
                    }
                    if (o.evictedBelow() != null && pos.isBefore(o.evictedBelow())) {
                        evicted = o;
                        break;
                    }
                    byte[] prefix = Keys.timeline(o.timeline());
                    if (chunk != null && !pos.isBefore(chunkStart.plus(chunk[1].length))) {
                        // sequential reads: the next chunk normally starts exactly here
                        chunk = c.next() && Keys.hasPrefix(c.key(), prefix) && Keys.lsnAt(c.key(), Keys.TL).equals(pos)
                                ? new byte[][] {c.key(), c.val()} : null;
                    }
                    if (chunk == null) {
                        chunk = c.floor(Keys.timelineLsn(o.timeline(), pos), Keys.TL);
                    }
                    chunkStart = chunk == null ? null : Keys.lsnAt(chunk[0], Keys.TL);
                    if (chunk == null || chunkStart.plus(chunk[1].length).compareTo(pos) <= 0) {
                        throw new StoreException("WAL position " + pos + " is not stored on timeline " + o.timeline());
                    }
                    int offset = (int) pos.minus(chunkStart);
                    int n = (int) Math.min(Math.min(length - filled, chunk[1].length - offset), o.readableEnd().minus(pos));
                    out.add(ByteBuffer.wrap(chunk[1], offset, n).slice()); // values are fresh arrays (byte[] proxy)
                    filled += n;
                }
            }
            if (evicted == null) {
                return out;
            }
            // evicted: read back from the remote home with no read transaction open (one open across the download
            // keeps every page freed meanwhile from reuse, so writes then grow LMDB's file past a cache bound)
            Lsn pos = from.plus(filled);
            RemoteWal.Piece piece = remote.fetch(evicted.timeline(), pos);
            if (pos.isBefore(piece.start()) || !pos.isBefore(piece.end())) {
                throw new StoreException("the remote WAL piece " + piece.start() + ".." + piece.end() + " of timeline "
                        + evicted.timeline() + " does not hold " + pos);
            }
            int n = (int) Math.min(Math.min(length - filled, piece.end().minus(pos)), evicted.readableEnd().minus(pos));
            out.add(ByteBuffer.wrap(piece.bytes(), (int) pos.minus(piece.start()), n).slice());
            filled += n;
            if (filled >= length) {
                return out;
            }
        }
    }

    /** The timeline whose own WAL holds {@code pos} for this lineage, and up to where it may be read. */
    private record Owner(TimelineId timeline, Lsn readableEnd, Lsn evictedBelow) {
    }

    private Owner owner(Txn<byte[]> txn, TimelineId id, Lsn pos) {
        Timeline t = timelines.require(txn, id);
        Lsn readableEnd = Lsn.of(Long.MAX_VALUE);
        while (t.parent() != null && pos.isBefore(t.branchLsn())) {
            readableEnd = Lsn.min(readableEnd, t.branchLsn());
            t = timelines.require(txn, t.parent());
        }
        WalPositions p = ownPositions(txn, t.id());
        if (pos.isBefore(p.start())) {
            throw new StoreException("WAL position " + pos + " is before the start " + p.start() + " of timeline "
                    + t.id());
        }
        return new Owner(t.id(), readableEnd, p.localStart());
    }
}
