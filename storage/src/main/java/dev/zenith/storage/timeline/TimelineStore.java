package dev.zenith.storage.timeline;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.wal.Lsn;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The storage's tree of timelines: a root, and branches of a parent at an LSN. Blocking and
 * thread-safe; each write is one durable LMDB transaction. The other stores resolve lineages here,
 * inside their own transactions.
 */
public final class TimelineStore {
    /** Where a timeline's own stored WAL ends, or null when it has none (the WAL log knows). */
    @FunctionalInterface
    public interface StoredWalEnd {
        Lsn of(Txn<byte[]> txn, TimelineId id);
    }

    /** A timeline's stored JSON and what it decodes to. */
    private record Decoded(byte[] stored, Timeline timeline) {
    }

    private final Tables tables;
    private final Table timelines;
    /**
     * The last decoding of each timeline: every page read resolves a lineage, and parsing the JSON cost
     * more than the read. Reused only while the stored bytes are the same.
     */
    private final Map<TimelineId, Decoded> decoded = new ConcurrentHashMap<>();
    /** Timelines garbage collection dropped (or is dropping): never answered from {@link #decoded}. */
    private final Set<TimelineId> dropped = ConcurrentHashMap.newKeySet();
    private final StoredWalEnd storedWalEnd;

    public TimelineStore(Tables tables, StoredWalEnd storedWalEnd) {
        this.tables = tables;
        this.timelines = tables.timelines();
        this.storedWalEnd = storedWalEnd;
    }

    /**
     * Creates a timeline: a root ({@code parent} null; {@code branchLsn} is then ignored and
     * stored as 0/0) or a branch of {@code parent} at {@code branchLsn}, which may not lie beyond
     * the parent's stored WAL.
     */
    public Timeline create(TimelineId parent, Lsn branchLsn, int pgTimeline) {
        try (Txn<byte[]> txn = tables.write()) {
            Lsn branch = Lsn.INVALID;
            if (parent != null) {
                require(txn, parent);
                branch = branchLsn;
                Lsn end = storedWalEnd.of(txn, parent);
                if (end != null && branch.isAfter(end)) {
                    throw new StoreException("branch point " + branch + " is beyond timeline " + parent
                            + "'s WAL end " + end);
                }
            }
            Timeline t = new Timeline(TimelineId.random(), parent, branch, pgTimeline, Instant.now());
            timelines.put(txn, Keys.timeline(t.id()), TimelineCodec.encode(t));
            txn.commit();
            return t;
        }
    }

    /**
     * Adds a timeline made elsewhere (a pulled snapshot's lineage), keeping its id: later pulls of the same
     * history find it. Its parent must be here already; one with that id already here is left as it is,
     * if it is the same (parent, branch point and PostgreSQL timeline), else refused.
     */
    public Timeline adopt(TimelineId id, TimelineId parent, Lsn branchLsn, int pgTimeline) {
        try (Txn<byte[]> txn = tables.write()) {
            Timeline existing = find(txn, id);
            Lsn branch = parent == null ? Lsn.INVALID : branchLsn;
            if (existing != null) {
                if (!java.util.Objects.equals(existing.parent(), parent) || !existing.branchLsn().equals(branch)
                        || existing.pgTimeline() != pgTimeline) {
                    throw new StoreException("timeline " + id + " is here already with another parent or branch point");
                }
                return existing;
            }
            if (parent != null) {
                require(txn, parent);
            }
            Timeline t = new Timeline(id, parent, branch, pgTimeline, Instant.now());
            timelines.put(txn, Keys.timeline(t.id()), TimelineCodec.encode(t));
            txn.commit();
            return t;
        }
    }

    public Optional<Timeline> get(TimelineId id) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return Optional.ofNullable(find(txn, id));
        }
    }

    public List<Timeline> all() {
        List<Timeline> all = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = timelines.openCursor(read.txn())) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                all.add(TimelineCodec.decode(c.val()));
            }
        }
        return all;
    }

    /** The timeline, or null, read in the caller's transaction. */
    public Timeline find(Txn<byte[]> txn, TimelineId id) {
        byte[] v = timelines.get(txn, Keys.timeline(id));
        if (v == null) {
            return null;
        }
        Decoded d = decoded.get(id);
        if (d != null && Arrays.equals(d.stored(), v)) {
            return d.timeline();
        }
        Timeline t = TimelineCodec.decode(v);
        decoded.put(id, new Decoded(v, t));
        return t;
    }

    /** The timeline, read in the caller's transaction; a {@link StoreException} when there is none. */
    public Timeline require(Txn<byte[]> txn, TimelineId id) {
        Timeline t = find(txn, id);
        if (t == null) {
            throw new StoreException("no timeline " + id);
        }
        return t;
    }

    /** The timeline up to {@code lsn}, then each ancestor up to its branch point. */
    public Lineage lineage(Txn<byte[]> txn, TimelineId id, Lsn lsn) {
        List<Lineage.Step> steps = new ArrayList<>();
        Timeline t = known(txn, id);
        Lsn upTo = lsn;
        steps.add(new Lineage.Step(t.id(), upTo));
        while (t.parent() != null) {
            upTo = Lsn.min(upTo, t.branchLsn());
            t = known(txn, t.parent());
            steps.add(new Lineage.Step(t.id(), upTo));
        }
        return new Lineage(steps);
    }

    /**
     * As {@link #require}, for reads: a timeline's record never changes once written (only garbage collection
     * deletes it), so one decoded since is returned without reading LMDB (every GetPage resolves a lineage, and
     * the read cost about as much as the page's own). A timeline {@link #forget forgotten} is read from LMDB.
     */
    public Timeline known(Txn<byte[]> txn, TimelineId id) {
        Decoded d = decoded.get(id);
        if (d != null && !dropped.contains(id)) {
            return d.timeline();
        }
        return require(txn, id);
    }

    /**
     * Marks a timeline garbage collection drops (before its deletion commits, and again after): {@link #known}
     * reads it from LMDB from then on, so that no reader or writer takes a deleted timeline for a live one.
     */
    public void forget(TimelineId id) {
        dropped.add(id);
        decoded.remove(id);
    }

    /** As {@link #lineage(Txn, TimelineId, Lsn)}, in a read transaction of its own. */
    public Lineage lineage(TimelineId id, Lsn lsn) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return lineage(txn, id, lsn);
        }
    }
}
