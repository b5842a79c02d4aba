package dev.zenith.storage;

import dev.zenith.storage.gc.GarbageCollector;
import dev.zenith.storage.gc.GcStats;
import dev.zenith.storage.image.DataDirectoryImporter;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.DataDirectoryMaterializer;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImportProgress;
import dev.zenith.storage.image.ImportStats;
import dev.zenith.storage.image.ManifestCodec;
import dev.zenith.storage.image.MaterializeStats;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.journal.WalJournal;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.PageCodec;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.page.PageLookup;
import dev.zenith.storage.page.PageVersion;
import dev.zenith.storage.page.PageWrite;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineCodec;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockChanges;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.storage.wal.RecordCheck;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalGapException;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.storage.wal.WalPositions;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.segment.WalSegmentWriter;
import dev.zenith.wal.segment.WalSegments;
import org.lmdbjava.EnvInfo;
import org.lmdbjava.GetOp;
import org.lmdbjava.Stat;
import org.lmdbjava.Txn;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Logger;

/**
 * One storage: an LMDB environment holding one database cluster as a tree of timelines, with
 * their WAL, page versions, images and the server's metadata documents. Every method is blocking
 * and thread-safe; every write is one durable (synced) LMDB transaction, except imports, which
 * commit pages in batches and their manifest last.
 */
