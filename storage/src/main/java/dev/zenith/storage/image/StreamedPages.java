package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.PageCodec;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
 * Pages go under a timeline id chosen here, which the image's timeline then takes; they are verified, compressed and
 * committed on a thread of their own, one batch at a time, while the next batch arrives. Meant for a store
 * nothing else uses yet (an import's new storage): until the image's manifest names them they belong to no
 * timeline. Not thread-safe: one unpacking thread feeds it.
 */
public final class StreamedPages implements AutoCloseable {
    private static final Duration ROOM_WAIT = Duration.ofMinutes(2);

    private final Tables tables;
    private final TimelineId timeline;
    /** Written by the writer thread; read by the unpacking thread only after it waited for the writer. */
    private final Map<RelTag, Fork> forks = new HashMap<>();
    /** Each streamed segment file as unpacked (the unpacking thread's). */
    private final Map<DataDirectoryLayout.Segment, Stamp> stamps = new HashMap<>();
    private final ExecutorService writer;
    private List<Chunk> batch = new ArrayList<>();
    private int batchPages;
    private Future<?> writing;
    private long pagesStored;
    private long bytesStored;
    /** Time the writer spent storing, and the unpacking thread spent waiting for it (for the log). */
    private volatile long writingNanos;
    private long waitedNanos;

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

    /** Bytes of a segment file from {@code offset}, as they arrived. */
    private record Chunk(DataDirectoryLayout.Segment segment, long offset, byte[] bytes) {
    }

    StreamedPages(Tables tables) {
        this.tables = tables;
        this.timeline = TimelineId.random();
        this.writer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "zenith-import-pages");
            t.setDaemon(true);
            return t;
        });
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
     * Pages of the relation file at {@code relPath}, {@code length} bytes of {@code buffer} from byte {@code offset}
     * of the file (a multiple of the page size). The buffer may be reused once this returns.
     */
    public void pages(String relPath, long offset, byte[] buffer, int length) throws IOException {
        DataDirectoryLayout.Segment segment = DataDirectoryLayout.relationSegment(relPath);
        if (segment == null) {
            throw new IllegalArgumentException(relPath + " is not a relation file");
        }
        batch.add(new Chunk(segment, offset, Arrays.copyOf(buffer, length))); // verified and stored by the writer
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
    }

    /** Hands the batch to the writer, after the one before it is committed. */
    private void flush() throws IOException {
        awaitWriting();
        if (batch.isEmpty()) {
            return;
        }
        List<Chunk> chunks = batch;
        batch = new ArrayList<>();
        int pages = batchPages;
        batchPages = 0;
        writing = writer.submit(() -> write(chunks, pages));
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

    /** On the writer thread: verifies the chunks' pages and stores them in one transaction. */
    private void write(List<Chunk> chunks, int pages) {
        long since = System.nanoTime();
        tables.room().awaitRoom(pages * CacheRoom.STORED_PAGE_BYTES, ROOM_WAIT, "the import into " + timeline);
        long stored = 0;
        long bytes = 0;
        try (Txn<byte[]> txn = tables.write()) {
            for (Chunk chunk : chunks) {
                Fork fork = forks.computeIfAbsent(chunk.segment().fork(), f -> new Fork());
                byte[] buffer = chunk.bytes();
                if (fork.unusable || chunk.offset() % WalGeometry.BLCKSZ != 0 || buffer.length % WalGeometry.BLCKSZ != 0) {
                    fork.unusable = true; // the directory's import reads it and says what is wrong
                    continue;
                }
                long firstBlock = (long) chunk.segment().segno() * WalGeometry.RELSEG_SIZE + chunk.offset() / WalGeometry.BLCKSZ;
                for (int at = 0; at < buffer.length && !fork.unusable; at += WalGeometry.BLCKSZ) {
                    long block = firstBlock + at / WalGeometry.BLCKSZ;
                    if (PageLayout.verify(buffer, at, block, true) != null) {
                        fork.unusable = PageLayout.verify(buffer, at, block, false) != null;
                        fork.checksumMismatch = true;
                    }
                    byte[] page = Arrays.copyOfRange(buffer, at, at + WalGeometry.BLCKSZ);
                    Lsn pageLsn = PageLayout.pageLsn(page);
                    if (pageLsn.isAfter(fork.newestPageLsn)) {
                        fork.newestPageLsn = pageLsn;
                    }
                    byte[] key = Keys.page(timeline, chunk.segment().fork(), (int) block, pageLsn);
                    byte[] encoded = PageCodec.encode(page);
                    tables.pages().put(txn, key, encoded);
                    fork.keys.add(key);
                    stored++;
                    bytes += encoded.length;
                }
            }
            txn.commit();
        }
        tables.room().changed();
        pagesStored += stored;
        bytesStored += bytes;
        writingNanos += System.nanoTime() - since; // one writer thread
    }

    /** Stores what is still queued; called once the archive is unpacked. */
    public void finish() throws IOException {
        flush();
        awaitWriting();
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
        return stamps.keySet().stream().filter(s -> s.fork().equals(rel)).count();
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

    /** Stops the writer; pages not kept by an image stay until {@link #discard()}. */
    @Override
    public void close() {
        try {
            awaitWriting();
        } catch (IOException | RuntimeException e) {
            // the writer's failure was the import's: it has been reported there
        } finally {
            writer.shutdown();
        }
    }

    @Override
    public String toString() {
        return String.format("%d pages streamed (%d bytes stored, writer busy %.1f s, unpacking waited %.1f s for it)",
                pagesStored, bytesStored, writingNanos / 1e9, waitedNanos / 1e9);
    }
}
