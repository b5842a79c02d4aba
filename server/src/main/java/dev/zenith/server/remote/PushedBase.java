package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.TimelineStep;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalGeometry;

import java.util.List;
import java.util.Optional;

/**
 * The base an earlier snapshot of the same history was pushed with, as the remote lists it: its image's files, its
 * anchor (pg_control) and its directories, reused as they are by a later push, so that the later push sends only the WAL
 * after the earlier snapshot. Without it, a push after garbage collection freed the image's WAL starts from the base the
 * collection kept (a materialized anchor, newer with every collection), whose relation files differ from the ones pushed
 * before: every changed relation was sent again (33 MB for 15 KB of WAL at pgbench scale 2).
 *
 * @param snapshot   the earlier snapshot
 * @param checkpoint the base's checkpoint (its anchor's LSN)
 * @param redo       where a replay from it starts
 * @param entries    the base's objects: image files, anchor, the directories' list
 * @param databases  the databases' locales the earlier push recorded
 */
record PushedBase(String snapshot, Lsn checkpoint, Lsn redo, List<Manifest.Entry> entries,
                  List<ClusterFacts.DatabaseLocale> databases) {

    /**
     * Among the remote's published snapshots, the one whose base a push of {@code plan} (a snapshot at {@code lsn}) is
     * best made from, if any: a snapshot of the same lineage at or below {@code lsn}, pushed from another base than the
     * plan's, whose WAL up to {@code lsn} is either listed on the remote or still stored here, and which is not so far
     * behind that the WAL since it outweighs a base of the database's size (the newest such base). Blocking.
     */
    static Optional<PushedBase> find(Store store, PushPlan plan, Lsn lsn, List<SnapshotManifest> published,
                                     List<Manifest.Entry> listed) {
        List<TimelineStep> ours = plan.steps();
        long baseBytes = plan.image().relations().stream().mapToLong(RelationSize::blocks).sum() * WalGeometry.BLCKSZ;
        Optional<PushedBase> best = Optional.empty();
        for (SnapshotManifest m : published) {
            List<TimelineStep> theirs = m.lineage();
            if (theirs.size() > ours.size() || !ours.subList(0, theirs.size()).equals(theirs)) {
                continue; // another history
            }
            int last = theirs.size() - 1;
            Lsn at = Lsn.of(m.lsn());
            Lsn limit = last + 1 < ours.size() ? Lsn.of(ours.get(last + 1).branchLsn()) : lsn;
            if (at.isAfter(limit) || lsn.minus(at) >= baseBytes) {
                continue; // after this snapshot on its lineage, or so far before it that a base of its own is smaller
            }
            Optional<Manifest.Entry> anchor = m.objects().stream().filter(e -> "anchor".equals(e.labels().get("kind"))).findFirst();
            if (anchor.isEmpty()) {
                continue;
            }
            Lsn checkpoint = Lsn.parse(anchor.get().labels().get("lsn"));
            Lsn redo = Lsn.parse(anchor.get().labels().get("redo"));
            if (redo.equals(plan.redo()) && checkpoint.equals(plan.checkpoint())) {
                return Optional.empty(); // the plan's own base is on the remote already: its files are all skipped
            }
            List<Manifest.Entry> entries = m.objects().stream().filter(PushedBase::ofTheBase).toList();
            PushedBase candidate = new PushedBase(m.ref().toString(), checkpoint, redo, entries, m.cluster().databases());
            if (walAvailable(store, plan.onto(candidate, lsn), listed)
                    && best.map(b -> b.redo().isBefore(redo)).orElse(true)) {
                best = Optional.of(candidate);
            }
        }
        return best;
    }

    private static boolean ofTheBase(Manifest.Entry e) {
        String kind = e.labels().get("kind");
        return "image".equals(kind) || "anchor".equals(kind)
                || "meta".equals(kind) && PulledSnapshot.DIRECTORIES.equals(e.labels().get("name"));
    }

    /** Whether every piece of the plan's WAL is listed on the remote or stored here (garbage collection frees WAL). */
    private static boolean walAvailable(Store store, PushPlan plan, List<Manifest.Entry> listed) {
        for (PushPlan.WalRange r : plan.wal()) {
            WalPieces pieces = WalPieces.listedFor(r.timeline().toString(), listed);
            Optional<Lsn> stored = store.wal().ownStart(r.timeline());
            for (WalPieces.Piece p : pieces.cut(r.start(), r.end())) {
                if (pieces.listed(p).isEmpty() && stored.map(s -> s.isAfter(p.start())).orElse(true)) {
                    return false;
                }
            }
        }
        return true;
    }
}
