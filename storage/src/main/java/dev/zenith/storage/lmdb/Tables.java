package dev.zenith.storage.lmdb;

import dev.zenith.storage.StoreFormatException;
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
import java.util.stream.Stream;

/**
 * The LMDB environment and its named databases. Internal to the storage module: the public API
 * is {@link dev.zenith.storage.Store}.
 */
public final class Tables implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Tables.class.getName());
    /** Sparse: LMDB only reserves address space; the file grows with the data. */
    public static final long MAP_SIZE = 256L << 30;
    private static final String FORMAT_KEY = "format";
    // 2: block changes packed per WAL append; 3: every value carries a CRC-32C of its key and bytes (Table)
    private static final String FORMAT = "zenith-store/3";
    /** Opened by adding the checksums to every value once (see {@link #addChecksums}). */
    private static final String FORMAT_WITHOUT_CHECKSUMS = "zenith-store/2";
    /** The store's process lock (see StoreLock), taken before LMDB opens. */
    public static final String LOCK_FILE = "zenith.lock";
    /** What a store directory may hold: LMDB's two files, the WAL journal (see WalJournal) and the lock. */
    private static final Set<String> LMDB_FILES = Set.of("data.mdb", "lock.mdb", "wal-journal", LOCK_FILE);

    public final Env<byte[]> env;
    /** "format" -> format marker, proves the directory is ours. */
    public final Dbi<byte[]> info;
    /** timeline id -> Timeline JSON. */
    public final Table timelines;
    /** timeline id -> WAL positions (start, end, last record end). */
    public final Table walState;
    /** (timeline, start LSN) -> WAL bytes. */
    public final Table walChunks;
    /** (timeline, first record LSN of an append) -> the append's block changes, packed. */
    public final Table changesByLsn;
    /** (timeline, commit time, LSN) -> empty. */
    public final Table commits;
    /** (timeline, checkpoint record LSN) -> empty. */
    public final Table checkpoints;
    /** (timeline, rel, block, version LSN) -> encoded page. */
    public final Table pages;
    /** (timeline, image LSN) -> image manifest JSON. */
    public final Table images;
    /** sha-256 -> encoded file content. */
    public final Table blobs;
    /** UTF-8 key -> caller's document. */
    public final Table meta;

    private Tables(Env<byte[]> env, Path dir, boolean fresh) {
        this.env = env;
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
        changesByLsn = table(env, dir, "changes_by_lsn", k -> "timeline " + Keys.timelineOf(k) + " at " + Keys.lsnAt(k, Keys.TL));
        commits = table(env, dir, "commits", k -> "timeline " + Keys.timelineOf(k) + ", commit at " + Keys.lsnAt(k, Keys.TL + 8));
        checkpoints = table(env, dir, "checkpoints", k -> "timeline " + Keys.timelineOf(k) + " at " + Keys.lsnAt(k, Keys.TL));
        pages = table(env, dir, "pages", Keys::describePage);
        images = table(env, dir, "images", k -> "timeline " + Keys.timelineOf(k) + ", image at " + Keys.lsnAt(k, Keys.TL));
        blobs = table(env, dir, "blobs", k -> "file content with sha-256 " + java.util.HexFormat.of().formatHex(k));
        meta = table(env, dir, "meta", k -> "document '" + new String(k, StandardCharsets.UTF_8) + "'");
        if (FORMAT_WITHOUT_CHECKSUMS.equals(format)) {
            addChecksums(dir);
        }
    }

    private static Table table(Env<byte[]> env, Path dir, String name, java.util.function.Function<byte[], String> keyText) {
        return new Table(name, env.openDbi(name, DbiFlags.MDB_CREATE), dir, keyText);
    }

    /**
     * A store of the format before checksums: every value gets its checksum, in one write transaction
     * (a crash part way leaves the store as it was), and the store its new format marker.
     */
    private void addChecksums(Path dir) {
        long entries = 0;
        try (Txn<byte[]> txn = env.txnWrite()) {
            for (Table t : List.of(timelines, walState, walChunks, changesByLsn, commits, checkpoints, pages, images,
                    blobs, meta)) {
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
        Files.createDirectories(dir);
        Env<byte[]> env;
        try {
            // MDB_NOTLS: read transactions are not tied to the thread that opened them (worker pools).
            // byte[] keys and values: lmdbjava copies each into native memory and, since 0.9.2, keeps that
            // copy reachable until the LMDB call returns (before, a GC could free it under mdb_put: issue #252).
            env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(MAP_SIZE).setMaxDbs(16).setMaxReaders(512)
                    .open(dir.toFile(), EnvFlags.MDB_NOTLS);
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

    /** Refuses a directory holding anything but a store's files, before anything is written there. */
    public static void requireStoreDirectory(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            Path foreign = entries.filter(p -> !LMDB_FILES.contains(p.getFileName().toString())).findFirst()
                    .orElse(null);
            if (foreign != null) {
                throw new StoreFormatException("not a Zenith store: " + dir + " contains " + foreign.getFileName());
            }
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
     * The entry with the greatest key at or below {@code key} that shares its first
     * {@code prefixLength} bytes, or null. This is how "newest version at or below LSN" and "the WAL
     * chunk containing LSN" are found.
     */
    public static byte[][] floor(TableCursor cursor, byte[] key, int prefixLength) {
        boolean positioned = cursor.get(key, GetOp.MDB_SET_RANGE);
        if (positioned && Arrays.equals(cursor.key(), key)) {
            return new byte[][] {cursor.key(), cursor.val()};
        }
        boolean moved = positioned ? cursor.prev() : cursor.last();
        if (!moved || !Keys.hasPrefix(cursor.key(), key, prefixLength)) {
            return null;
        }
        return new byte[][] {cursor.key(), cursor.val()};
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
        return out;
    }

    /** Per timeline-keyed table, how many keys start with {@code prefix}. */
    public Map<String, Long> entriesWithPrefix(byte[] prefix) {
        Map<String, Long> out = new LinkedHashMap<>();
        try (Txn<byte[]> txn = env.txnRead()) {
            timelineTables().forEach((name, table) -> {
                long n = 0;
                try (TableCursor c = table.openCursor(txn)) {
                    for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                        n++;
                    }
                }
                out.put(name, n);
            });
        }
        return out;
    }

    /** Pages holding data (branch, leaf and overflow pages of every table and of the table of tables). */
    public long pagesInUse(Txn<byte[]> txn) {
        long n = pages(env.stat()) + pages(info.stat(txn));
        for (Table table : List.of(timelines, walState, walChunks, changesByLsn, commits, checkpoints, pages,
                images, blobs, meta)) {
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
        env.close();
    }
}
