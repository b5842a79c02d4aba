package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.lmdb.EvictedValueException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.page.PageCodec;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.page.PageLookup;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Takes an image of a cleanly stopped data directory. Pages are verified (checksum, header), then
 * stored in batches keyed by their own pd_lsn unless the lineage already holds that content; the
 * manifest is committed last, so an import that fails or crashes leaves no image and, when it
 * fails cleanly, none of its page versions either.
 */
public final class DataDirectoryImporter {
    /** Pages per LMDB write transaction: big enough to amortize the fsync, small enough not to stall WAL appends. */
    static final int PAGES_PER_TXN = 4096;
    /** How long a batch waits for room under a cache bound (eviction to S3) before the import fails, storing nothing. */
    private static final java.time.Duration ROOM_WAIT = java.time.Duration.ofMinutes(2);
    private static final int PAGES_PER_READ = 128;

    private final Tables tables;
    private final TimelineId timeline;
    private final Lineage lineage;
    private final ImageManifest previous;
    private final Lsn checkpointLsn;
    private final Lsn redoLsn;
    private final RelationFilter filter;
    /** Pages stored while the directory arrived (kept for forks whose files are unchanged since), or null. */
    private final StreamedPages streamed;

    private final List<byte[]> writtenPageKeys = new ArrayList<>();
    private final List<byte[]> writtenBlobKeys = new ArrayList<>();
    private final List<Pending> batch = new ArrayList<>();
    private final byte[] scratch = PageCodec.scratch();
    private boolean checksums;
    private long pagesRead;
    private long pagesStored;
    private long bytesRead;
    private long bytesStored;

    /**
     * @param lineage  the timeline's lineage at the checkpoint LSN (for "is this content already stored")
     * @param previous the image this one follows (relations the filter rejects are carried over), or null
     * @param streamed pages stored under {@code timeline} while the directory arrived, or null
     */
    public DataDirectoryImporter(Tables tables, TimelineId timeline, Lineage lineage, ImageManifest previous,
                                 Lsn checkpointLsn, Lsn redoLsn, RelationFilter filter, StreamedPages streamed) {
        this.tables = tables;
        this.timeline = timeline;
        this.lineage = lineage;
        this.previous = previous;
        this.checkpointLsn = checkpointLsn;
        this.redoLsn = redoLsn;
        this.filter = filter;
        this.streamed = streamed;
    }

    private record Pending(RelTag rel, int block, Lsn pageLsn, byte[] page) {
    }

    public ImportStats run(Path dataDir) throws IOException {
        return run(dataDir, ImportProgress.NONE);
    }

