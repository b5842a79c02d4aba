package dev.zenith.server.compute;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.HistoryPoints;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.replication.ComputeTimelines;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * New timelines for pgs: branches at a snapshot or a point of a pg's history, and the fence a promotion
 * leaves on the history it came from (a pg still there forks before it may write). Metadata writes in
 * the store, no data copied (blocking; management lock).
 */
final class Branches {
    private static final Logger LOG = Logger.getLogger(Branches.class.getName());
    /** Meta key prefix: which pg was promoted from a timeline ({@code promoted/<timeline id>}), which fences it. */
    private static final String PROMOTED_FROM_KEY = "promoted/";

    private final Vertx vertx;
    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final PgRegistry registry;

    Branches(Vertx vertx, StorageRegistry storages, SnapshotCatalog snapshots, PgRegistry registry) {
        this.vertx = vertx;
        this.storages = storages;
        this.snapshots = snapshots;
        this.registry = registry;
    }

    /**
     * A new timeline at a snapshot, or at a point (LSN, time, or now) of a pg's current timeline.
     * {@code ownPgTimeline}: a pg that will write there ends recovery on a PostgreSQL timeline of its own.
     */
    record Branch(String storageName, TimelineId timeline, String source, HistoryPoint point) {
    }

    Branch branch(String snapshotName, String fromPg, String lsn, String time, boolean ownPgTimeline) {
        String storageName;
        HistoryPoint point;
        Snapshot snapshot = null;
        String source;
        if (snapshotName != null) {
            snapshot = snapshots.get(snapshotName);
            storageName = snapshot.storageName();
            point = new HistoryPoint(snapshot.timeline(), snapshot.lsn(), snapshotName, null, snapshot.commitTime());
            source = snapshotName;
        } else {
            Compute from = registry.require(fromPg);
            from.catchUp();
            storageName = from.record.storageName();
            point = HistoryPoints.resolve(storages.get(storageName).store(), from.record.timeline(), lsn, time);
            source = fromPg + "@" + point.lsn();
        }
        Store store = storages.get(storageName).store();
        TimelineId branch = ownPgTimeline ? branchOnNewPgTimeline(store, point)
                : store.timelines().create(point.timeline(), point.lsn(), store.timelines().get(point.timeline()).orElseThrow().pgTimeline()).id();
        if (snapshot != null) {
            snapshots.recordBranch(store, branch, snapshot);
        }
        return new Branch(storageName, branch, source, point);
    }

    /**
     * A timeline whose compute ends recovery at {@code point} and selects a PostgreSQL timeline no other
     * history of the storage has, as PostgreSQL does at the end of archive recovery: its history file is
     * the one PostgreSQL will write, and the timeline begins where PostgreSQL's recovery ends (the point,
     * aligned as its reader aligns it). The bytes between the point and there (alignment padding, or the
     * rest of a segment after XLOG_SWITCH) are the new timeline's own, zeros as in the rebuilt directory.
     */
    private static TimelineId branchOnNewPgTimeline(Store store, HistoryPoint point) {
        Lsn switchPoint = HistoryPoints.pgEndOfWal(store, point.timeline(), point.lsn());
        int fromTli = PgTimelines.tliAt(store.pgTimelines().entries(point.timeline()), point.lsn().plus(-1));
        int tli = store.pgTimelines().allocate();
        TimelineId branch = store.timelines().create(point.timeline(), Lsn.min(point.lsn(), switchPoint), tli).id();
        if (switchPoint.isAfter(point.lsn())) {
            store.wal().append(List.of(new WalAppend(branch, point.lsn(), new byte[(int) switchPoint.minus(point.lsn())],
                    List.of(), List.of(), List.of(), switchPoint)));
        }
        store.pgTimelines().saveHistory(branch, store.pgTimelines().historyOfNewTimeline(point.timeline(), fromTli, switchPoint));
        return branch;
    }

    /** The pg moves to another timeline: its record says so, and streams following it by name switch. */
    void move(Store store, Compute c, PgRecord moved) {
        PgRegistry.save(store, c, moved);
        vertx.eventBus().publish(ComputeTimelines.PG_MOVED_ADDRESS, c.name());
    }

    /** Fences {@code from}: pg {@code pgName} was promoted from it onto {@code promoted} at {@code switchPoint}. */
    static void recordPromotion(Store store, TimelineId from, String pgName, TimelineId promoted, Lsn switchPoint) {
        store.documents().put(PROMOTED_FROM_KEY + from, new JsonObject().put("pg", pgName).put("timeline", promoted.toString())
                .put("lsn", switchPoint.toString()).encode().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Before a primary start: a pg whose history a promotion superseded (another pg was promoted from it)
     * would write a second version of that history. Refused, or with {@code force} it forks: it moves to a
     * branch of its own at its end, on a PostgreSQL timeline of its own. Whether it forked.
     */
    boolean forkIfSuperseded(Compute c, boolean force) {
        String name = c.name();
        Store store = registry.storeOf(c.record);
        Optional<JsonObject> promotion = store.documents().get(PROMOTED_FROM_KEY + c.record.timeline())
                .map(b -> new JsonObject(new String(b, StandardCharsets.UTF_8)));
        if (promotion.isEmpty()) {
            return false;
        }
        String promoted = promotion.get().getString("pg");
        if (!force) {
            throw new ConflictException("pg '" + promoted + "' was promoted from the history pg '" + name + "' is on (at "
                    + promotion.get().getString("lsn") + "); started as a primary, '" + name + "' would write a second"
                    + " version of that history. Follow the promoted pg with a new one (pg create NEW "
                    + promoted + "), start '" + name + "' as a replica of the old history (--replica), or start it"
                    + " with --force (REST: \"force\": true), which forks it onto a branch of its own at its end");
        }
        Branch b = branch(null, name, null, null, true);
        move(store, c, c.record.onTimeline(b.timeline(), name + "@" + b.point().lsn() + " (forked)"));
        LOG.info("pg " + name + " forked onto timeline " + b.timeline() + " at " + b.point().lsn()
                + ": pg '" + promoted + "' was promoted from its history");
        return true;
    }
}
