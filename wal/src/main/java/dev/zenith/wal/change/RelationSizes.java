package dev.zenith.wal.change;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.DbaseDrop;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.SmgrCreate;
import dev.zenith.wal.rmgr.SmgrTruncate;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.rmgr.XactCompletion;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Which relation forks exist and how many blocks each has, as PostgreSQL's redo leaves the files:
 * seeded from a data directory's files, then moved on one decoded record at a time. It is the rule
 * the store's relation-size index follows, kept in memory (no I/O).
 *
 * <p>Main, visibility-map and init forks are tracked; free-space maps are not (redo and the
 * primary keep them loosely, and nothing needs their size). Unlogged relations' main forks are
 * not WAL-logged (redo makes them from the init fork at the end of recovery) and are not tracked.
 * What redo does, and therefore what this does:
 * <ul>
 *   <li>a block reference it applies creates the fork if missing and extends it past the block
 *       (XLogReadBufferExtended; a hint-only reference is not applied);</li>
 *   <li>a visibility-map clear extends the map to the page holding the bits (visibilitymap_pin);</li>
 *   <li>SMGR create makes an empty fork if missing; SMGR truncate creates the main fork if missing
 *       and cuts the forks its flags name, a map to the pages its remaining heap needs;</li>
 *   <li>CREATE DATABASE by FILE_COPY copies the template's forks, by WAL_LOG makes an empty
 *       directory (its contents follow as WAL); DROP DATABASE removes its forks;</li>
 *   <li>a commit or abort (prepared or not) removes every fork of the relations it drops.</li>
 * </ul>
 */
public final class RelationSizes {
    private static final Set<ForkNumber> TRACKED = Set.of(ForkNumber.MAIN, ForkNumber.VISIBILITY_MAP, ForkNumber.INIT);

    private final Map<RelTag, Long> sizes = new HashMap<>();
    private final Set<DatabaseDir> databases = new HashSet<>();
    /** What changed since the last {@link #takeChangedForks}/{@link #takeChangedDatabases}: a history's next entries. */
    private Set<RelTag> changedForks = new HashSet<>();
    private Set<DatabaseDir> changedDatabases = new HashSet<>();

    /**
     * @param seed     block counts of the forks present at the starting point (others are ignored)
     * @param dirs     the database directories present there
     */
    public RelationSizes(Map<RelTag, Long> seed, Collection<DatabaseDir> dirs) {
        seed.forEach((rel, n) -> {
            if (TRACKED.contains(rel.fork())) {
                sizes.put(rel, n);
            }
        });
        databases.addAll(dirs);
    }

    public static boolean tracks(ForkNumber fork) {
        return TRACKED.contains(fork);
    }

    /** Block count of a fork, empty when it does not exist (FSM forks: always empty). */
    public OptionalLong nblocks(RelTag rel) {
        Long n = sizes.get(rel);
        return n == null ? OptionalLong.empty() : OptionalLong.of(n);
    }

    public boolean exists(RelTag rel) {
        return sizes.containsKey(rel);
    }

    /** Every tracked fork that exists, with its block count. */
    public Map<RelTag, Long> forks() {
        return Map.copyOf(sizes);
    }

    public Set<DatabaseDir> databases() {
        return Set.copyOf(databases);
    }

    /** The forks whose size or existence changed since the last call (the caller writes their new state). */
    public Set<RelTag> takeChangedForks() {
        Set<RelTag> out = changedForks;
        changedForks = new HashSet<>();
        return out;
    }

    /** The database directories made or removed since the last call. */
    public Set<DatabaseDir> takeChangedDatabases() {
        Set<DatabaseDir> out = changedDatabases;
        changedDatabases = new HashSet<>();
        return out;
    }

    /**
     * Moves the model past one record.
     *
     * @throws IllegalArgumentException if the record's main data does not fit its kind
     */
    public void apply(DecodedRecord r) {
        for (PageChange c : PageChanges.of(r)) {
            if (c.changedByRedo()) {
                extend(c.rel(), c.block() + 1);
            }
        }
        Optional<WalPayload> payload = MainDataDecoder.decode(r);
        if (payload.isEmpty()) {
            return;
        }
        WalPayload p = payload.get();
        if (p instanceof SmgrCreate c) {
            extend(c.rel(), 0);
        } else if (p instanceof SmgrTruncate t) {
            RelTag main = new RelTag(t.rel(), ForkNumber.MAIN);
            extend(main, 0);
            if (t.truncatesMain()) {
                cut(main, t.blocks());
            }
            if (t.truncatesVisibilityMap()) {
                cut(new RelTag(t.rel(), ForkNumber.VISIBILITY_MAP), t.visibilityMapBlocksAfter());
            }
        } else if (p instanceof DbaseCreate d) {
            DatabaseDir target = new DatabaseDir((int) d.tablespaceId(), (int) d.dbId());
            removeDatabase(target);
            databases.add(target);
            changedDatabases.add(target);
            if (d.fileCopy()) {
                copyDatabase(new DatabaseDir((int) d.srcTablespaceId(), (int) d.srcDbId()), target);
            }
        } else if (p instanceof DbaseDrop d) {
            for (long spc : d.tablespaceIds()) {
                removeDatabase(new DatabaseDir((int) spc, (int) d.dbId()));
            }
        } else if (p instanceof XactCompletion x) {
            for (RelFileNode n : x.droppedRelations()) {
                remove(rel -> rel.node().equals(n));
            }
        }
    }

    private void extend(RelTag rel, long blocks) {
        Long now = sizes.get(rel);
        if (TRACKED.contains(rel.fork()) && (now == null || now < blocks)) {
            sizes.put(rel, blocks);
            changedForks.add(rel);
        }
    }

    /** mdtruncate in recovery: a fork already shorter (or missing) stays as it is. */
    private void cut(RelTag rel, long blocks) {
        Long now = sizes.get(rel);
        if (now != null && now > blocks) {
            sizes.put(rel, blocks);
            changedForks.add(rel);
        }
    }

    private void remove(java.util.function.Predicate<RelTag> which) {
        sizes.keySet().removeIf(rel -> {
            boolean gone = which.test(rel);
            if (gone) {
                changedForks.add(rel);
            }
            return gone;
        });
    }

    private void removeDatabase(DatabaseDir dir) {
        if (databases.remove(dir)) {
            changedDatabases.add(dir);
        }
        remove(rel -> inDatabase(rel, dir));
    }

    /** dbase_redo's copydir: every file of the template's directory, as it is at this point. */
    private void copyDatabase(DatabaseDir from, DatabaseDir to) {
        List<Map.Entry<RelTag, Long>> copies = new ArrayList<>();
        sizes.forEach((rel, n) -> {
            if (inDatabase(rel, from)) {
                copies.add(Map.entry(new RelTag(new RelFileNode(to.spcOid(), to.dbOid(), rel.node().relNode()),
                        rel.fork()), n));
            }
        });
        copies.forEach(e -> {
            sizes.put(e.getKey(), e.getValue());
            changedForks.add(e.getKey());
        });
    }

    private static boolean inDatabase(RelTag rel, DatabaseDir dir) {
        return rel.node().spcOid() == dir.spcOid() && rel.node().dbOid() == dir.dbOid();
    }
}
