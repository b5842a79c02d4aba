package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.PageLookup;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ExecutionException;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.Comparator;
import java.util.ArrayList;
import java.util.stream.Stream;

/**
 * Writes the data directory of an image: directories (0700), files (0600), pg_control as
 * PostgreSQL wrote it, and every relation fork from the newest page version at or below the image
 * LSN, streamed block by block into 1 GiB segment files. Each fork writer reads in a read transaction of its own
 * (begun again every so often under a cache bound: {@link WriterView}): the versions at or below an LSN do not change.
 */
public final class DataDirectoryMaterializer {
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final int PAGES_PER_WRITE = 128;
    private static final int WRITERS = 2;

    private final Tables tables;

    public DataDirectoryMaterializer(Tables tables) {
        this.tables = tables;
    }

    /** @param lineage the image timeline's lineage at the image LSN */
    public MaterializeStats run(ImageManifest image, Lineage lineage, Path target) throws IOException {
        return run(image, lineage, target, bytes -> { });
    }

    /** The bytes of relation pages an image's directory holds: what {@code bytesWritten} adds up to. */
    public static long pageBytes(ImageManifest image) {
        return RelationSize.pageBytes(image.relations());
    }

    /**
     * @param bytesWritten told, from the writer threads, of each batch of relation pages written (for
     *                     progress; adds up to {@link #pageBytes})
     */
    public MaterializeStats run(ImageManifest image, Lineage lineage, Path target, LongConsumer bytesWritten)
            throws IOException {
        return write(image, image.directories(), f -> true, image.relations(), null, Map.of(), false, lineage, target,
                bytesWritten);
    }

    /**
     * Writes a data directory at an anchor from page versions: {@code d}'s image gives the directories and
     * small files, the anchor pg_control and status files, and every fork of {@code d.forks()} is written
     * from the newest version at or below {@code d.versionsAt()} on {@code lineage} (a block with none is
     * all zeros: a page the relation was extended by and no record has touched, as redo would find it).
     */
    public MaterializeStats run(VersionedDirectory d, Lineage lineage, Path target, LongConsumer bytesWritten)
            throws IOException {
        MaterializeStats stats = write(d.smallFiles(), d.directories(), d::takesImageFile, d.forks(), d.pgControl(),
                d.files(), true, lineage, target, bytesWritten);
        long bytes = 0;
        for (RelationSize fsm : d.freeSpaceMaps()) {
            bytes += writeZeros(fsm, target);
        }
        bytesWritten.accept(bytes);
        return new MaterializeStats(stats.relationForks() + d.freeSpaceMaps().size(),
                stats.pages() + bytes / WalGeometry.BLCKSZ, stats.files(), stats.bytesWritten() + bytes, stats.duration());
    }

