package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.PageCodec;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Relation pages stored while an archive of a data directory arrives (a base backup being unpacked), before
 * the directory is complete and recovered, so its image need not read them again. The image's import
 * ({@link DataDirectoryImporter}) keeps a fork's streamed pages only when each of its segment files is still
 * the file the pages streamed from, unchanged since (same file key, size and modification time: PostgreSQL
 * writes what its recovery changes, and a file nothing wrote holds what streamed; its recovery starts a process
 * start after the last file streamed, far more than the few milliseconds of a file time's tick), and its pages verified;
 * every other fork's streamed pages are deleted and the fork is read from the directory as before.
 * <p>
 * Pages go under a timeline id chosen here, which the image's timeline then takes. Each piece is verified and
 * compressed as soon as it arrives, on encoder threads ({@code zenith-import-encode}, one per core up to
 * {@link #MAX_ENCODERS}: compression is most of the CPU a page costs), and the pieces are committed in order, one
 * batch at a time, on a writer thread ({@code zenith-import-pages}) while the next batch arrives. Meant for a store
 * nothing else uses yet (an import's new storage): until the image's manifest names them they belong to no
 * timeline. Not thread-safe: one unpacking thread feeds it.
 * <p>
 * The unpacking may leave pieces out of the staged files ({@link #mayLeaveOut}: holes, so ~all of a database's bytes
 * are not written twice, to the staged directory and to the store): they are written back from the store where
 * PostgreSQL will read them ({@link #fillForRecovery}) and before the image reads a fork it does not keep
 * ({@link #fillBeforeRead}); a piece that fails its checks keeps its bytes in memory for that, and nothing more is left out.
 */
public final class StreamedPages implements AutoCloseable {
    private static final Duration ROOM_WAIT = Duration.ofMinutes(2);
    /** The size of {@link #buffer()}'s buffers: 128 pages. */
    public static final int BUFFER_BYTES = 128 * WalGeometry.BLCKSZ;
    /** template1's directory as initdb makes it (OID 1). */
    private static final String TEMPLATE1_DIRECTORY = "base/1/";
    /** Encoder threads at most (fewer on a machine with fewer cores). */
    static final int MAX_ENCODERS = 4;

    private final Tables tables;
    private final TimelineId timeline;
    /** Written by the writer thread; read by the unpacking thread only after it waited for the writer. */
    private final Map<RelTag, Fork> forks = new HashMap<>();
    /** Each streamed segment file as unpacked (the unpacking thread's). */
    private final Map<DataDirectoryLayout.Segment, Stamp> stamps = new HashMap<>();
    /** Streamed segment files per fork, counted once the archive is unpacked. */
    private Map<RelTag, Integer> segmentsPerFork;
    private final ExecutorService encoders;
    /** Buffers the encoders are done with (as many as were in flight at once, at most). */
    private final java.util.Queue<byte[]> freeBuffers = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final ExecutorService writer;
    /** Pieces handed to the encoders, not yet to the writer (in arrival order). */
    private List<Future<Encoded>> batch = new ArrayList<>();
    private int batchPages;
    private Future<?> writing;
    private long pagesStored;
    /** Pieces left out of each staged segment file, not yet written into it (the unpacking thread's). */
    private final Map<DataDirectoryLayout.Segment, List<LeftOut>> leftOut = new HashMap<>();
    private long bytesLeftOut;
    private long bytesFilled;
    /** A piece failed its checks: nothing more is left out (its bytes are kept in memory until written). */
    private volatile boolean pieceFailed;
    private long bytesStored;
    /** Time the writer spent storing, and the unpacking thread spent waiting for it (for the log). */
    private volatile long writingNanos;
    private long waitedNanos;
    /** {@link #fillForRecovery}'s steps (for the log): the recovery's reads found, the last pieces stored after, written back. */
    private final long[] tailNanos = new long[3];

    /** What streamed of one fork. */
    private static final class Fork {
        final List<byte[]> keys = new ArrayList<>();
        Lsn newestPageLsn = Lsn.INVALID;
        /** A page failed its header check, or a segment is not whole pages: the fork is read again. */
        boolean unusable;
        /** A page's checksum did not match: the fork is read again when the cluster has data checksums. */
        boolean checksumMismatch;
    }

    /** A segment file as unpacked: what says it is unchanged since. */
    private record Stamp(Object fileKey, long size, FileTime modified) {
        static Stamp of(Path file) throws IOException {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new Stamp(a.fileKey(), a.size(), a.lastModifiedTime());
        }
    }

    /**
     * A piece of a segment file, verified and encoded: its pages' keys and stored values, up to the first page that
     * fails its header check ({@code unusable}: the fork is read from the directory, which says what is wrong).
     */
    private record Encoded(RelTag fork, byte[][] keys, byte[][] values, int count, Lsn newestPageLsn,
                           boolean unusable, boolean checksumMismatch, byte[] raw) {
        Encoded withRaw(byte[] raw) {
            return new Encoded(fork, keys, values, count, newestPageLsn, unusable, checksumMismatch, raw);
        }
    }

    /**
     * A piece of a segment file the unpacking left out of the staged file (a hole): its pages are in the store,
     * or, when they failed their checks, its bytes in {@code piece}'s {@code raw}.
     */
    private record LeftOut(long offset, int length, Future<Encoded> piece) {
    }

    StreamedPages(Tables tables) {
        this.tables = tables;
        this.timeline = TimelineId.random();
        this.writer = Executors.newSingleThreadExecutor(r -> daemonThread(r, "zenith-import-pages"));
        int cores = Runtime.getRuntime().availableProcessors();
        this.encoders = Executors.newFixedThreadPool(Math.max(1, Math.min(MAX_ENCODERS, cores)),
                r -> daemonThread(r, "zenith-import-encode"));
    }

    private static Thread daemonThread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The timeline the pages are stored under: the image's timeline must take this id. */
    public TimelineId timeline() {
        return timeline;
    }

    /** Whether a file at {@code relPath} (relative to the data directory, '/'-separated) holds relation pages. */
    public static boolean isRelationFile(String relPath) {
        return DataDirectoryLayout.relationSegment(relPath) != null;
    }

    /**
     * A buffer of {@link #BUFFER_BYTES} for the next bytes of a relation file, to hand to {@link #pages}: one an encoder
     * is done with when there is one, so the pages are neither copied nor a new buffer allocated per piece.
     */
    public byte[] buffer() {
        byte[] b = freeBuffers.poll();
        return b != null ? b : new byte[BUFFER_BYTES];
    }

    /**
     * Pages of the relation file at {@code relPath}, {@code length} bytes of {@code buffer} (from {@link #buffer()}) from
     * byte {@code offset} of the file (a multiple of the page size). The buffer is handed over: the caller must not touch it again.
     */
    public void pages(String relPath, long offset, byte[] buffer, int length) throws IOException {
        pages(relPath, offset, buffer, length, false);
    }

    /**
     * Whether the next piece of the relation file at {@code relPath} may be left out of the staged directory (a
     * hole), to be written there only if PostgreSQL will read it before the image is taken ({@link
     * #fillForRecovery}, {@link #fillBeforeRead}): a file of a database directory, not an init fork (copied over
     * its unlogged relation's main fork at every start), not template1's as initdb makes it (the single-user run that
     * sets the password reads its catalogs: writing them now costs the staging less than writing them back after),
     * and only while every piece passed its checks.
     */
    public boolean mayLeaveOut(String relPath) {
        DataDirectoryLayout.Segment segment = DataDirectoryLayout.relationSegment(relPath);
        return !pieceFailed && segment != null && relPath.startsWith("base/") && !relPath.startsWith(TEMPLATE1_DIRECTORY)
                && segment.fork().fork() != dev.zenith.wal.ForkNumber.INIT;
    }

    /** As above; {@code leftOut}: the caller did not write the piece into the staged file (see {@link #mayLeaveOut}). */
    public void pages(String relPath, long offset, byte[] buffer, int length, boolean leftOut) throws IOException {
        DataDirectoryLayout.Segment segment = DataDirectoryLayout.relationSegment(relPath);
        if (segment == null) {
            throw new IllegalArgumentException(relPath + " is not a relation file");
        }
        Future<Encoded> piece = encoders.submit(() -> encode(segment, offset, buffer, length, leftOut));
        batch.add(piece); // then stored by the writer
        if (leftOut) {
            this.leftOut.computeIfAbsent(segment, s -> new ArrayList<>()).add(new LeftOut(offset, length, piece));
            bytesLeftOut += length;
        }
        batchPages += (length + WalGeometry.BLCKSZ - 1) / WalGeometry.BLCKSZ;
        long bound = tables.room().bound();
        if (batchPages >= DataDirectoryImporter.PAGES_PER_TXN
                || (bound > 0 && (long) batchPages * CacheRoom.STORED_PAGE_BYTES >= bound / 8)) {
            flush();
        }
    }

    /** The relation file at {@code relPath} is complete in {@code file}: its stamp is taken now. */
    public void fileWritten(String relPath, Path file) throws IOException {
        stamps.put(DataDirectoryLayout.relationSegment(relPath), Stamp.of(file));
        segmentsPerFork = null;
    }

    /**
     * Hands the pieces queued so far to the writer now, not when the batch is full (after the one before it is
     * committed): the archive's relation files are over, and the rest (its WAL) arrives while they are stored.
     */
    public void storeQueued() throws IOException {
        flush();
    }

    /** Hands the batch to the writer, after the one before it is committed. */
    private void flush() throws IOException {
        awaitWriting();
        if (batch.isEmpty()) {
            return;
        }
        List<Future<Encoded>> pieces = batch;
        batch = new ArrayList<>();
        int pages = batchPages;
        batchPages = 0;
        writing = writer.submit(() -> {
            write(pieces, pages);
            return null;
        });
    }

    private void awaitWriting() throws IOException {
        if (writing == null) {
            return;
        }
        long since = System.nanoTime();
        try {
            writing.get();
            waitedNanos += System.nanoTime() - since;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while storing streamed pages", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        } finally {
            writing = null;
        }
    }

    /** On an encoder thread: {@link #encodePages}, then {@code buffer} is free for {@link #buffer()} again. */
    private Encoded encode(DataDirectoryLayout.Segment segment, long offset, byte[] buffer, int length, boolean leftOut) {
        Encoded e = encodePages(segment, offset, buffer, length);
        if (e.unusable()) {
            pieceFailed = true;
            if (leftOut) {
                return e.withRaw(buffer); // the piece's only copy: kept, not reused
            }
        }
        if (buffer.length == BUFFER_BYTES) {
            freeBuffers.offer(buffer);
        }
        return e;
    }

    /** Verifies the pages of {@code length} bytes of {@code bytes} (from {@code offset} of the segment file) and encodes them. */
    private Encoded encodePages(DataDirectoryLayout.Segment segment, long offset, byte[] bytes, int length) {
        RelTag rel = segment.fork();
        if (offset % WalGeometry.BLCKSZ != 0 || length % WalGeometry.BLCKSZ != 0) {
            return new Encoded(rel, new byte[0][], new byte[0][], 0, Lsn.INVALID, true, false, null);
        }
        int pages = length / WalGeometry.BLCKSZ;
        byte[][] keys = new byte[pages][];
        byte[][] values = new byte[pages][];
        byte[] scratch = PageCodec.scratch();
        long firstBlock = (long) segment.segno() * WalGeometry.RELSEG_SIZE + offset / WalGeometry.BLCKSZ;
        Lsn newest = Lsn.INVALID;
        boolean checksumMismatch = false;
        int count = 0;
        for (int at = 0; at < length; at += WalGeometry.BLCKSZ) {
            long block = firstBlock + at / WalGeometry.BLCKSZ;
            if (PageLayout.verify(bytes, at, block, true) != null) {
                checksumMismatch = true;
                if (PageLayout.verify(bytes, at, block, false) != null) {
                    return new Encoded(rel, keys, values, count, newest, true, true, null);
                }
            }
            Lsn pageLsn = PageLayout.pageLsn(bytes, at);
            if (pageLsn.isAfter(newest)) {
                newest = pageLsn;
            }
            keys[count] = Keys.page(timeline, rel, (int) block, pageLsn);
            // sealed here, on an encoder thread: the writer only puts it
            values[count] = Table.sealInPlace(keys[count], PageCodec.encode(bytes, at, scratch, Table.CHECKSUM_BYTES));
            count++;
        }
        return new Encoded(rel, keys, values, count, newest, false, checksumMismatch, null);
    }

    /**
     * On the writer thread: stores the encoded pieces, in order; at a cache bound's floor in parts of as many pieces as
     * fit under its admission limit ({@link CacheRoom#admitUpTo}: one piece at least), each committed before the next asks.
     */
    private void write(List<Future<Encoded>> pieces, int pages) throws InterruptedException {
        int from = 0;
        while (from < pieces.size()) {
            long min = Math.max(1, encoded(pieces.get(from)).count()) * CacheRoom.STORED_PAGE_BYTES;
            // every piece, or at a bound's floor as many as fit under its admission limit (one at least), each part committed
            try (CacheRoom.Grant granted = tables.room().awaitRoomUpTo(min,
                    Math.max(min, (long) pages * CacheRoom.STORED_PAGE_BYTES), ROOM_WAIT, "the import into " + timeline)) {
                int to = from + 1;
                long room = granted.granted() - min;
                for (long more; to < pieces.size() && (more = (long) encoded(pieces.get(to)).count()
                        * CacheRoom.STORED_PAGE_BYTES) <= room; to++) {
                    room -= more;
                }
                pages -= write(pieces.subList(from, to));
                from = to;
            }
            tables.room().changed();
        }
    }

    /** Stores {@code pieces} in one transaction (room granted for them); returns how many pages they held. */
    private int write(List<Future<Encoded>> pieces) throws InterruptedException {
        long since = System.nanoTime();
        int stored = 0;
        long bytes = 0;
        try (Txn<byte[]> txn = tables.write()) {
            for (Future<Encoded> piece : pieces) {
                Encoded e = encoded(piece);
                Fork fork = forks.computeIfAbsent(e.fork(), f -> new Fork());
                // an unusable fork's pages are stored all the same (a piece left out may need them written back),
                // then dropped: the directory's import reads the fork and says what is wrong
                for (int i = 0; i < e.count(); i++) {
                    tables.pages().putSealed(txn, e.keys()[i], e.values()[i]);
                    fork.keys.add(e.keys()[i]);
                    bytes += e.values()[i].length - Table.CHECKSUM_BYTES;
                    e.values()[i] = null; // stored: a piece left out keeps only its keys
                }
                stored += e.count();
                if (e.newestPageLsn().isAfter(fork.newestPageLsn)) {
                    fork.newestPageLsn = e.newestPageLsn();
                }
                fork.unusable |= e.unusable();
                fork.checksumMismatch |= e.checksumMismatch();
            }
            txn.commit();
        }
        pagesStored += stored;
        bytesStored += bytes;
        writingNanos += System.nanoTime() - since; // one writer thread
        return stored;
    }

    /** The encoder's result; its failure (a bug: encoding only reports bad pages) is the writer's own. */
    private static Encoded encoded(Future<Encoded> piece) throws InterruptedException {
        try {
            return piece.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stores what is still queued; called once the archive is unpacked. */
    public void finish() throws IOException {
        flush();
        awaitWriting();
    }

    /**
     * Writes into the staged directory {@code dataDir} the pieces left out of the files PostgreSQL reads before the
     * image is taken ({@link RecoveryReads}: what the backup's WAL names, template1's catalogs); called once the
     * archive and its WAL are unpacked, before the recovery. A file written so is stamped again: it holds what streamed.
     */
    public void fillForRecovery(Path dataDir) throws IOException {
        long since = System.nanoTime();
        flush(); // the last pieces are stored while the WAL is read
        RecoveryReads reads = leftOut.isEmpty() ? null : RecoveryReads.of(dataDir);
        long found = System.nanoTime();
        awaitWriting();
        long stored = System.nanoTime();
        if (reads != null) {
            for (DataDirectoryLayout.Segment s : List.copyOf(leftOut.keySet())) {
                if (reads.reads(s.fork().node())) {
                    Path file = dataDir.resolve(DataDirectoryLayout.segmentPath(s.fork(), s.segno()));
                    fill(s, file);
                    stamps.put(s, Stamp.of(file));
                }
            }
            segmentsPerFork = null;
        }
        tailNanos[0] = found - since;
        tailNanos[1] = stored - found;
        tailNanos[2] = System.nanoTime() - stored;
    }

    /**
     * Before a fork is read from the directory (its streamed pages are not kept): writes the pieces left out of its
     * files. A file PostgreSQL made anew (another file key: an unlogged relation's main fork copied from its init
     * fork) is its own; one it changed in place was read with holes, which {@link RecoveryReads} rules out: refused.
     */
    void fillBeforeRead(RelTag rel, List<Path> segments) throws IOException {
        for (int segno = 0; segno < segments.size(); segno++) {
            DataDirectoryLayout.Segment s = new DataDirectoryLayout.Segment(rel, segno);
            if (!leftOut.containsKey(s)) {
                continue;
            }
            Stamp unpacked = stamps.get(s);
            Stamp now = Stamp.of(segments.get(segno));
            if (unpacked != null && !java.util.Objects.equals(unpacked.fileKey(), now.fileKey())) {
                leftOut.remove(s);
            } else if (now.equals(unpacked)) {
                fill(s, segments.get(segno));
            } else {
                throw new StoreException(segments.get(segno) + " was left sparse while it was unpacked (PostgreSQL was not"
                        + " to read it before the image), but PostgreSQL changed it: the import cannot tell its content");
            }
        }
    }

    /** Writes the segment's pieces left out into {@code file}: from the store, or the bytes kept of a piece that failed. */
    private void fill(DataDirectoryLayout.Segment segment, Path file) throws IOException {
        List<LeftOut> pieces = leftOut.remove(segment);
        byte[] buffer = new byte[BUFFER_BYTES];
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.WRITE); ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            for (LeftOut p : pieces) {
                Encoded e;
                try {
                    e = encoded(p.piece());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while writing back " + file, ie);
                }
                byte[] bytes = e.raw();
                if (bytes == null) {
                    if ((long) e.count() * WalGeometry.BLCKSZ != p.length()) {
                        throw new IllegalStateException("a piece of " + file + " left out has no bytes kept");
                    }
                    for (int i = 0; i < e.count(); i++) {
                        byte[] value = tables.pages().get(txn, e.keys()[i]);
                        if (value == null) {
                            throw new IllegalStateException("a page of " + file + " left out is not in the store");
                        }
                        PageCodec.decodeInto(value, buffer, i * WalGeometry.BLCKSZ);
                    }
                    bytes = buffer;
                }
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes, 0, p.length());
                while (b.hasRemaining()) {
                    ch.write(b, p.offset() + b.position());
                }
                bytesFilled += p.length();
            }
        }
    }

    /** Pages of the forks not dropped (after {@link #dropAllBut}: the ones an image keeps). */
    long pagesKept() {
        return forks.values().stream().mapToLong(f -> f.keys.size()).sum();
    }

    /**
     * The fork's length in blocks when its streamed pages are its content in {@code segments} (the directory's
     * files of the fork, in order) at checkpoint {@code checkpointLsn}; -1 when the fork must be read.
     */
    long keptBlocks(RelTag rel, List<Path> segments, boolean checksums, Lsn checkpointLsn) throws IOException {
        Fork fork = forks.getOrDefault(rel, new Fork()); // none when its files are empty
        if (fork.unusable || checksums && fork.checksumMismatch
                || fork.newestPageLsn.isAfter(checkpointLsn) || streamedSegments(rel) != segments.size()) {
            return -1;
        }
        long blocks = 0;
        for (int segno = 0; segno < segments.size(); segno++) {
            Stamp streamed = stamps.get(new DataDirectoryLayout.Segment(rel, segno));
            if (streamed == null || !streamed.equals(Stamp.of(segments.get(segno)))) {
                return -1;
            }
            if (segno < segments.size() - 1 && streamed.size() != (long) WalGeometry.RELSEG_SIZE * WalGeometry.BLCKSZ) {
                return -1;
            }
            if (streamed.size() % WalGeometry.BLCKSZ != 0) {
                return -1;
            }
            blocks += streamed.size() / WalGeometry.BLCKSZ;
        }
        return blocks;
    }

    private long streamedSegments(RelTag rel) {
        if (segmentsPerFork == null) { // counted once: every fork asks
            segmentsPerFork = new HashMap<>();
            stamps.keySet().forEach(s -> segmentsPerFork.merge(s.fork(), 1, Integer::sum));
        }
        return segmentsPerFork.getOrDefault(rel, 0);
    }

    /** Deletes the streamed pages of every fork but {@code kept} (they are read from the directory instead). */
    void dropAllBut(Set<RelTag> kept) {
        delete(rel -> !kept.contains(rel));
    }

    /** Deletes every streamed page: the import failed, or never used them. */
    public void discard() {
        delete(rel -> true);
    }

    private void delete(java.util.function.Predicate<RelTag> which) {
        try {
            awaitWriting(); // a batch still being written is deleted too
        } catch (IOException | RuntimeException e) {
            // its failure was reported to the import; what it wrote is deleted below all the same
        }
        List<RelTag> dropped = forks.keySet().stream().filter(which).toList();
        if (dropped.stream().allMatch(rel -> forks.get(rel).keys.isEmpty())) {
            dropped.forEach(forks::remove);
            return;
        }
        try (Txn<byte[]> txn = tables.write()) {
            for (RelTag rel : dropped) {
                for (byte[] k : forks.get(rel).keys) {
                    tables.pages().delete(txn, k);
                }
            }
            txn.commit();
        }
        dropped.forEach(forks::remove);
        tables.room().changed();
    }

    /** Stops the writer and encoders (pieces not handed to the writer are not stored); pages not kept by an image stay until {@link #discard()}. */
    @Override
    public void close() {
        try {
            awaitWriting();
        } catch (IOException | RuntimeException e) {
            // the writer's failure was the import's: it has been reported there
        } finally {
            batch.forEach(piece -> piece.cancel(false));
            batch.clear();
            leftOut.clear();
            batchPages = 0;
            encoders.shutdown();
            writer.shutdown();
        }
    }

    @Override
    public String toString() {
        return String.format("%d pages streamed (%d bytes stored, writer busy %.2f s, unpacking waited %.2f s for it;"
                + " %d bytes left out of the staged files, %d written back; then the recovery's reads found in %.3f s,"
                + " the last pieces stored %.3f s after, written back in %.3f s)", pagesStored, bytesStored, writingNanos / 1e9,
                waitedNanos / 1e9, bytesLeftOut, bytesFilled, tailNanos[0] / 1e9, tailNanos[1] / 1e9, tailNanos[2] / 1e9);
    }
}