public final class Store implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Store.class.getName());
    /** WAL values are split so no single LMDB value gets huge. */
    static final int MAX_WAL_CHUNK = 1 << 20;
    public static final int WAL_SEGMENT_SIZE = 16 << 20;
    private static final String JOURNAL_DIR = "wal-journal";

    /** LMDB must not be opened twice by one process (its locks are per process): remember what is open. */
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    private final Path directory;
    private final Path identity;
    private final Tables tables;
    /** Per timeline: the WAL acknowledged ahead of LMDB (see {@link #journalWal}). */
    private final Map<TimelineId, WalJournal> journals = new HashMap<>();
    private final int journalFileBytes;
    private final StoreLock lock;
    /** Held (shared) by imports, (exclusive) by the blob sweep of garbage collection. */
    private final ReentrantReadWriteLock imports = new ReentrantReadWriteLock();
    /**
     * Set while journal writes, or LMDB commits of WAL, fail (a full disk), each cleared by the next write of
     * its own kind that succeeds: the journal may still write into its pre-filled file while LMDB cannot grow.
     */
    private volatile WriteStall journalStall;
    private volatile WriteStall lmdbStall;

    private Store(Path directory, Path identity, StoreLock lock, Tables tables, int journalFileBytes) {
        this.directory = directory;
        this.identity = identity;
        this.lock = lock;
        this.tables = tables;
        this.journalFileBytes = journalFileBytes;
    }

    /**
     * Opens the store in {@code dir}, creating it when the directory is missing or empty. One
     * process opens a store once; share the instance.
     */
    public static Store open(Path dir) {
        return open(dir, WalJournal.DEFAULT_FILE_BYTES);
    }

    /**
     * Opens the store; {@code journalFileBytes} sizes the WAL journal's files. Whatever the journal
     * holds beyond LMDB's WAL (acknowledged before a crash) is replayed into LMDB first.
     */
    public static Store open(Path dir, int journalFileBytes) {
        Path identity;
        try {
            Files.createDirectories(dir);
            identity = dir.toRealPath();
        } catch (IOException e) {
            throw new StoreException("cannot open store " + dir + ": " + e.getMessage(), e);
        }
        if (!OPEN.add(identity)) {
            throw new StoreException("store " + dir + " is already open in this process");
        }
        StoreLock lock = null;
        Store store = null;
        try {
            Tables.requireStoreDirectory(identity); // a foreign directory gets no lock file
            lock = StoreLock.acquire(identity);
            store = new Store(dir, identity, lock, Tables.open(dir), journalFileBytes);
            store.replayJournals();
            return store;
        } catch (IOException | RuntimeException e) {
            // Undo whatever opened, whichever step failed (a journal replay's I/O error included).
            if (store != null) {
                store.close();
            } else {
                if (lock != null) {
                    lock.close();
                }
                OPEN.remove(identity);
            }
            if (e instanceof IOException io) {
                throw new StoreException("cannot open store " + dir + ": " + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
    }

    public Path directory() {
        return directory;
    }

    @Override
    public void close() {
        synchronized (journals) {
            journals.values().forEach(WalJournal::close);
            journals.clear();
        }
        tables.close();
        lock.close();
        OPEN.remove(identity);
    }

    // ---------------------------------------------------------------- timelines

    /**
     * Creates a timeline: a root ({@code parent} null; {@code branchLsn} is then ignored and
     * stored as 0/0) or a branch of {@code parent} at {@code branchLsn}, which may not lie beyond
     * the parent's stored WAL.
     */
    public Timeline createTimeline(TimelineId parent, Lsn branchLsn, int pgTimeline) {
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            Lsn branch = Lsn.INVALID;
            if (parent != null) {
                timeline(txn, parent);
                branch = branchLsn;
                WalPositions p = walPositions(txn, parent);
                if (p != null && branch.isAfter(p.end())) {
                    throw new StoreException("branch point " + branch + " is beyond timeline " + parent
                            + "'s WAL end " + p.end());
                }
            }
            Timeline t = new Timeline(TimelineId.random(), parent, branch, pgTimeline, Instant.now());
            tables.timelines.put(txn, Keys.timeline(t.id()), TimelineCodec.encode(t));
            txn.commit();
            return t;
        }
    }

    public Optional<Timeline> timeline(TimelineId id) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            byte[] v = tables.timelines.get(txn, Keys.timeline(id));
            return Optional.ofNullable(v).map(TimelineCodec::decode);
        }
    }

    public List<Timeline> timelines() {
        List<Timeline> all = new ArrayList<>();
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.timelines.openCursor(txn)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                all.add(TimelineCodec.decode(c.val()));
            }
        }
        return all;
    }

    private Timeline timeline(Txn<byte[]> txn, TimelineId id) {
        byte[] v = tables.timelines.get(txn, Keys.timeline(id));
        if (v == null) {
            throw new StoreException("no timeline " + id);
        }
        return TimelineCodec.decode(v);
    }

    /** The timeline up to {@code lsn}, then each ancestor up to its branch point. */
    private Lineage lineage(Txn<byte[]> txn, TimelineId id, Lsn lsn) {
        List<Lineage.Step> steps = new ArrayList<>();
        Timeline t = timeline(txn, id);
        Lsn upTo = lsn;
        steps.add(new Lineage.Step(t.id(), upTo));
        while (t.parent() != null) {
            upTo = Lsn.min(upTo, t.branchLsn());
            t = timeline(txn, t.parent());
            steps.add(new Lineage.Step(t.id(), upTo));
        }
        return new Lineage(steps);
    }

    // ---------------------------------------------------------------- WAL

    /**
     * Appends WAL for one or more timelines in ONE durable transaction (group commit). Each append
     * must start where its timeline's WAL ends (including earlier appends of the same batch); if
     * any does not, nothing is written and {@link WalGapException} is thrown.
     */
    public void appendWal(List<WalAppend> appends) {
        try {
            commitWal(appends);
        } catch (RuntimeException e) {
            lmdbStall = stalled(lmdbStall, e);
            throw e;
        }
        if (lmdbStall != null) {
            lmdbStall = null;
        }
        for (WalAppend a : appends) {
            WalJournal j;
            synchronized (journals) {
                j = journals.get(a.timeline());
            }
            if (j != null) {
                j.indexedUpTo(a.end());
                j.prepareSpare(); // on this (indexing) thread, not on the acknowledgement path
            }
        }
    }

    /** The LMDB transaction of {@link #appendWal}. */
    private void commitWal(List<WalAppend> appends) {
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            Map<TimelineId, WalPositions> positions = new HashMap<>();
            for (WalAppend a : appends) {
                WalPositions p = positions.containsKey(a.timeline()) ? positions.get(a.timeline())
                        : ownWalPositions(txn, a.timeline());
                Lsn expected = p.end();
                if (!a.start().equals(expected) && !p.isEmpty()) {
                    throw new WalGapException(a.timeline(), expected, a.start());
                }
                if (p.isEmpty() && !p.start().equals(Lsn.INVALID) && !a.start().equals(p.start())) {
                    throw new WalGapException(a.timeline(), p.start(), a.start());
                }
                Lsn start = p.isEmpty() ? a.start() : p.start();
                for (int off = 0; off < a.bytes().length; off += MAX_WAL_CHUNK) {
                    int n = Math.min(MAX_WAL_CHUNK, a.bytes().length - off);
                    byte[] chunk = new byte[n];
                    System.arraycopy(a.bytes(), off, chunk, 0, n);
                    tables.walChunks.put(txn, Keys.timelineLsn(a.timeline(), a.start().plus(off)), chunk);
                }
                byte[] empty = new byte[0];
                if (!a.blockChanges().isEmpty()) {
                    // One entry per append, keyed by its first record: a commit writes one index page, not two
                    // B-tree entries per block reference (that was most of a commit's cost under pgbench).
                    Lsn first = a.blockChanges().get(0).recordLsn();
                    tables.changesByLsn.put(txn, Keys.timelineLsn(a.timeline(), first),
                            BlockChanges.pack(a.blockChanges()));
                }
                for (CommitRecord c : a.commits()) {
                    tables.commits.put(txn, Keys.commit(a.timeline(), c.pgMicros(), c.recordLsn()), empty);
                }
                for (Lsn ckpt : a.checkpoints()) {
                    tables.checkpoints.put(txn, Keys.timelineLsn(a.timeline(), ckpt), empty);
                }
                Lsn lastRecordEnd = a.lastRecordEnd() != null ? a.lastRecordEnd() : p.lastRecordEnd();
                WalPositions next = new WalPositions(start, a.end(), lastRecordEnd);
                positions.put(a.timeline(), next);
                tables.walState.put(txn, Keys.timeline(a.timeline()), next.encode());
            }
            txn.commit();
        }
    }

    /** Why WAL writes to this storage fail right now, if they do (see {@link WriteStall}). */
    public Optional<WriteStall> writeStall() {
        WriteStall lmdb = lmdbStall;
        return Optional.ofNullable(lmdb != null ? lmdb : journalStall);
    }

    /** The stall {@code failure} means, continuing {@code was}; {@code was} when it is no failure of the disk. */
    private WriteStall stalled(WriteStall was, Throwable failure) {
        if (!WriteStall.isStall(failure)) {
            return was; // refused for what it is (a gap, say), not for the disk
        }
        long usable;
        try {
            usable = Files.getFileStore(directory).getUsableSpace();
        } catch (IOException e) {
            usable = -1;
        }
        return new WriteStall(WriteStall.reasonOf(failure, usable), was == null ? Instant.now() : was.since());
    }

    /**
     * Gets the timeline's journal ready before WAL arrives (blocking): its first file is zero-filled now,
     * so the first acknowledgement does not wait for that.
     */
    public void prepareJournal(TimelineId id) {
        journal(id).prepareSpare();
    }

    private WalJournal journal(TimelineId id) {
        synchronized (journals) {
            return journals.computeIfAbsent(id, t -> WalJournal.create(journalDir(t), journalFileBytes));
        }
    }

    /**
     * Makes WAL durable in the timeline's journal with one sync, without touching LMDB: the WAL
     * receiver acknowledges it then, and hands the same bytes to {@link #appendWal} afterwards, in
     * bigger batches. Each call continues the previous one; the first continues LMDB's WAL. Readers
     * see the bytes once appendWal has them; after a crash, {@link #open} replays them into LMDB.
     */
    public void journalWal(TimelineId id, Lsn start, byte[] bytes) {
        WalJournal j = journal(id);
        synchronized (j) {
            if (j.end() == null) { // the journal's first WAL continues LMDB's
                Lsn end = walEnd(id).orElseThrow(() -> new StoreException("timeline " + id + " has no WAL"));
                if (!start.equals(end)) {
                    throw new WalGapException(id, end, start);
                }
            }
            try {
                j.append(start, bytes);
            } catch (StoreException e) {
                journalStall = stalled(journalStall, e);
                throw e;
            }
        }
        if (journalStall != null) {
            journalStall = null;
        }
    }

    /**
     * Moves whatever the timeline's journal holds beyond LMDB's WAL into LMDB, decoded and indexed as
     * the receiver would have, then empties the journal. Call it while nothing journals this timeline
     * (before a receiver connects, before WAL is cut). Returns the number of bytes moved.
     */
    public long replayJournal(TimelineId id) {
        Path dir = closeJournal(id);
        WalJournal.Contents journaled = WalJournal.readAll(dir);
        List<WalJournal.Frame> frames = journaled.frames();
        long moved = 0;
        if ((!frames.isEmpty() || !journaled.damage().isEmpty()) && timeline(id).isPresent()) {
            Lsn lmdbEnd = walEnd(id).orElseThrow(() -> new StoreException("timeline " + id + " has a WAL journal but no WAL"));
            for (WalJournal.Damage d : journaled.damage()) {
                if (d.to().isAfter(lmdbEnd)) {
                    // Acknowledged WAL that LMDB does not have: replaying around it would drop commits. Touch nothing.
                    throw new StoreCorruptException("timeline " + id + ": " + d.describe() + " (LMDB's WAL ends at "
                            + lmdbEnd + "); acknowledged WAL would be lost, so nothing was replayed or cut");
                }
                LOG.warning("timeline " + id + ": " + d.describe() + "; LMDB already holds that WAL (it ends at "
                        + lmdbEnd + "), so nothing is lost");
            }
            Lsn at = lmdbEnd;
            ByteArrayOutputStream tail = new ByteArrayOutputStream();
            for (WalJournal.Frame f : frames) {
                if (!f.end().isAfter(at)) {
                    continue; // LMDB has it already
                }
                if (f.start().isAfter(at)) {
                    throw new StoreCorruptException("the WAL journal " + dir + " has a gap: "
                            + (at.equals(lmdbEnd) ? "LMDB's WAL ends at " + lmdbEnd : "its frames replayed so far end at " + at
                            + " (LMDB's WAL ends at " + lmdbEnd + ")") + ", the next journaled WAL starts at " + f.start());
                }
                int skip = (int) at.minus(f.start());
                tail.write(f.bytes(), skip, f.bytes().length - skip);
                at = f.end();
            }
            if (tail.size() > 0) {
                byte[] bytes = tail.toByteArray();
                WalIndexer indexer = WalIndexer.resume(this, id);
                EndOfWal invalid = indexer.feed(bytes);
                if (invalid != null) {
                    throw new StoreException("the WAL journal " + dir + " holds invalid WAL: " + invalid);
                }
                WalAppend append = indexer.drain();
                if (append != null) {
                    appendWal(List.of(append));
                    moved = append.bytes().length;
                }
                if (indexer.drained().isBefore(indexer.end())) {
                    // Only a torn tail can be held back here: an incomplete record, never acknowledged as one.
                    LOG.info("the WAL journal " + dir + " ends in an incomplete record at " + indexer.drained()
                            + "; it is left out");
                }
            }
        }
        WalJournal.clear(dir);
        return moved;
    }

    /** At open: every timeline's journal into LMDB (a journal of a timeline that is gone is dropped). */
    private void replayJournals() throws IOException {
        Path root = directory.resolve(JOURNAL_DIR);
        if (!Files.isDirectory(root)) {
            return;
        }
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.toList()) {
                TimelineId id;
                try {
                    id = TimelineId.parse(d.getFileName().toString());
                } catch (IllegalArgumentException e) {
                    throw new StoreFormatException("not a WAL journal of a timeline: " + d);
                }
                replayJournal(id);
            }
        }
    }

    /** The journal of a timeline garbage collection deleted (nothing streams it): its files and directory. */
    private void deleteJournal(TimelineId id) {
        Path dir = closeJournal(id);
        WalJournal.clear(dir);
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new StoreException("cannot delete WAL journal " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Closes the timeline's live journal, if open (its files stay); returns its directory. */
    private Path closeJournal(TimelineId id) {
        WalJournal live;
        synchronized (journals) {
            live = journals.remove(id);
        }
        if (live != null) {
            synchronized (live) {
                live.close();
            }
        }
        return journalDir(id);
    }

    private Path journalDir(TimelineId id) {
        return directory.resolve(JOURNAL_DIR).resolve(id.toString());
    }

    /**
     * Cuts a torn tail: the timeline's own WAL after {@code to}, which must not lie before the end of
     * its last complete record (complete records are never rewritten). Used before a compute is rebuilt
     * from the store, since PostgreSQL will write new WAL where the torn record began.
     */
    public void truncateWal(TimelineId id, Lsn to) {
        replayJournal(id); // the journal must not bring the cut bytes back at the next open
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            if (cutWalChunks(txn, id, to)) {
                txn.commit();
            }
        }
    }

    /** The work of {@link #truncateWal}; the cursor is closed before the caller commits, as LMDB requires. */
    private boolean cutWalChunks(Txn<byte[]> txn, TimelineId id, Lsn to) {
        try (TableCursor c = tables.walChunks.openCursor(txn)) {
            WalPositions p = ownWalPositions(txn, id);
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
            byte[][] chunk = Tables.floor(c, Keys.timelineLsn(id, to), Keys.TL);
            while (chunk != null) {
                Lsn chunkStart = Keys.lsnAt(chunk[0], Keys.TL);
                if (chunkStart.compareTo(to) >= 0) {
                    c.delete();
                } else if (chunkStart.plus(chunk[1].length).isAfter(to)) {
                    tables.walChunks.put(txn, chunk[0], Arrays.copyOf(chunk[1], (int) to.minus(chunkStart)));
                }
                if (!c.get(Keys.timelineLsn(id, chunkStart.plus(1)), GetOp.MDB_SET_RANGE)
                        || !Keys.hasPrefix(c.key(), Keys.timeline(id))) {
                    break;
                }
                chunk = new byte[][] {c.key(), c.val()};
            }
            tables.walState.put(txn, Keys.timeline(id), new WalPositions(p.start(), to, p.lastRecordEnd()).encode());
            return true;
        }
    }

    /**
     * The timeline's own WAL range. A root without WAL is empty with start 0/0 (the first append
     * sets it); a branch without WAL of its own starts and ends at its branch point.
     */
    private WalPositions ownWalPositions(Txn<byte[]> txn, TimelineId id) {
        Timeline t = timeline(txn, id);
        WalPositions p = walPositions(txn, id);
        if (p != null) {
            return p;
        }
        return t.isRoot() ? WalPositions.EMPTY : new WalPositions(t.branchLsn(), t.branchLsn(), null);
    }

    private WalPositions walPositions(Txn<byte[]> txn, TimelineId id) {
        byte[] v = tables.walState.get(txn, Keys.timeline(id));
        return v == null ? null : WalPositions.decode(v);
    }

    /** First stored WAL byte readable on this timeline (through its ancestors), if any WAL is stored. */
    public Optional<Lsn> walStart(TimelineId id) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            Timeline t = timeline(txn, id);
            while (t.parent() != null) {
                t = timeline(txn, t.parent());
            }
            WalPositions p = walPositions(txn, t.id());
            return p == null ? Optional.empty() : Optional.of(p.start());
        }
    }

    /** Where the timeline's WAL ends (the next append's start). */
    public Optional<Lsn> walEnd(TimelineId id) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            WalPositions p = ownWalPositions(txn, id);
            return p.equals(WalPositions.EMPTY) ? Optional.empty() : Optional.of(p.end());
        }
    }

    /** End of the last complete WAL record of the timeline (for a branch without records: the branch point). */
    public Optional<Lsn> lastRecordEnd(TimelineId id) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            WalPositions p = ownWalPositions(txn, id);
            return Optional.ofNullable(p.lastRecordEnd() != null ? p.lastRecordEnd()
                    : timeline(txn, id).isRoot() ? null : p.start());
        }
    }

    /**
     * Up to {@code maxBytes} of stored WAL from exactly {@code from} (any byte position), crossing
     * chunk boundaries and falling through to the parent below the branch point. Returns fewer
     * bytes only at the end of the stored WAL (none when {@code from} is the end).
     */
    public byte[] readWal(TimelineId id, Lsn from, int maxBytes) {
        List<ByteBuffer> slices = readWalSlices(id, from, maxBytes);
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
     * What {@link #readWal} returns, as slices of the stored chunks, without copying them into one array
     * (the WAL sender frames them as they are). The slices are the caller's.
     */
    public List<ByteBuffer> readWalSlices(TimelineId id, Lsn from, int maxBytes) {
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.walChunks.openCursor(txn)) {
            WalPositions own = ownWalPositions(txn, id);
            if (own.equals(WalPositions.EMPTY) || from.isAfter(own.end())) {
                throw new StoreException("WAL position " + from + " is beyond the end of timeline " + id);
            }
            int length = (int) Math.min(maxBytes, own.end().minus(from));
            List<ByteBuffer> out = new ArrayList<>();
            int filled = 0;
            WalOwner o = null;
            byte[][] chunk = null;
            Lsn chunkStart = null;
            while (filled < length) {
                Lsn pos = from.plus(filled);
                if (o == null || !pos.isBefore(o.readableEnd())) {
                    o = walOwner(txn, id, pos); // crossing a branch point: another timeline owns the bytes
                    chunk = null;
                }
                byte[] prefix = Keys.timeline(o.timeline());
                if (chunk != null && !pos.isBefore(chunkStart.plus(chunk[1].length))) {
                    // sequential reads: the next chunk normally starts exactly here
                    chunk = c.next() && Keys.hasPrefix(c.key(), prefix) && Keys.lsnAt(c.key(), Keys.TL).equals(pos)
                            ? new byte[][] {c.key(), c.val()} : null;
                }
                if (chunk == null) {
                    chunk = Tables.floor(c, Keys.timelineLsn(o.timeline(), pos), Keys.TL);
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
            return out;
        }
    }

    /** The timeline whose own WAL holds {@code pos} for this lineage, and up to where it may be read. */
    private record WalOwner(TimelineId timeline, Lsn readableEnd) {
    }

    private WalOwner walOwner(Txn<byte[]> txn, TimelineId id, Lsn pos) {
        Timeline t = timeline(txn, id);
        Lsn readableEnd = Lsn.of(Long.MAX_VALUE);
        while (t.parent() != null && pos.isBefore(t.branchLsn())) {
            readableEnd = Lsn.min(readableEnd, t.branchLsn());
            t = timeline(txn, t.parent());
        }
        WalPositions p = ownWalPositions(txn, t.id());
        if (pos.isBefore(p.start())) {
            throw new StoreException("WAL position " + pos + " is before the start " + p.start() + " of timeline "
                    + t.id());
        }
        return new WalOwner(t.id(), readableEnd);
    }

    /**
     * Writes 16 MiB WAL segment files into {@code walDir}, covering {@code from} up to {@code to}: stored
     * bytes where the store has them (from the segment start, so page headers before {@code from} are
     * there), zeros after {@code to}. Each file is named for the PostgreSQL timeline its WAL belongs to
     * along the lineage, as recovery looks for it: a segment in which a timeline begins carries the new
     * timeline's name, and the old one's too (pg_waldump reads the old timeline up to the switch there).
     * A timeline beginning at {@code to} or later has no WAL here yet and names nothing. {@code from} is a
     * record start: every record from there to {@code to} is checked as PostgreSQL will read it
     * ({@link RecordCheck}), so none it replays ends its recovery early.
     */
    public List<Path> writeWalSegments(TimelineId id, Lsn from, Lsn to, Path walDir) throws IOException {
        return writeWalSegments(id, from, to, walDir, bytes -> { });
    }

    /** The bytes of WAL {@link #writeWalSegments} writes from {@code from} up to {@code to}, for a progress total. */
    public long walBytesToWrite(TimelineId id, Lsn from, Lsn to) {
        Lsn start = walStart(id).orElse(to);
        return Math.max(0, to.minus(Lsn.max(Lsn.of(WalSegments.segmentNumber(from) * WAL_SEGMENT_SIZE), start)));
    }

    /** As above, telling {@code bytesRead} of each stretch of stored WAL read (they add up to {@link #walBytesToWrite}). */
    public List<Path> writeWalSegments(TimelineId id, Lsn from, Lsn to, Path walDir, java.util.function.LongConsumer bytesRead)
            throws IOException {
        timeline(id).orElseThrow(() -> new StoreException("no timeline " + id));
        Lsn start = walStart(id).orElseThrow(() -> new StoreException("timeline " + id + " has no WAL"));
        List<PgTimelines.Entry> tlis = PgTimelines.entries(this, id).stream().filter(e -> e.begin().isBefore(to)).toList();
        Lsn firstByte = Lsn.max(Lsn.of(WalSegments.segmentNumber(from) * WAL_SEGMENT_SIZE), start);
        List<Path> written = new ArrayList<>();
        if (!firstByte.isBefore(to)) {
            return written;
        }
        WalSegmentWriter writer = new WalSegmentWriter(tlis.get(0).tli(), firstByte);
        RecordCheck records = new RecordCheck(id, from, to);
        // A segment at a time, so memory holds one segment whatever the range.
        for (Lsn at = firstByte; at.isBefore(to); at = writer.position()) {
            Lsn segmentEnd = Lsn.of((WalSegments.segmentNumber(at) + 1) * WAL_SEGMENT_SIZE);
            byte[] bytes = readWal(id, at, (int) Lsn.min(segmentEnd, to).minus(at));
            records.feed(at, bytes, 0, bytes.length);
            writer.append(ByteBuffer.wrap(bytes));
            bytesRead.accept(bytes.length);
            written.addAll(writeSegmentFiles(writer.takeCompleted(), tlis, walDir));
        }
        if (!WalSegments.isSegmentBoundary(to.value())) { // the last segment: WAL up to `to`, zeros after it
            written.addAll(writeSegmentFiles(writer.finish(to), tlis, walDir));
        }
        return written;
    }

    private static List<Path> writeSegmentFiles(List<WalSegmentWriter.SegmentFile> segments, List<PgTimelines.Entry> tlis,
                                                Path walDir) throws IOException {
        List<Path> written = new ArrayList<>();
        for (WalSegmentWriter.SegmentFile segment : segments) {
            for (int tli : segmentTimelines(segment.segno(), tlis)) {
                Path file = walDir.resolve(WalSegments.fileName(tli, segment.segno()));
                Files.write(file, segment.contents());
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
                written.add(file);
            }
        }
        return written;
    }

    /**
     * The timelines a segment is named for: the newest one beginning at or before its end, plus the one
     * before when that one begins inside it.
     */
    private static List<Integer> segmentTimelines(long segno, List<PgTimelines.Entry> tlis) {
        long segStart = WalSegments.segmentStart(segno);
        long segEnd = WalSegments.segmentStart(segno + 1);
        int i = 0;
        while (i + 1 < tlis.size() && tlis.get(i + 1).begin().value() < segEnd) {
            i++;
        }
        int newest = tlis.get(i).tli();
        return i > 0 && tlis.get(i).begin().value() > segStart ? List.of(newest, tlis.get(i - 1).tli()) : List.of(newest);
    }

    /** Distinct blocks touched by WAL records with LSN in (fromExclusive, toInclusive], ancestors included. */
    public SortedSet<BlockRef> changedBlocks(TimelineId id, Lsn fromExclusive, Lsn toInclusive) {
        SortedSet<BlockRef> out = new TreeSet<>();
        forEachChange(id, fromExclusive, toInclusive, (lsn, rel, block) -> out.add(new BlockRef(rel, block)));
        return out;
    }

    /**
     * Every block change with record LSN in (fromExclusive, toInclusive] on the timeline's lineage.
     * Entries hold the changes of one append, keyed by its first record, and records complete in LSN
     * order, so the entries partition the LSNs: start at the last entry keyed at or below the range.
     * A block is visited once per record that changed it.
     */
    public void forEachChange(TimelineId id, Lsn fromExclusive, Lsn toInclusive, BlockChanges.Visitor visitor) {
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.changesByLsn.openCursor(txn)) {
            for (Lineage.Step step : lineage(txn, id, toInclusive).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                byte[][] first = Tables.floor(c, Keys.timelineLsn(step.timeline(), fromExclusive.plus(1)), Keys.TL);
                boolean ok = first != null || c.get(Keys.timelineLsn(step.timeline(), Lsn.INVALID), GetOp.MDB_SET_RANGE);
                for (; ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                    if (Keys.lsnAt(c.key(), Keys.TL).isAfter(step.upTo())) {
                        break;
                    }
                    BlockChanges.unpack(c.val(), (lsn, rel, block) -> {
                        if (lsn.isAfter(fromExclusive) && !lsn.isAfter(step.upTo())) {
                            visitor.visit(lsn, rel, block);
                        }
                    });
                }
            }
        }
    }

    /** Relations touched by WAL records with LSN in (fromExclusive, toInclusive], ancestors included. */
    public SortedSet<RelTag> changedRelations(TimelineId id, Lsn fromExclusive, Lsn toInclusive) {
        SortedSet<RelTag> out = new TreeSet<>(DataDirectoryLayout::compareTags);
        forEachChange(id, fromExclusive, toInclusive, (lsn, rel, block) -> out.add(rel)); // no set of every block
        return out;
    }

    /** LSN of the newest WAL record at or below {@code atOrBefore} that touched the block, if any. */
    /**
     * The last WAL record at or before {@code atOrBefore} that touched the block. A scan of the change
     * index (nothing on a hot path asks this yet; a per-block index would cost every commit).
     */
    public Optional<Lsn> lastChange(TimelineId id, RelTag rel, int block, Lsn atOrBefore) {
        Lsn[] last = {null};
        forEachChange(id, Lsn.INVALID, atOrBefore, (lsn, r, b) -> {
            if (b == block && r.equals(rel) && (last[0] == null || lsn.isAfter(last[0]))) {
                last[0] = lsn;
            }
        });
        return Optional.ofNullable(last[0]);
    }

    /** Checkpoint record LSNs in (fromExclusive, toInclusive], ancestors included, ascending. */
    public List<Lsn> checkpoints(TimelineId id, Lsn fromExclusive, Lsn toInclusive) {
        SortedSet<Lsn> out = new TreeSet<>();
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.checkpoints.openCursor(txn)) {
            for (Lineage.Step step : lineage(txn, id, toInclusive).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                for (boolean ok = c.get(Keys.timelineLsn(step.timeline(), fromExclusive.plus(1)), GetOp.MDB_SET_RANGE);
                     ok && Keys.hasPrefix(c.key(), prefix) && !Keys.lsnAt(c.key(), Keys.TL).isAfter(step.upTo());
                     ok = c.next()) {
                    out.add(Keys.lsnAt(c.key(), Keys.TL));
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * The last commit whose timestamp is at or before {@code time} (for "as of" time travel), on
     * the timeline or, below its branch point, its ancestors.
     */
    public Optional<CommitRecord> lastCommitAtOrBefore(TimelineId id, Instant time) {
        long micros = CommitRecord.toPgMicros(time);
        CommitRecord best = null;
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.commits.openCursor(txn)) {
            for (Lineage.Step step : lineage(txn, id, Lsn.of(Long.MAX_VALUE)).steps()) {
                byte[][] hit = Tables.floor(c, Keys.commit(step.timeline(), micros, Lsn.of(-1L)), Keys.TL);
                // skip commits beyond this step's branch point
                while (hit != null && Keys.lsnAt(hit[0], Keys.TL + 8).isAfter(step.upTo())) {
                    hit = c.prev() && Keys.hasPrefix(c.key(), Keys.timeline(step.timeline()))
                            ? new byte[][] {c.key(), c.val()} : null;
                }
                if (hit != null) {
                    CommitRecord r = new CommitRecord(Keys.lsnAt(hit[0], Keys.TL + 8), Keys.commitMicrosAt(hit[0]));
                    if (best == null || r.pgMicros() > best.pgMicros()) {
                        best = r;
                    }
                }
            }
        }
        return Optional.ofNullable(best);
    }

    /**
     * The commits of the history that ends at {@code end} on timeline {@code id} (the timeline, then its
     * ancestors below their branch points) whose times lie in [{@code fromMicros}, {@code toMicros}),
     * newest first by commit time, at most {@code limit}.
     */
    public List<CommitRecord> commitsNewestFirst(TimelineId id, Lsn end, long fromMicros, long toMicros, int limit) {
        List<CommitRecord> found = new ArrayList<>();
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.commits.openCursor(txn)) {
            for (Lineage.Step step : lineage(txn, id, end).steps()) {
                byte[] prefix = Keys.timeline(step.timeline());
                byte[][] hit = Tables.floor(c, Keys.commit(step.timeline(), toMicros - 1, Lsn.of(-1L)), Keys.TL);
                int taken = 0;
                while (hit != null && taken < limit) {
                    long micros = Keys.commitMicrosAt(hit[0]);
                    if (micros < fromMicros) {
                        break;
                    }
                    Lsn lsn = Keys.lsnAt(hit[0], Keys.TL + 8);
                    if (lsn.isBefore(step.upTo())) {
                        found.add(new CommitRecord(lsn, micros));
                        taken++;
                    }
                    hit = c.prev() && Keys.hasPrefix(c.key(), prefix) ? new byte[][] {c.key(), c.val()} : null;
                }
            }
        }
        found.sort(java.util.Comparator.comparingLong(CommitRecord::pgMicros).reversed());
        return found.size() > limit ? new ArrayList<>(found.subList(0, limit)) : found;
    }

    /**
     * How far apart in time two commits may lie in the wrong order (by LSN) in the commit index: a
     * backend takes its commit timestamp just before inserting the record, so concurrent commits
     * interleave by microseconds; a second is far more than a descheduled backend takes.
     */
    static final long COMMIT_TIME_JITTER_MICROS = 1_000_000L;

    /**
     * The last commit in the history that ends at {@code end} (a record boundary): the commit with the
     * greatest LSN whose record starts before {@code end}, on the timeline or, below its branch point,
     * its ancestors. The commit index is ordered by time, which follows LSN order up to
     * {@link #COMMIT_TIME_JITTER_MICROS}: a bisection by time finds the neighbourhood in a few lookups,
     * a scan of that neighbourhood the commit.
     */
    public Optional<CommitRecord> lastCommitBefore(TimelineId id, Lsn end) {
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.commits.openCursor(txn)) {
            for (Lineage.Step step : lineage(txn, id, end).steps()) {
                // a child's commits all lie above its branch point: the first step with one has the last
                Optional<CommitRecord> found = lastCommitBefore(c, step.timeline(), step.upTo());
                if (found.isPresent()) {
                    return found;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<CommitRecord> lastCommitBefore(TableCursor c, TimelineId tl, Lsn end) {
        byte[] prefix = Keys.timeline(tl);
        if (!c.get(Keys.commit(tl, Long.MIN_VALUE, Lsn.INVALID), GetOp.MDB_SET_RANGE) || !Keys.hasPrefix(c.key(), prefix)) {
            return Optional.empty(); // no commits on this timeline
        }
        long oldest = Keys.commitMicrosAt(c.key());
        byte[] newestKey = Tables.floor(c, Keys.commit(tl, Long.MAX_VALUE, Lsn.of(-1L)), Keys.TL)[0];
        long newest = Keys.commitMicrosAt(newestKey);
        // Bisect while the last commit at or before lo starts before end (or lo is the oldest) and the one at hi does not.
        long lo = oldest;
        long loCommit = oldest; // the time of that last commit at or before lo: the answer may be it
        long hi = newest;
        if (Keys.lsnAt(newestKey, Keys.TL + 8).isBefore(end)) {
            lo = loCommit = newest;
        }
        while (hi - lo > COMMIT_TIME_JITTER_MICROS) {
            long mid = lo + (hi - lo) / 2;
            byte[] at = Tables.floor(c, Keys.commit(tl, mid, Lsn.of(-1L)), Keys.TL)[0]; // mid >= oldest: there is one
            if (Keys.lsnAt(at, Keys.TL + 8).isBefore(end)) {
                lo = mid;
                loCommit = Keys.commitMicrosAt(at);
            } else {
                hi = mid;
            }
        }
        CommitRecord best = null;
        long to = hi + COMMIT_TIME_JITTER_MICROS;
        for (boolean ok = c.get(Keys.commit(tl, loCommit - COMMIT_TIME_JITTER_MICROS, Lsn.INVALID), GetOp.MDB_SET_RANGE);
             ok && Keys.hasPrefix(c.key(), prefix) && Keys.commitMicrosAt(c.key()) <= to; ok = c.next()) {
            Lsn lsn = Keys.lsnAt(c.key(), Keys.TL + 8);
            if (lsn.isBefore(end) && (best == null || lsn.isAfter(best.recordLsn()))) {
                best = new CommitRecord(lsn, Keys.commitMicrosAt(c.key()));
            }
        }
        return Optional.ofNullable(best);
    }

    // ---------------------------------------------------------------- pages

    /** The newest stored version of a block at or below {@code lsn}, looking through ancestors. */
    public Optional<PageVersion> getPage(TimelineId id, RelTag rel, int block, Lsn lsn) {
        try (Txn<byte[]> txn = tables.env.txnRead(); PageLookup lookup = new PageLookup(tables, txn, lineage(txn, id, lsn))) {
            PageLookup.Found f = lookup.find(rel, block);
            return f == null ? Optional.empty()
                    : Optional.of(new PageVersion(f.step().timeline(), f.lsn(), f.page()));
        }
    }

    /**
     * Blocks [first, first + count) of a fork as of {@code lsn}, decoded into {@code out} (8 KiB each from
     * {@code offset}) in one read transaction and one ordered scan: what a base backup streams. Each is
     * verified as PostgreSQL would (its data checksum with {@code checksums}); a block without a stored
     * version at or below {@code lsn} is a {@link StoreException}, a damaged one a {@link StoreCorruptException}.
     */
    public void readBlocks(TimelineId id, RelTag rel, Lsn lsn, int first, int count, boolean checksums, byte[] out,
                           int offset) {
        try (Txn<byte[]> txn = tables.env.txnRead(); PageLookup lookup = new PageLookup(tables, txn, lineage(txn, id, lsn))) {
            PageLookup.BlockReader reader = lookup.reader(rel, first);
            for (int i = 0; i < count; i++) {
                PageLookup.Found f = reader.find(first + i);
                if (f == null) {
                    throw new StoreException("no stored version of " + rel.path() + " block "
                            + Integer.toUnsignedString(first + i) + " at or below " + lsn);
                }
                f.decodeVerified(rel, Integer.toUnsignedLong(first + i), checksums, out, offset + i * PageLayout.BLCKSZ);
            }
        }
    }

    /** Stores one page version (full-page images from WAL, pages reconstructed by redo). */
    public void putPage(TimelineId id, RelTag rel, int block, Lsn lsn, byte[] page) {
        putPages(List.of(new PageWrite(id, rel, block, lsn, page)));
    }

    /** Stores page versions in one durable transaction (a batch of FPIs or a redo round's output). */
    public void putPages(List<PageWrite> writes) {
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            Set<TimelineId> checked = new HashSet<>();
            for (PageWrite w : writes) {
                if (checked.add(w.timeline())) {
                    timeline(txn, w.timeline());
                }
                tables.pages.put(txn, Keys.page(w.timeline(), w.rel(), w.block(), w.lsn()), PageCodec.encode(w.page()));
            }
            txn.commit();
        }
    }

    // ---------------------------------------------------------------- images

    /**
     * Takes an image of a cleanly stopped data directory at checkpoint {@code checkpointLsn}
     * (whose redo point is {@code redoLsn}). Relations the filter rejects and whose file length is
     * unchanged keep their pages and sizes from the previous image (the latest at or before the
     * checkpoint, ancestors included).
     */
    public ImportStats importDataDirectory(TimelineId id, Path dataDir, Lsn checkpointLsn, Lsn redoLsn,
                                           RelationFilter filter) throws IOException {
        return importDataDirectory(id, dataDir, checkpointLsn, redoLsn, filter, ImportProgress.NONE);
    }

    /** As above, telling {@code progress} the bytes of relation files to read and each batch read. */
    public ImportStats importDataDirectory(TimelineId id, Path dataDir, Lsn checkpointLsn, Lsn redoLsn,
                                           RelationFilter filter, ImportProgress progress) throws IOException {
        Lineage lineage;
        ImageManifest previous;
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            lineage = lineage(txn, id, checkpointLsn);
            previous = latestImage(txn, lineage).orElse(null);
        }
        imports.readLock().lock();
        try {
            return new DataDirectoryImporter(tables, id, lineage, previous, checkpointLsn, redoLsn, filter).run(dataDir, progress);
        } finally {
            imports.readLock().unlock();
        }
    }

    /** The timeline's own images, oldest first. */
    public List<ImageManifest> images(TimelineId id) {
        List<ImageManifest> out = new ArrayList<>();
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.images.openCursor(txn)) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(ManifestCodec.decode(c.val()));
            }
        }
        return out;
    }

    /** The newest image at or below {@code lsn} on the timeline or, below its branch point, its ancestors. */
    public Optional<ImageManifest> latestImageAtOrBefore(TimelineId id, Lsn lsn) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            return latestImage(txn, lineage(txn, id, lsn));
        }
    }

    /**
     * The image a compute at {@code point} starts from: the newest whose checkpoint record lies wholly
     * before the point. An image is keyed by its checkpoint record's start, and a point that is exactly
     * that start does not contain the record, so that image is too new for it.
     */
    public Optional<ImageManifest> imageFor(TimelineId id, Lsn point) {
        return point.isValid() ? latestImageAtOrBefore(id, point.plus(-1)) : Optional.empty();
    }

    private Optional<ImageManifest> latestImage(Txn<byte[]> txn, Lineage lineage) {
        return latestImageEntry(txn, lineage).map(hit -> ManifestCodec.decode(hit[1]));
    }

    /** The key and value of the newest image on the lineage, the manifest still encoded. */
    private Optional<byte[][]> latestImageEntry(Txn<byte[]> txn, Lineage lineage) {
        try (TableCursor c = tables.images.openCursor(txn)) {
            for (Lineage.Step step : lineage.steps()) {
                byte[][] hit = Tables.floor(c, Keys.timelineLsn(step.timeline(), step.upTo()), Keys.TL);
                if (hit != null) {
                    return Optional.of(hit);
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The checkpoint LSN of the image {@link #latestImageAtOrBefore} would return, without decoding its
     * manifest (a few hundred microseconds for a cluster's thousands of relation forks): for callers
     * that keep manifests they decoded before.
     */
    public Optional<Lsn> latestImageLsnAtOrBefore(TimelineId id, Lsn lsn) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            return latestImageEntry(txn, lineage(txn, id, lsn)).map(hit -> Keys.lsnAt(hit[0], Keys.TL));
        }
    }

    /**
     * Writes the data directory of {@code image} into {@code target} (missing or empty). WAL is
     * not included: add it with {@link #writeWalSegments}.
     */
    public MaterializeStats materialize(ImageManifest image, Path target) throws IOException {
        return materialize(image, target, bytes -> { });
    }

    /** As {@link #materialize(ImageManifest, Path)}, telling {@code bytesWritten} of the pages as they are written. */
    public MaterializeStats materialize(ImageManifest image, Path target, java.util.function.LongConsumer bytesWritten)
            throws IOException {
        Lineage lineage;
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            lineage = lineage(txn, image.timeline(), image.lsn());
        }
        return new DataDirectoryMaterializer(tables).run(image, lineage, target, bytesWritten);
    }

    /** Materializes the image of timeline {@code id} (or an ancestor) taken at exactly {@code imageLsn}. */
    public MaterializeStats materialize(TimelineId id, Lsn imageLsn, Path target) throws IOException {
        ImageManifest image = latestImageAtOrBefore(id, imageLsn).filter(m -> m.lsn().equals(imageLsn))
                .orElseThrow(() -> new StoreException("timeline " + id + " has no image at " + imageLsn));
        return materialize(image, target);
    }

    /** global/pg_control of an image, exactly as PostgreSQL wrote it at the image's checkpoint. */
    public byte[] pgControl(ImageManifest image) {
        return imageFileContent(image, DataDirectoryLayout.PG_CONTROL, image.pgControlSha256());
    }

    /** A non-relation file of an image (for example {@code PG_VERSION} or {@code pg_xact/0000}). */
    public Optional<byte[]> imageFile(ImageManifest image, String path) {
        return image.files().stream().filter(f -> f.path().equals(path)).findFirst()
                .map(f -> imageFileContent(image, path, f.sha256()));
    }

    private byte[] imageFileContent(ImageManifest image, String path, String sha256) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            return DataDirectoryMaterializer.fileContent(tables, txn, image, path, sha256);
        }
    }

    // ---------------------------------------------------------------- retention

    /**
     * Frees WAL, images and page versions that none of the {@code retained} points (per timeline: snapshots,
     * the start of a PITR window) nor any timeline's end or branch point needs. See {@link GarbageCollector}.
     */
    public GcStats collectGarbage(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        GarbageCollector gc = new GarbageCollector(this, tables);
        GcStats stats = gc.run(retained, false);
        stats.timelinesFreed().forEach(this::deleteJournal);
        long blobs;
        imports.writeLock().lock(); // an import writes its blobs before the manifest that refers to them
        try {
            blobs = gc.sweepBlobs();
        } finally {
            imports.writeLock().unlock();
        }
        return stats.plus(new GcStats(0, 0, 0, 0, 0, List.of(), blobs));
    }

    /** What {@link #collectGarbage} would free, counted in a read transaction (blocks no writer). */
    public GcStats garbageIfCollected(Map<TimelineId, ? extends Collection<Lsn>> retained) {
        return new GarbageCollector(this, tables).run(retained, true);
    }

    /** The oldest LSN a compute can start at on this timeline: its lineage's oldest image. */
    public Optional<Lsn> retentionHorizon(TimelineId id) {
        Optional<Lsn> oldest = Optional.empty();
        // Image keys only: a page service asks this often, and manifests are big.
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.images.openCursor(txn)) {
            for (TimelineId t = id; t != null; ) {
                byte[] prefix = Keys.timeline(t);
                if (c.get(prefix, GetOp.MDB_SET_RANGE) && Keys.hasPrefix(c.key(), prefix)) {
                    oldest = Optional.of(Keys.lsnAt(c.key(), Keys.TL));
                }
                byte[] v = tables.timelines.get(txn, Keys.timeline(t));
                t = v == null ? null : TimelineCodec.decode(v).parent();
            }
        }
        return oldest;
    }

    // ---------------------------------------------------------------- metadata documents

    /**
     * Stores a document of the caller's. One keyed {@code KIND/TIMELINE-ID} (one slash) belongs to that
     * timeline: garbage collection deletes it with the timeline.
     */
    public void putMeta(String key, byte[] value) {
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            tables.meta.put(txn, metaKey(key), value);
            txn.commit();
        }
    }

    public Optional<byte[]> getMeta(String key) {
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            return Optional.ofNullable(tables.meta.get(txn, metaKey(key)));
        }
    }

    /** Returns whether the key existed. */
    public boolean deleteMeta(String key) {
        try (Txn<byte[]> txn = tables.env.txnWrite()) {
            boolean existed = tables.meta.delete(txn, metaKey(key));
            txn.commit();
            return existed;
        }
    }

    /** All documents whose key starts with {@code prefix}, in key order. */
    public Map<String, byte[]> listMeta(String prefix) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        try (Txn<byte[]> txn = tables.env.txnRead(); TableCursor c = tables.meta.openCursor(txn)) {
            boolean ok = p.length == 0 ? c.first() : c.get(p, GetOp.MDB_SET_RANGE);
            for (; ok && Keys.hasPrefix(c.key(), p); ok = c.next()) {
                out.put(new String(c.key(), StandardCharsets.UTF_8), c.val());
            }
        }
        return out;
    }

    private static byte[] metaKey(String key) {
        if (key.isEmpty() || key.length() > 400) {
            throw new IllegalArgumentException("metadata keys are 1..400 characters");
        }
        return key.getBytes(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- statistics

    /** Entries per table, pages in use and the size of the data file: what the store costs. */
    public StoreStats stats() {
        Map<String, Long> entries = new LinkedHashMap<>();
        long pagesInUse;
        try (Txn<byte[]> txn = tables.env.txnRead()) {
            entries.put("timelines", tables.timelines.stat(txn).entries);
            entries.put("wal_chunks", tables.walChunks.stat(txn).entries);
            entries.put("pages", tables.pages.stat(txn).entries);
            entries.put("images", tables.images.stat(txn).entries);
            entries.put("blobs", tables.blobs.stat(txn).entries);
            entries.put("changes_by_lsn", tables.changesByLsn.stat(txn).entries);
            entries.put("commits", tables.commits.stat(txn).entries);
            entries.put("checkpoints", tables.checkpoints.stat(txn).entries);
            entries.put("meta", tables.meta.stat(txn).entries);
            pagesInUse = tables.pagesInUse(txn);
        }
        Stat env = tables.env.stat();
        EnvInfo info = tables.env.info();
        try {
            return new StoreStats(entries, pagesInUse * env.pageSize, (info.lastPageNumber + 1) * (long) env.pageSize,
                    Files.size(directory.resolve("data.mdb")), info.lastTransactionId);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Entries keyed by the timeline, per table (none at all once garbage collection deleted it). */
    public Map<String, Long> entriesOf(TimelineId id) {
        return tables.entriesWithPrefix(Keys.timeline(id));
    }
}
