package dev.zenith.storage.lmdb;

import dev.zenith.storage.failure.StoreFormatException;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.GetOp;
import org.lmdbjava.LmdbException;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Stat;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The LMDB environment and its named databases. Internal to the storage module: the public API
 * is {@code Store}.
 */
public final class Tables implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Tables.class.getName());
    /** Sparse: LMDB only reserves address space; the file grows with the data. */
    public static final long MAP_SIZE = 256L << 30;
    /** LMDB's data file: every table's pages. */
    public static final String DATA_FILE = "data.mdb";
    private static final String FORMAT_KEY = "format";
    // 2: block changes packed per WAL append; 3: every value carries a CRC-32C of its key and bytes (Table)
    private static final String FORMAT = "zenith-store/3";
    /** Opened by adding the checksums to every value once (see {@link #addChecksums}). */
    private static final String FORMAT_WITHOUT_CHECKSUMS = "zenith-store/2";
    /** LMDB's two files in a store directory (the store's lock and WAL journal sit beside them). */
    public static final Set<String> FILES = Set.of(DATA_FILE, "lock.mdb");

    // The raw handles stay in this package: outside it every value is read and written through the
    // checked Table/TableCursor layer (CRC-32C), and transactions come from read()/write().
    private final Env<byte[]> env;
    private final ReadTxnPool readPool;
    /** Every read transaction open on the environment and its snapshot (what keeps freed pages from reuse). */
    private final OpenReads openReads = new OpenReads();
    /** "format" -> format marker, proves the directory is ours. */
    private final Dbi<byte[]> info;
    /** timeline id -> Timeline JSON. */
    private final Table timelines;
    /** timeline id -> WAL positions (start, end, last record end). */
    private final Table walState;
    /** (timeline, start LSN) -> WAL bytes. */
    private final Table walChunks;
    /** (timeline, first record LSN of an append) -> the append's block changes, packed. */
    private final Table changesByLsn;
    /** (timeline, commit time, LSN) -> empty. */
    private final Table commits;
    /** (timeline, checkpoint record LSN) -> empty. */
    private final Table checkpoints;
    /** (timeline, rel, block, version LSN) -> encoded page. */
    private final Table pages;
    /** (timeline, image LSN) -> image manifest JSON. */
    private final Table images;
    /** sha-256 -> encoded file content. */
    private final Table blobs;
    /** UTF-8 key -> caller's document. */
    private final Table meta;
    /** (timeline, rel, block, aligned record end) -> PageChange flags (the block-change index). */
    private final Table blockChanges;
    /** (timeline, rel, aligned record end) -> the fork's block count from there, or dropped. */
    private final Table relSizes;
    /** (timeline, spc, db, aligned record end) -> the database directory exists from there, or dropped. */
    private final Table databases;
    /** timeline -> where the page index of that timeline starts and how far it is written. */
    private final Table indexState;
    /** (timeline, checkpoint record LSN) -> an anchor: pg_control, redo point, record end, status files' blobs. */
    private final Table anchors;
    /** (timeline, redo point) -> the record end every block has an exact stored version at (materialization steps). */
    private final Table materialized;
    /** Page versions, file contents and packed block changes may be evicted to a remote home and read back (s3 storages). */
    private final ColdValues cold = new ColdValues();
    /** The room a bound on the store's size leaves (s3 storages' cache size), for whoever grows it. */
    private final CacheRoom room = new CacheRoom(this::usedBytes, this::indexBytes, this::settle, openReads::oldest);

    private Tables(Env<byte[]> env, Path dir, boolean fresh) {
        this.env = env;
        this.readPool = new ReadTxnPool(env, openReads);
        String format = FORMAT;
        if (fresh) {
            info = env.openDbi("info", DbiFlags.MDB_CREATE);
            try (Txn<byte[]> txn = env.txnWrite()) {
                info.put(txn, utf8(FORMAT_KEY), utf8(FORMAT));
                txn.commit();
            }
        } else {
            info = openExisting(env, "info");
            try (Txn<byte[]> txn = env.txnRead()) {
                byte[] marker = info.get(txn, utf8(FORMAT_KEY));
                format = marker == null ? "none" : new String(marker, StandardCharsets.UTF_8);
                if (!FORMAT.equals(format) && !FORMAT_WITHOUT_CHECKSUMS.equals(format)) {
                    throw new StoreFormatException("LMDB environment has no or another format marker: " + format);
                }
            }
        }
        timelines = table(env, dir, "timelines", k -> "timeline " + Keys.timelineOf(k));
        walState = table(env, dir, "wal_state", k -> "timeline " + Keys.timelineOf(k));
        walChunks = table(env, dir, "wal_chunks", k -> "timeline " + Keys.timelineOf(k) + " at " + Keys.lsnAt(k, Keys.TL));
        changesByLsn = table(env, dir, "changes_by_lsn", k -> "timeline " + Keys.timelineOf(k) + " at " + Keys.lsnAt(k, Keys.TL),
                cold);
        commits = table(env, dir, "commits", k -> "timeline " + Keys.timelineOf(k) + ", commit at " + Keys.lsnAt(k, Keys.TL + 8));
        checkpoints = table(env, dir, "checkpoints", k -> "timeline " + Keys.timelineOf(k) + " at " + Keys.lsnAt(k, Keys.TL));
        pages = table(env, dir, "pages", Keys::describePage, cold);
        images = table(env, dir, "images", k -> "timeline " + Keys.timelineOf(k) + ", image at " + Keys.lsnAt(k, Keys.TL));
        blobs = table(env, dir, "blobs", k -> "file content with sha-256 " + java.util.HexFormat.of().formatHex(k), cold);
        cold.bind(this, List.of(pages, blobs, changesByLsn));
        meta = table(env, dir, "meta", k -> "document '" + new String(k, StandardCharsets.UTF_8) + "'");
        blockChanges = table(env, dir, "block_changes", k -> Keys.describePage(k).replace("version at", "changed at"));
        relSizes = table(env, dir, "rel_sizes", k -> "timeline " + Keys.timelineOf(k) + ", " + Keys.relAt(k).path()
                + " size at " + Keys.lsnAt(k, Keys.TL + 13));
        databases = table(env, dir, "databases", k -> "timeline " + Keys.timelineOf(k) + ", database "
                + Integer.toUnsignedString(Keys.getInt(k, Keys.TL + 4)) + " in tablespace "
                + Integer.toUnsignedString(Keys.getInt(k, Keys.TL)) + " at " + Keys.lsnAt(k, Keys.TL + 8));
        indexState = table(env, dir, "index_state", k -> "timeline " + Keys.timelineOf(k));
        anchors = table(env, dir, "anchors", k -> "timeline " + Keys.timelineOf(k) + ", anchor at " + Keys.lsnAt(k, Keys.TL));
        materialized = table(env, dir, "materialized",
                k -> "timeline " + Keys.timelineOf(k) + ", materialized at " + Keys.lsnAt(k, Keys.TL));
        if (FORMAT_WITHOUT_CHECKSUMS.equals(format)) {
            addChecksums(dir);
        }
    }

    private static Table table(Env<byte[]> env, Path dir, String name, java.util.function.Function<byte[], String> keyText) {
        return table(env, dir, name, keyText, null);
    }

    private static Table table(Env<byte[]> env, Path dir, String name, java.util.function.Function<byte[], String> keyText,
                               ColdValues cold) {
        return new Table(name, env.openDbi(name, DbiFlags.MDB_CREATE), dir, keyText, cold);
    }

    /**
     * A store of the format before checksums: every value gets its checksum, in one write transaction
     * (a crash part way leaves the store as it was), and the store its new format marker.
     */
    private void addChecksums(Path dir) {
        long entries = 0;
        try (Txn<byte[]> txn = env.txnWrite()) {
            for (Table t : all()) {
                try (Cursor<byte[]> c = t.dbi().openCursor(txn)) {
                    for (boolean ok = c.first(); ok; ok = c.next()) {
                        byte[] key = c.key();
                        c.put(key, Table.seal(key, c.val()), PutFlags.MDB_CURRENT);
                        entries++;
                    }
                }
            }
            info.put(txn, utf8(FORMAT_KEY), utf8(FORMAT));
            txn.commit();
        }
        LOG.info("store " + dir + ": " + entries + " values given checksums (format " + FORMAT + ")");
    }

    /**
     * Opens (or creates) the environment in {@code dir}, which {@link #requireStoreDirectory} has
     * accepted. Refuses LMDB files without our format marker.
     */
    public static Tables open(Path dir) throws IOException {
        return open(dir, false);
    }

    /**
     * As {@link #open(Path)}; {@code unsynced}: commits are not flushed to disk (MDB_NOSYNC) until {@link #sync()},
     * for an environment a crash throws away whole (an import's new storage), so its commits cost no fsync each.
     */
    public static Tables open(Path dir, boolean unsynced) throws IOException {
        Files.createDirectories(dir);
        Env<byte[]> env;
        try {
            // MDB_NOTLS: read transactions are not tied to the thread that opened them (worker pools).
            // byte[] keys and values: lmdbjava copies each into native memory and, since 0.9.2, keeps that
            // copy reachable until the LMDB call returns (before, a GC could free it under mdb_put: issue #252).
            env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(MAP_SIZE).setMaxDbs(32).setMaxReaders(512)
                    .open(dir.toFile(), unsynced ? new EnvFlags[] {EnvFlags.MDB_NOTLS, EnvFlags.MDB_NOSYNC}
                            : new EnvFlags[] {EnvFlags.MDB_NOTLS});
        } catch (LmdbException e) {
            throw new StoreFormatException("not a Zenith store (LMDB cannot open " + dir + "): " + e.getMessage(), e);
        }
        try {
            // a crashed process leaves stale reader slots behind; clear them so they pin nothing
            env.readerCheck();
            // no named database yet: new, or a process died before its first commit finished
            boolean fresh = env.getDbiNames().isEmpty();
            return new Tables(env, dir, fresh);
        } catch (LmdbException e) {
            env.close();
            throw new StoreFormatException("not a Zenith store (" + dir + "): " + e.getMessage(), e);
        } catch (RuntimeException e) {
            env.close();
            throw e;
        }
    }

    private static Dbi<byte[]> openExisting(Env<byte[]> env, String name) {
        boolean present = env.getDbiNames().stream().anyMatch(n -> Arrays.equals(n, utf8(name)));
        if (!present) {
            throw new StoreFormatException("LMDB environment is not a Zenith store (no '" + name + "' database)");
        }
        return env.openDbi(name);
    }

    /**
     * A read transaction (MDB_NOTLS: any thread may use and close it), counted while open: pages freed after its
     * snapshot are not reused until it closes ({@link CacheRoom#freeing}).
     */
    public ReadTxn read() {
        OpenReads.Reading reading = new OpenReads.Reading();
        return new ReadTxn(openReads.open(reading, env::txnRead, Txn::getId), openReads, reading);
    }

    /**
     * {@code work} in a read transaction reused from earlier short reads (renewed, not begun): for hot paths
     * such as GetPage. The transaction and its cursors must not outlive {@code work}.
     */
    public <T> T reading(java.util.function.Function<Txn<byte[]>, T> work) {
        return readPool.read(work);
    }

    /**
     * As {@link #reading}, with a cursor on {@code table} kept with the pooled transaction (renewed, not opened):
     * {@code work} positions it and must not close it; neither outlives {@code work}.
     */
    public <T> T reading(Table table, java.util.function.BiFunction<Txn<byte[]>, TableCursor, T> work) {
        return readPool.readWithCursors(r -> work.apply(r.txn(), r.cursor(table)));
    }

    /** As {@link #reading}, with cursors on any tables kept with the pooled transaction ({@link ReadCursors}). */
    public <T> T readingWithCursors(java.util.function.Function<ReadCursors, T> work) {
        return readPool.readWithCursors(work::apply);
    }

    /** A write transaction; LMDB lets one be open at a time. */
    public Txn<byte[]> write() {
        return env.txnWrite();
    }

    /** Flushes every commit so far to disk (what an environment opened unsynced needs before it is kept). */
    public void sync() {
        env.sync(true);
    }

    /** LMDB's figures for the environment: its page size and how far the data file is used. */
    public Stat envStat() {
        return env.stat();
    }

    /**
     * A consistent copy of the environment (one read transaction's view) as {@code data.mdb} in the empty
     * directory {@code dir}; writers go on meanwhile. Not compacted: unchanged pages keep their places,
     * so successive copies share most of their bytes.
     */
    public void copyTo(Path dir, boolean compact) {
        // the copy reads one snapshot, at least the last commit's now: counted as any reader
        OpenReads.Reading reading = new OpenReads.Reading();
        openReads.open(reading, env::info, info -> info.lastTransactionId);
        try {
            if (compact) {
                env.copy(dir.toFile(), org.lmdbjava.CopyFlags.MDB_CP_COMPACT);
            } else {
                env.copy(dir.toFile());
            }
        } finally {
            openReads.ended(reading);
        }
    }

    public org.lmdbjava.EnvInfo envInfo() {
        return env.info();
    }

    public Table timelines() {
        return timelines;
    }

    public Table walState() {
        return walState;
    }

    public Table walChunks() {
        return walChunks;
    }

    public Table changesByLsn() {
        return changesByLsn;
    }

    public Table commits() {
        return commits;
    }

    public Table checkpoints() {
        return checkpoints;
    }

    public Table pages() {
        return pages;
    }

    public Table images() {
        return images;
    }

    public Table blobs() {
        return blobs;
    }

    public Table meta() {
        return meta;
    }

    public Table blockChanges() {
        return blockChanges;
    }

    public Table relSizes() {
        return relSizes;
    }

    public Table databases() {
        return databases;
    }

    public Table indexState() {
        return indexState;
    }

    public Table anchors() {
        return anchors;
    }

    public Table materialized() {
        return materialized;
    }

    /** Eviction of page versions and file contents, and where they are read back from. */
    public ColdValues cold() {
        return cold;
    }

    /** The room the store's bound leaves (unbounded unless an s3 storage's offload sets one). */
    public CacheRoom room() {
        return room;
    }

    private long usedBytes() {
        try (ReadTxn read = read()) {
            return pagesInUse(read.txn()) * env.stat().pageSize;
        }
    }

    /**
     * One small durable commit (a counter in the table of tables, beside the format marker): the pages the commit before
     * it freed become reusable by the next writer ({@link CacheRoom#freeing}) once no reader of a snapshot before it is
     * open. Returns its transaction id.
     */
    private long settle() {
        try (Txn<byte[]> txn = env.txnWrite()) {
            long id = txn.getId();
            byte[] key = utf8(SETTLED_KEY);
            byte[] was = info.get(txn, key);
            long n = was == null || was.length != Long.BYTES ? 0 : java.nio.ByteBuffer.wrap(was).getLong();
            info.put(txn, key, java.nio.ByteBuffer.allocate(Long.BYTES).putLong(n + 1).array());
            txn.commit();
            openReads.committed(id);
            return id;
        }
    }

    private static final String SETTLED_KEY = "settled";

    /** Bytes of the page index's tables (never evicted: see {@link CacheRoom#indexBytes}). */
    private long indexBytes() {
        try (ReadTxn read = read()) {
            long n = 0;
            for (Table table : List.of(blockChanges, relSizes, databases, indexState)) {
                n += pages(table.stat(read.txn()));
            }
            return n * env.stat().pageSize;
        }
    }

    /** Used bytes per table (its branch, leaf and overflow pages), largest first. */
    public Map<String, Long> usedBytesByTable() {
        try (ReadTxn read = read()) {
            long pageSize = env.stat().pageSize;
            Map<String, Long> out = new LinkedHashMap<>();
            all().stream().map(t -> Map.entry(t.name(), pages(t.stat(read.txn())) * pageSize))
                    .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                    .forEach(e -> out.put(e.getKey(), e.getValue()));
            return out;
        }
    }

    private List<Table> all() {
        return List.of(timelines, walState, walChunks, changesByLsn, commits, checkpoints, pages, images, blobs, meta,
                blockChanges, relSizes, databases, indexState, anchors, materialized);
    }

    /** The tables whose keys start with a timeline id, by name. */
    private Map<String, Table> timelineTables() {
        Map<String, Table> out = new LinkedHashMap<>();
        out.put("timelines", timelines);
        out.put("wal_state", walState);
        out.put("wal_chunks", walChunks);
        out.put("changes_by_lsn", changesByLsn);
        out.put("commits", commits);
        out.put("checkpoints", checkpoints);
        out.put("pages", pages);
        out.put("images", images);
        out.put("block_changes", blockChanges);
        out.put("rel_sizes", relSizes);
        out.put("databases", databases);
        out.put("index_state", indexState);
        out.put("anchors", anchors);
        out.put("materialized", materialized);
        return out;
    }

    /** Per timeline-keyed table, how many keys start with {@code prefix}. */
    public Map<String, Long> entriesWithPrefix(byte[] prefix) {
        Map<String, Long> out = new LinkedHashMap<>();
        try (ReadTxn read = read()) {
            timelineTables().forEach((name, table) -> {
                long n = 0;
                try (TableCursor c = table.openCursor(read.txn())) {
                    for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                        n++;
                    }
                }
                out.put(name, n);
            });
        }
        return out;
    }

    /** Entries per table, by name. */
    public Map<String, Long> entries(Txn<byte[]> txn) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Table table : List.of(timelines, walChunks, pages, images, blobs, changesByLsn, commits, checkpoints, meta,
                blockChanges, relSizes, databases, anchors, materialized)) {
            out.put(table.name(), table.stat(txn).entries);
        }
        return out;
    }

    /** Pages holding data (branch, leaf and overflow pages of every table and of the table of tables). */
    public long pagesInUse(Txn<byte[]> txn) {
        long n = pages(env.stat()) + pages(info.stat(txn));
        for (Table table : all()) {
            n += pages(table.stat(txn));
        }
        return n;
    }

    private static long pages(Stat s) {
        return s.branchPages + s.leafPages + s.overflowPages;
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        readPool.close();
        env.close();
    }
}