    /** {@code progress}: told the bytes of relation files to read, then each batch read. */
    public ImportStats run(Path dataDir, ImportProgress progress) throws IOException {
        Instant started = Instant.now();
        try {
            return doImport(dataDir, started, progress);
        } catch (IOException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /** pg_control as PostgreSQL would accept it, with the page and segment sizes we store. */
    private static ControlFile checkedControlFile(byte[] pgControl) {
        ControlFile control;
        try {
            control = ControlFile.parse(pgControl);
        } catch (IllegalArgumentException e) {
            throw new StoreException("pg_control is not a valid PostgreSQL 15 control file: " + e.getMessage());
        }
        if (control.blockSize() != WalGeometry.BLCKSZ || control.relationSegmentSize() != WalGeometry.RELSEG_SIZE) {
            throw new StoreException("unsupported block size " + control.blockSize() + " or segment size "
                    + control.relationSegmentSize());
        }
        return control;
    }

    private ImportStats doImport(Path dataDir, Instant started, ImportProgress progress) throws IOException {
        byte[] pgControl = Files.readAllBytes(dataDir.resolve(DataDirectoryLayout.PG_CONTROL));
        ControlFile control = checkedControlFile(pgControl);
        checksums = control.dataChecksumVersion() != 0;
        DataDirectoryLayout.Scan scan = DataDirectoryLayout.scan(dataDir);

        Map<RelTag, RelationSize> before = new HashMap<>();
        if (previous != null) {
            previous.relations().forEach(r -> before.put(r.rel(), r));
        }
        List<RelationSize> relations = new ArrayList<>();
        Map<RelTag, List<Path>> toRead = new java.util.LinkedHashMap<>();
        long bytesToRead = 0;
        int forksKept = 0;
        java.util.Set<RelTag> streamedKept = new java.util.HashSet<>();
        for (Map.Entry<RelTag, List<Path>> fork : scan.forks().entrySet()) {
            RelTag rel = fork.getKey();
            long streamedBlocks = streamed == null ? -1 : streamed.keptBlocks(rel, fork.getValue(), checksums, checkpointLsn);
            if (streamedBlocks >= 0) {
                relations.add(new RelationSize(rel, streamedBlocks));
                streamedKept.add(rel);
                continue;
            }
            long blocksOnDisk = blocksOnDisk(fork.getValue());
            RelationSize kept = before.get(rel);
            if (kept != null && kept.blocks() == blocksOnDisk && !filter.reread(rel.node())) {
                relations.add(kept);
                forksKept++;
                continue;
            }
            toRead.put(rel, fork.getValue());
            bytesToRead += blocksOnDisk * WalGeometry.BLCKSZ;
        }
        if (streamed != null) {
            for (Map.Entry<RelTag, List<Path>> fork : toRead.entrySet()) {
                streamed.fillBeforeRead(fork.getKey(), fork.getValue()); // pieces the unpacking left out, from the store
            }
            streamed.dropAllBut(streamedKept); // forks changed since they streamed are read below
        }
        progress.toRead(bytesToRead);
        for (Map.Entry<RelTag, List<Path>> fork : toRead.entrySet()) {
            relations.add(new RelationSize(fork.getKey(), importFork(fork.getKey(), fork.getValue(), progress)));
        }
        int forksRead = toRead.size();
        flush();

        List<FileEntry> files = new ArrayList<>();
        int filesStored = 0;
        String pgControlSha;
        try (Txn<byte[]> txn = tables.write()) {
            pgControlSha = storeFile(txn, pgControl);
            for (String path : scan.files()) {
                byte[] content = Files.readAllBytes(dataDir.resolve(path));
                long stored = bytesStored;
                files.add(new FileEntry(path, storeFile(txn, content), content.length));
                filesStored += bytesStored > stored ? 1 : 0;
            }
            txn.commit();
        }

        ImageManifest manifest = new ImageManifest(timeline, checkpointLsn, redoLsn, Instant.now(),
                control.dataChecksumVersion(), pgControlSha, relations, files, scan.directories());
        try (Txn<byte[]> txn = tables.write()) {
            tables.images().put(txn, Keys.timelineLsn(timeline, checkpointLsn), ManifestCodec.encode(manifest));
            txn.commit();
        }
        if (streamed != null) {
            forksKept += streamedKept.size();
            pagesStored += streamed.pagesKept();
        }
        return new ImportStats(forksRead, forksKept, pagesRead, pagesStored, bytesRead, bytesStored, files.size(),
                filesStored, Duration.between(started, Instant.now()));
    }

    private static long blocksOnDisk(List<Path> segments) throws IOException {
        long total = 0;
        for (Path s : segments) {
            total += Files.size(s) / WalGeometry.BLCKSZ;
        }
        return total;
    }

    /** Reads, verifies and queues every page of one fork; returns its length in blocks. */
    private long importFork(RelTag rel, List<Path> segments, ImportProgress progress) throws IOException {
        long blockNumber = 0;
        byte[] buffer = new byte[PAGES_PER_READ * WalGeometry.BLCKSZ];
        for (int segno = 0; segno < segments.size(); segno++) {
            Path file = segments.get(segno);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size % WalGeometry.BLCKSZ != 0) {
                    throw new StoreException(file + " has " + size + " bytes, not a whole number of pages");
                }
                if (segno < segments.size() - 1 && size != (long) WalGeometry.RELSEG_SIZE * WalGeometry.BLCKSZ) {
                    throw new StoreException(file + " is not a full 1 GiB segment but a later one exists");
                }
                long blocks = size / WalGeometry.BLCKSZ;
                for (long first = 0; first < blocks; first += PAGES_PER_READ) {
                    int n = (int) Math.min(PAGES_PER_READ, blocks - first);
                    readFully(ch, buffer, first * WalGeometry.BLCKSZ, n * WalGeometry.BLCKSZ);
                    progress.read((long) n * WalGeometry.BLCKSZ);
                    for (int i = 0; i < n; i++) {
                        byte[] page = Arrays.copyOfRange(buffer, i * WalGeometry.BLCKSZ, (i + 1) * WalGeometry.BLCKSZ);
                        long inFile = first + i;
                        long blkno = blockNumber + inFile;
                        String problem = PageLayout.verify(page, blkno, checksums);
                        if (problem != null) {
                            // a page being written while we read it tears; read it again once
                            readFully(ch, page, inFile * WalGeometry.BLCKSZ, WalGeometry.BLCKSZ);
                            problem = PageLayout.verify(page, blkno, checksums);
                            if (problem != null) {
                                throw new CorruptPageException(file, inFile, blkno, problem);
                            }
                        }
                        queue(rel, (int) blkno, page, file, inFile);
                    }
                }
                blockNumber += blocks;
            }
        }
        return blockNumber;
    }