    /** A fork of all-zero blocks, as sparse segment files (PostgreSQL reads the holes as zeros). */
    private static long writeZeros(RelationSize r, Path target) throws IOException {
        int segments = (int) Math.max(1, (r.blocks() + WalGeometry.RELSEG_SIZE - 1) / WalGeometry.RELSEG_SIZE);
        for (int segno = 0; segno < segments; segno++) {
            Path file = target.resolve(DataDirectoryLayout.segmentPath(r.rel(), segno));
            createDirectory(file.getParent());
            long blocks = Math.min(r.blocks() - (long) segno * WalGeometry.RELSEG_SIZE, WalGeometry.RELSEG_SIZE);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                if (blocks > 0) {
                    ch.write(ByteBuffer.allocate(1), blocks * WalGeometry.BLCKSZ - 1);
                }
            }
            Files.setPosixFilePermissions(file, FILE_MODE);
        }
        return r.blocks() * WalGeometry.BLCKSZ;
    }

    /**
     * @param directories     the directories to create
     * @param imageFiles      which of the image's files to write
     * @param pgControl       null: the image's
     * @param extraFiles      files written besides the image's
     * @param missingAsZeros  a block without a stored version is written as zeros (else an error)
     */
    private MaterializeStats write(ImageManifest image, List<String> directories, java.util.function.Predicate<String> imageFiles,
                                   List<RelationSize> relations, byte[] pgControl, Map<String, byte[]> extraFiles,
                                   boolean missingAsZeros, Lineage lineage, Path target, LongConsumer bytesWritten)
            throws IOException {
        Instant started = Instant.now();
        prepareTarget(target);
        long bytes = 0;
        int files = 1;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            for (String dir : directories) {
                createDirectory(target.resolve(dir));
            }
            createDirectory(target.resolve("global"));
            bytes += writeFile(target.resolve(DataDirectoryLayout.PG_CONTROL), pgControl != null ? pgControl
                    : fileContent(tables, txn, image, DataDirectoryLayout.PG_CONTROL, image.pgControlSha256()));
            for (FileEntry f : image.files()) {
                if (imageFiles.test(f.path())) {
                    bytes += writeFile(target.resolve(f.path()), fileContent(tables, txn, image, f.path(), f.sha256()));
                    files++;
                }
            }
            for (Map.Entry<String, byte[]> f : extraFiles.entrySet()) {
                bytes += writeFile(target.resolve(f.getKey()), f.getValue());
                files++;
            }
            // Every fork's directory exists before the writers start, so they never race on one.
            for (RelationSize r : relations) {
                createDirectory(target.resolve(DataDirectoryLayout.segmentPath(r.rel(), 0)).getParent());
            }
        }
        long pages = writeForks(relations, lineage, image.dataChecksumVersion() != 0, missingAsZeros, target,
                bytesWritten);
        bytes += pages * WalGeometry.BLCKSZ;
        return new MaterializeStats(relations.size(), pages, files, bytes, Duration.between(started, Instant.now()));
    }

    /**
     * Relation forks are written by up to {@link #WRITERS} threads, each with its own read transaction
     * (LMDB readers do not block each other): decompressing and writing pages is CPU work that a
     * second core halves. Forks are dealt largest first to the least loaded writer.
     */
    private long writeForks(List<RelationSize> relations, Lineage lineage, boolean checksums, boolean missingAsZeros,
                            Path target, LongConsumer bytesWritten)
            throws IOException {
        int writers = Math.max(1, Math.min(WRITERS, Runtime.getRuntime().availableProcessors()));
        List<List<RelationSize>> shares = new ArrayList<>();
        long[] load = new long[writers];
        for (int i = 0; i < writers; i++) {
            shares.add(new ArrayList<>());
        }
        List<RelationSize> bySize = new ArrayList<>(relations);
        bySize.sort(Comparator.comparingLong(RelationSize::blocks).reversed());
        for (RelationSize r : bySize) {
            int least = 0;
            for (int i = 1; i < writers; i++) {
                least = load[i] < load[least] ? i : least;
            }
            shares.get(least).add(r);
            load[least] += Math.max(1, r.blocks());
        }
        ExecutorService pool = Executors.newFixedThreadPool(writers, runnable -> {
            Thread t = new Thread(runnable, "zenith-materialize");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Long>> results = new ArrayList<>();
            for (List<RelationSize> share : shares) {
                results.add(pool.submit(() -> {
                    long written = 0;
                    try (WriterView view = new WriterView(lineage)) {
                        for (RelationSize r : share) {
                            written += writeFork(view, r, checksums, missingAsZeros, target, bytesWritten);
                        }
                    }
                    return written;
                }));
            }
            long pages = 0;
            for (Future<Long> f : results) {
                pages += f.get();
            }
            return pages;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("materialize interrupted", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(cause);
        } finally {
            pool.shutdownNow();
            awaitWorkers(pool);
        }
    }

    /**
     * A fork writer's read transaction and page lookup. Under a cache bound (an s3 storage's) they are begun again
     * every {@link #VIEW_NANOS} between batches: LMDB reuses no page freed after the oldest live read transaction
     * began, and a directory built while evicted values are read back from S3 (a branch at a snapshot) takes minutes,
     * while eviction and write-backs free and write pages, so one transaction for the whole build grew the file far
     * past the bound. The versions a directory is written from do not change meanwhile (a version is immutable;
     * eviction and write-back swap a value and its pointer), so a later view gives the same pages, as the two writers'
     * transactions, begun apart, always did.
     */
    private final class WriterView implements AutoCloseable {
        /** How long a view lives under a cache bound. */
        static final long VIEW_NANOS = 100_000_000L;
        private final Lineage lineage;
        private final boolean renewing = tables.room().bound() > 0;
        private ReadTxn read;
        private PageLookup lookup;
        private long begun;

        WriterView(Lineage lineage) {
            this.lineage = lineage;
            begin();
        }

        private void begin() {
            read = tables.read();
            lookup = new PageLookup(tables.pages(), read.txn(), lineage);
            begun = System.nanoTime();
        }

        PageLookup lookup() {
            return lookup;
        }

        /** Begins the view again when it is older than {@link #VIEW_NANOS} under a bound: the caller's readers are then gone. */
        boolean renewIfOld() {
            if (!renewing || System.nanoTime() - begun < VIEW_NANOS) {
                return false;
            }
            close();
            begin();
            return true;
        }

        @Override
        public void close() {
            if (lookup != null) {
                lookup.close();
                lookup = null;
            }
            if (read != null) {
                read.close();
                read = null;
            }
        }
    }

    /**
     * Waits for the writers to stop (after one failed, the others are interrupted): none may outlive the
     * call, since its LMDB cursor would then outlive the caller's store, which may close the environment
     * under it (a crash of the JVM, not an exception).
     */
    private static void awaitWorkers(ExecutorService pool) {
        boolean interrupted = false;
        while (true) {
            try {
                if (pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** The content of file {@code path} of {@code image}, stored by its sha-256 (hex); damage names the file. */
    public static byte[] fileContent(Tables tables, Txn<byte[]> txn, ImageManifest image, String path, String sha256) {
        try {
            return Blobs.get(tables.blobs(), txn, sha256);
        } catch (StoreCorruptException e) {
            throw new StoreCorruptException("file " + path + " of the image at " + image.lsn() + " of timeline "
                    + image.timeline() + ": " + e.getMessage());
        }
    }

    private static void prepareTarget(Path target) throws IOException {
        if (Files.exists(target)) {
            try (Stream<Path> s = Files.list(target)) {
                if (s.findAny().isPresent()) {
                    throw new StoreException("materialize target " + target + " is not empty");
                }
            }
            Files.setPosixFilePermissions(target, DIR_MODE);
        } else {
            createDirectory(target);
        }
    }

    private long writeFork(WriterView view, RelationSize r, boolean checksums, boolean missingAsZeros, Path target,
                           LongConsumer bytesWritten)
            throws IOException {
        long written = 0;
        long blocks = r.blocks();
        int segments = (int) Math.max(1, (blocks + WalGeometry.RELSEG_SIZE - 1) / WalGeometry.RELSEG_SIZE);
        byte[] buffer = new byte[PAGES_PER_WRITE * WalGeometry.BLCKSZ];
        PageLookup.BlockReader reader = view.lookup().reader(r.rel());
        for (int segno = 0; segno < segments; segno++) {
            Path file = target.resolve(DataDirectoryLayout.segmentPath(r.rel(), segno));
            createDirectory(file.getParent());
            long first = (long) segno * WalGeometry.RELSEG_SIZE;
            long end = Math.min(blocks, first + WalGeometry.RELSEG_SIZE);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                int filled = 0;
                for (long blk = first; blk < end; blk++) {
                    PageLookup.Found found = reader.find((int) blk);
                    if (found == null && missingAsZeros) {
                        java.util.Arrays.fill(buffer, filled * WalGeometry.BLCKSZ, (filled + 1) * WalGeometry.BLCKSZ, (byte) 0);
                    } else if (found == null) {
                        throw new StoreException("no stored version of " + r.rel().path() + " block " + blk
                                + " at or below the image LSN");
                    } else {
                        found.decodeVerified(r.rel(), blk, checksums, buffer, filled * WalGeometry.BLCKSZ);
                    }
                    written++;
                    if (++filled == PAGES_PER_WRITE) {
                        writeFully(ch, buffer, filled * WalGeometry.BLCKSZ);
                        bytesWritten.accept((long) filled * WalGeometry.BLCKSZ);
                        filled = 0;
                        if (blk + 1 < end && view.renewIfOld()) {
                            reader = view.lookup().reader(r.rel(), (int) (blk + 1));
                        }
                    }
                }
                writeFully(ch, buffer, filled * WalGeometry.BLCKSZ);
                bytesWritten.accept((long) filled * WalGeometry.BLCKSZ);
            }
            Files.setPosixFilePermissions(file, FILE_MODE);
        }
        return written;
    }

    private static void writeFully(FileChannel ch, byte[] buffer, int length) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(buffer, 0, length);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static long writeFile(Path file, byte[] content) throws IOException {
        createDirectory(file.getParent());
        Files.write(file, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Files.setPosixFilePermissions(file, FILE_MODE);
        return content.length;
    }

    private static void createDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        createDirectory(dir.getParent());
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, DIR_MODE);
    }
}
