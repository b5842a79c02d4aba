package dev.zenith.storage;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.failure.StoreFormatException;
import dev.zenith.storage.failure.WriteStall;
import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.gc.GarbageCollector;
import dev.zenith.storage.image.ImageStore;
import dev.zenith.storage.image.PgWalWriter;
import dev.zenith.storage.index.PageIndex;
import dev.zenith.storage.index.PageIndexer;
import dev.zenith.storage.journal.WalJournal;
import dev.zenith.storage.journal.WalJournals;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.page.PageStore;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.ChangeIndex;
import dev.zenith.storage.wal.WalLog;
import org.lmdbjava.EnvInfo;
import org.lmdbjava.Stat;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * One storage: an LMDB environment holding one database cluster as a tree of timelines, with their
 * WAL, page versions, images and the server's metadata documents. It opens, locks and closes the
 * environment and hands out the stores that each do one job with it:
 * {@link #timelines()}, {@link #wal()}, {@link #journals()}, {@link #changes()}, {@link #pages()},
 * {@link #images()}, {@link #anchors()}, {@link #watermarks()}, {@link #pgWal()}, {@link #pgTimelines()}, {@link #documents()}, {@link #garbage()}.
 * Every method is blocking and thread-safe; every write is one durable (synced) LMDB transaction,
 * except imports, which commit pages in batches and their manifest last.
 */
public final class Store implements AutoCloseable {
    /** LMDB must not be opened twice by one process (its locks are per process): remember what is open. */
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    private final Path directory;
    private final Path identity;
    private final Tables tables;
    private final StoreLock lock;
    private final TimelineStore timelines;
    private final WalLog wal;
    private final WalJournals journals;
    private final ChangeIndex changes;
    private final PageStore pages;
    private final ImageStore images;
    private final DocumentStore documents;
    private final PgTimelines pgTimelines;
    private final PgWalWriter pgWal;
    private final GarbageCollector garbage;
    private final PageIndex index;
    private final AnchorStore anchors;
    private final Watermarks watermarks;

    private Store(Path directory, Path identity, StoreLock lock, Tables tables, int journalFileBytes) {
        this.directory = directory;
        this.identity = identity;
        this.lock = lock;
        this.tables = tables;
        // a branch may not start beyond its parent's WAL: the timeline tree asks the WAL log, made just below
        this.timelines = new TimelineStore(tables, this::storedWalEnd);
        this.wal = new WalLog(tables, timelines, directory);
        this.journals = new WalJournals(directory, journalFileBytes, timelines, wal);
        wal.listen(journals);
        this.changes = new ChangeIndex(tables, timelines);
        this.pages = new PageStore(tables, timelines);
        this.images = new ImageStore(tables, timelines);
        this.documents = new DocumentStore(tables);
        this.pgTimelines = new PgTimelines(timelines, documents, wal::lastRecordEnd);
        this.pgWal = new PgWalWriter(timelines, wal, pgTimelines);
        this.index = new PageIndex(tables, timelines, wal, new PageIndexer(tables, timelines, wal, images));
        this.anchors = new AnchorStore(tables, timelines);
        this.watermarks = new Watermarks(tables, timelines);
        this.garbage = new GarbageCollector(tables, timelines, wal, images, journals, documents, anchors, watermarks);
    }

    private dev.zenith.wal.Lsn storedWalEnd(Txn<byte[]> txn, TimelineId id) {
        return wal.storedEnd(txn, id);
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
        return open(dir, journalFileBytes, false);
    }

    /**
     * Opens a new store whose commits are not flushed to disk one by one: only {@link #sync()} makes them durable.
     * For a store a crash before that point throws away whole (an import's new storage, under a temporary name).
     */
    public static Store openUnsynced(Path dir) {
        return open(dir, WalJournal.DEFAULT_FILE_BYTES, true);
    }

    private static Store open(Path dir, int journalFileBytes, boolean unsynced) {
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
            requireStoreDirectory(identity); // a foreign directory gets no lock file
            lock = StoreLock.acquire(identity);
            store = new Store(dir, identity, lock, Tables.open(dir, unsynced), journalFileBytes);
            store.journals.replayAll();
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

    /** The daemon's ready data directories of this store's timelines (server's {@code ready} package): not LMDB's. */
    public static final String READY_DIRECTORIES = "ready";

    /** Refuses a directory holding anything but a store's files, before anything is written there. */
    private static void requireStoreDirectory(Path dir) throws IOException {
        Set<String> ours = new HashSet<>(Tables.FILES);
        ours.add(WalJournals.DIRECTORY);
        ours.add(StoreLock.FILE_NAME);
        ours.add(READY_DIRECTORIES);
        try (Stream<Path> entries = Files.list(dir)) {
            Path foreign = entries.filter(p -> !ours.contains(p.getFileName().toString())).findFirst().orElse(null);
            if (foreign != null) {
                throw new StoreFormatException("not a Zenith store: " + dir + " contains " + foreign.getFileName());
            }
        }
    }

    public Path directory() {
        return directory;
    }

    /** Flushes every LMDB commit so far to disk (a store opened {@link #openUnsynced unsynced} needs it to be kept). */
    public void sync() {
        tables.sync();
    }

    @Override
    public void close() {
        index.indexer().close();
        journals.close();
        tables.close();
        lock.close();
        OPEN.remove(identity);
    }

    /** The tree of timelines. */
    public TimelineStore timelines() {
        return timelines;
    }

    /** The timelines' WAL in LMDB. */
    public WalLog wal() {
        return wal;
    }

    /** The WAL journals: WAL made durable ahead of LMDB, so it can be acknowledged sooner. */
    public WalJournals journals() {
        return journals;
    }

    /** What was indexed from the WAL: block changes, commits, checkpoints. */
    public ChangeIndex changes() {
        return changes;
    }

    /** Page versions. */
    public PageStore pages() {
        return pages;
    }

    /** Images of data directories, and data directories written from them. */
    public ImageStore images() {
        return images;
    }

    /** The pg_wal of data directories built from the store. */
    public PgWalWriter pgWal() {
        return pgWal;
    }

    /** PostgreSQL's timelines (TLIs) and history files along the store's timelines. */
    public PgTimelines pgTimelines() {
        return pgTimelines;
    }

    /** Checkpoints redo runs can start from (pg_control and status files). */
    public AnchorStore anchors() {
        return anchors;
    }

    /** How far background materialization has made every block's version exact, per timeline. */
    public Watermarks watermarks() {
        return watermarks;
    }

    /** The caller's documents. */
    public DocumentStore documents() {
        return documents;
    }

    /** The page index: block changes, relation sizes and databases at any LSN, and its background writer. */
    public PageIndex index() {
        return index;
    }

    /** Eviction of page versions and file contents to a remote home, and reading them back (s3 storages). */
    public dev.zenith.storage.lmdb.ColdValues coldValues() {
        return tables.cold();
    }

    /** Garbage collection: what no retained point needs. */
    public GarbageCollector garbage() {
        return garbage;
    }

    /** Why WAL writes to this storage fail right now, if they do (see {@link WriteStall}): LMDB's reason first. */
    public Optional<WriteStall> writeStall() {
        return wal.stall().or(journals::stall);
    }

    /** The room the store's bound leaves (unbounded unless an s3 storage's offload sets it). */
    public dev.zenith.storage.lmdb.CacheRoom cacheRoom() {
        return tables.room();
    }

    /** LMDB's used bytes per table, largest first: what holds a bounded store's room. */
    public Map<String, Long> usedBytesByTable() {
        return tables.usedBytesByTable();
    }

    /** Entries per table, pages in use and the size of the data file: what the store costs. */
    public StoreStats stats() {
        Map<String, Long> entries;
        long pagesInUse;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            entries = tables.entries(txn);
            pagesInUse = tables.pagesInUse(txn);
        }
        Stat env = tables.envStat();
        EnvInfo info = tables.envInfo();
        try {
            return new StoreStats(entries, pagesInUse * env.pageSize, (info.lastPageNumber + 1) * (long) env.pageSize,
                    Files.size(directory.resolve(Tables.DATA_FILE)), info.lastTransactionId);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A consistent copy of this store's LMDB environment into the empty directory {@code dir} (blocking;
     * writers go on): {@link #open} of that directory is the store as of one moment. The WAL journal is
     * not copied: the copy holds what LMDB held. When the file is far above what it holds, the copy is compacted.
     */
    public void copyTo(Path dir) {
        StoreStats stats = stats();
        // a file far above what it holds (freed pages of an evicting cache, say): the copy leaves the free pages out
        // (and renumbers the rest); otherwise page for page, so that what did not change copies to the same bytes
        tables.copyTo(dir, stats.highWaterBytes() > COMPACT_ABOVE * stats.usedBytes());
    }

    /** {@link #copyTo} compacts when LMDB's high water is more than this many times its used bytes. */
    static final int COMPACT_ABOVE = 2;

    /** Entries keyed by the timeline, per table (none at all once garbage collection deleted it). */
    public Map<String, Long> entriesOf(TimelineId id) {
        return tables.entriesWithPrefix(Keys.timeline(id));
    }
}