    private static void readFully(FileChannel ch, byte[] into, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(into, 0, length);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("file shrank while reading");
            }
        }
    }

    private void queue(RelTag rel, int block, byte[] page, Path file, long inFile) {
        Lsn pageLsn = PageLayout.pageLsn(page);
        if (pageLsn.isAfter(checkpointLsn)) {
            throw new StoreException(file + " block " + inFile + " has LSN " + pageLsn + " beyond the checkpoint "
                    + checkpointLsn + ": the directory was not stopped cleanly at that checkpoint");
        }
        pagesRead++;
        bytesRead += WalGeometry.BLCKSZ;
        batch.add(new Pending(rel, block, pageLsn, page));
        long bound = tables.room().bound();
        if (batch.size() >= PAGES_PER_TXN || (bound > 0 && batch.size() * CacheRoom.STORED_PAGE_BYTES >= bound / 8)) {
            flush(); // under a cache bound, in batches eviction can make room for one at a time
        }
    }

    /**
     * Writes the queued pages that the lineage does not already give. Normally a new version is
     * keyed by its pd_lsn; when the stored version at or above pd_lsn has other content (changed
     * without WAL: hint bits, FSM, unlogged), it is keyed by this image's LSN so older images keep
     * their content. A stored version evicted to S3 is never downloaded inside the write transaction
     * (it would hold LMDB's one writer, so WAL commits and eviction, for the download), nor inside a read
     * transaction ({@link #decide}): such pages are compared after the commit, then written in another, where
     * each is stored as decided only if the version it was compared with is still the newest (else compared
     * again). At a cache bound's floor the batch goes in parts of what fits under the admission limit
     * ({@link CacheRoom#admitUpTo}), each with its own grant and transaction.
     */
    private void flush() {
        for (int from = 0; from < batch.size(); ) {
            // the whole batch, or at a bound's floor as many of it as fit under its admission limit (a page at least)
            try (CacheRoom.Grant granted = tables.room().awaitRoomUpTo(CacheRoom.STORED_PAGE_BYTES,
                    (batch.size() - from) * CacheRoom.STORED_PAGE_BYTES, ROOM_WAIT, "the import into " + timeline)) {
                int to = (int) Math.min(batch.size(), from + Math.max(1, granted.granted() / CacheRoom.STORED_PAGE_BYTES));
                List<Pending> pending = batch.subList(from, to);
                Map<Pending, Decision> decided = Map.of();
                while (!(pending = write(pending, decided)).isEmpty()) {
                    decided = decide(pending);
                }
                from = to;
            }
            tables.room().changed();
        }
        batch.clear();
    }

    /** Whether and under which key a page is stored, decided against the stored version {@code against} (null: none). */
    private record Decision(PageLookup.Located against, Lsn key) {
    }

    /** {@link #keyFor(Pending, Decision, PageLookup)}'s "compare it again outside the write transaction". */
    private static final Lsn UNDECIDED = Lsn.of(-1);

    /**
     * Stores, in one write transaction, each of {@code pending} the lineage does not already give: as
     * {@code decided} says where it holds one whose version is still the newest, else by a lookup of the
     * stored version. Returns those left undecided (the version to compare with is evicted, or changed since
     * the decision) and not written.
     */
    private List<Pending> write(List<Pending> pending, Map<Pending, Decision> decided) {
        List<Pending> undecided = new ArrayList<>();
        try (Txn<byte[]> txn = tables.write()) {
            try (PageLookup lookup = new PageLookup(tables.pages(), txn, lineage)) {
                ColdValues.withoutFetching(() -> {
                    for (Pending p : pending) {
                        Lsn key = keyFor(p, decided.get(p), lookup);
                        if (key == UNDECIDED) {
                            undecided.add(p);
                        } else if (key != null) {
                            store(txn, p, key);
                        }
                    }
                    return null;
                });
            }
            txn.commit();
        }
        return undecided;
    }

    /**
     * Where a write transaction stores {@code p} (null: nowhere), as decided when its version is still the newest, else
     * by a lookup; {@link #UNDECIDED} when that needs an evicted version or the decision's version is not the newest.
     */
    private Lsn keyFor(Pending p, Decision decided, PageLookup lookup) {
        if (decided != null) {
            return Objects.equals(decided.against(), lookup.locate(p.rel, p.block)) ? decided.key() : UNDECIDED;
        }
        try {
            return keyFor(p, lookup.find(p.rel, p.block));
        } catch (EvictedValueException e) {
            return UNDECIDED;
        }
    }

    /**
     * Compares each of {@code pending} with its stored version. The versions are found in one short read transaction
     * that downloads nothing; those evicted are downloaded after it closed, then compared: a read transaction open
     * across downloads (seconds, at a pg's clean stop) kept every page eviction freed meanwhile from reuse, so the
     * writes admitted meanwhile went to the end of LMDB's file (a 48 MiB bound's file grew 9 MB in one step there).
     */
    private Map<Pending, Decision> decide(List<Pending> pending) {
        Map<Pending, Decision> out = new IdentityHashMap<>();
        List<Evicted> evicted = new ArrayList<>();
        try (ReadTxn read = tables.read(); PageLookup lookup = new PageLookup(tables.pages(), read.txn(), lineage)) {
            ColdValues.withoutFetching(() -> {
                for (Pending p : pending) {
                    PageLookup.Located at = lookup.locate(p.rel, p.block);
                    try {
                        byte[] encoded = at == null ? null
                                : tables.pages().get(read.txn(), Keys.page(at.step().timeline(), p.rel, p.block, at.lsn()));
                        out.put(p, new Decision(at, keyFor(p, at == null ? null
                                : new PageLookup.Found(at.step(), at.lsn(), encoded))));
                    } catch (EvictedValueException e) {
                        evicted.add(new Evicted(p, at, e));
                    }
                }
                return null;
            });
        }
        for (Evicted e : evicted) { // no transaction open: each download waits for S3 alone
            PageLookup.Found found = new PageLookup.Found(e.against().step(), e.against().lsn(), e.value().fetch());
            out.put(e.pending(), new Decision(e.against(), keyFor(e.pending(), found)));
        }
        return out;
    }

    /** A pending page whose stored version {@code against} is evicted: {@code value} fetches it. */
    private record Evicted(Pending pending, PageLookup.Located against, EvictedValueException value) {
    }

    /** The key {@code p} is stored under given the stored version {@code found} (null: none), or null: not stored. */
    private Lsn keyFor(Pending p, PageLookup.Found found) {
        if (found == null) {
            return p.pageLsn;
        }
        // decoding is much cheaper than compressing: compare first, compress only what is new
        if (Arrays.equals(found.page(), p.page)) {
            return null;
        }
        return found.lsn().isBefore(p.pageLsn) ? p.pageLsn : checkpointLsn;
    }

    private void store(Txn<byte[]> txn, Pending p, Lsn key) {
        byte[] k = Keys.page(timeline, p.rel, p.block, key);
        if (!tables.pages().contains(txn, k)) {
            writtenPageKeys.add(k);
        }
        byte[] encoded = PageCodec.encode(p.page, 0, scratch);
        tables.pages().put(txn, k, encoded);
        pagesStored++;
        bytesStored += encoded.length;
    }

    private String storeFile(Txn<byte[]> txn, byte[] content) {
        byte[] hash = Blobs.sha256(content);
        bytesRead += content.length;
        int written = Blobs.put(tables.blobs(), txn, hash, content);
        if (written > 0) {
            writtenBlobKeys.add(hash);
            bytesStored += written;
        }
        return Blobs.hex(hash);
    }

    /** Removes what this import added, so a failed import stores nothing. */
    private void rollback(Exception cause) {
        if (streamed != null) {
            try {
                streamed.discard();
            } catch (RuntimeException e) {
                cause.addSuppressed(e);
            }
        }
        try (Txn<byte[]> txn = tables.write()) {
            for (byte[] k : writtenPageKeys) {
                tables.pages().delete(txn, k);
            }
            for (byte[] k : writtenBlobKeys) {
                tables.blobs().delete(txn, k);
            }
            txn.commit();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
