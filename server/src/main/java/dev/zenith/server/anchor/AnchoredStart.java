package dev.zenith.server.anchor;

import dev.zenith.storage.Store;
import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.anchor.StoredAnchor;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.FileEntry;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.image.VersionedDirectory;
import dev.zenith.storage.index.PageIndexer;
import dev.zenith.storage.page.Watermarks;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.control.RelationMapFile;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Where a rebuilt data directory starts (docs/page-versions.md, "Everything that builds a data
 * directory"): at the newest anchor at or below the target whose blocks are all materialized (a
 * background materialization step at its redo point), so PostgreSQL replays only the WAL since that
 * checkpoint instead of all of it since the last clean stop. Its files: the newest image's small files,
 * the anchor's pg_control and status files, every fork the page index knows there at its size, each
 * block the newest stored version at the redo point, and the free-space maps its redo run left (all
 * zeros). Where that is not possible, or the image is as near, it says why and the caller starts from
 * the image. Used by rebuilds of computes and by base backups. Blocking; storage only.
 */
public final class AnchoredStart {
    /** A data directory at the anchor, where its replay starts, and the timeline whose checkpoint it is. */
    public record Plan(VersionedDirectory directory, Lsn redo, Lsn checkpoint, TimelineId timeline) {
    }

    /** A plan, or why there is none (the caller logs it). */
    public record Choice(Optional<Plan> plan, String why) {
        public static Choice none(String why) {
            return new Choice(Optional.empty(), why);
        }
    }

    private AnchoredStart() {
    }

    /**
     * The newest materialized anchor a start at {@code end} could take, chosen by where the anchors stand only (no
     * file of theirs read, no scan of the index): its redo point is where the replay starts, so the WAL to replay can
     * be written while {@link #plan} builds the directory's plan. Or why there is none.
     */
    public record Candidate(Optional<AnchorStore.Point> anchor, Watermarks.Step step, String why) {
        public static Candidate none(String why) {
            return new Candidate(Optional.empty(), null, why);
        }

        /** Where a start from it replays from, if it has an anchor. */
        public Optional<Lsn> redo() {
            return anchor.map(AnchorStore.Point::redoLsn);
        }
    }

    /**
     * @param image the image the full path would start from (the newest at or below {@code end})
     * @param end   the last record end the directory is rebuilt for
     */
    public static Choice choose(Store store, TimelineId timeline, ImageManifest image, Lsn end) {
        return plan(store, timeline, image, candidate(store, timeline, image, end));
    }

    /** {@link #choose}'s first half: which anchor, from the positions of anchors and steps alone. */
    public static Candidate candidate(Store store, TimelineId timeline, ImageManifest image, Lsn end) {
        AnchorStore.Point best = null;
        Watermarks.Step bestStep = null;
        for (Lineage.Step step : store.timelines().lineage(timeline, end).steps()) {
            // where each anchor stands is enough to choose: only the chosen one's files are read, in plan()
            List<AnchorStore.Point> anchors = store.anchors().pointsOf(step.timeline());
            for (Watermarks.Step w : store.watermarks().steps(step.timeline())) {
                if (w.target().isAfter(step.upTo()) || (bestStep != null && !w.redoPoint().isAfter(bestStep.redoPoint()))) {
                    continue;
                }
                for (AnchorStore.Point a : anchors) {
                    // its checkpoint record is the first thing replayed: it must lie in the lineage's WAL
                    if (a.redoLsn().equals(w.redoPoint()) && !a.recordEnd().isAfter(step.upTo())) {
                        best = a;
                        bestStep = w;
                    }
                }
            }
        }
        if (best == null) {
            return Candidate.none("no materialized anchor at or below " + end);
        }
        if (!best.redoLsn().isAfter(image.redoLsn())) {
            return Candidate.none("the image at " + image.lsn() + " is as near as the newest materialized anchor ("
                    + best.checkpointLsn() + ")");
        }
        return new Candidate(Optional.of(best), bestStep, "");
    }

    /**
     * {@link #choose}'s second half: the directory at the candidate's anchor (its files checked, one scan of the
     * index for forks and databases), or why it cannot be used (the caller then starts from the image).
     */
    public static Choice plan(Store store, TimelineId timeline, ImageManifest image, Candidate candidate) {
        if (candidate.anchor().isEmpty()) {
            return Choice.none(candidate.why());
        }
        AnchorStore.Point best = candidate.anchor().get();
        Watermarks.Step bestStep = candidate.step();
        Lsn at = bestStep.target();
        try {
            StoredAnchor anchor = store.anchors().get(best.timeline(), best.checkpointLsn())
                    .orElseThrow(() -> new IllegalStateException("it was collected meanwhile"));
            Anchor.of(anchor.pgControl(), anchor.files()); // its files checked against its pg_control
            var state = store.index().forksAndDatabases(timeline, at); // one scan of the index's history for both
            Set<DatabaseDir> databases = state.databases();
            Map<String, byte[]> files = new TreeMap<>(anchor.files());
            List<String> directories = new ArrayList<>();
            Optional<String> refused = databaseFiles(store, timeline, image, at, databases, files, directories);
            if (refused.isPresent()) {
                return Choice.none(refused.get());
            }
            List<RelationSize> forks = new ArrayList<>();
            for (Map.Entry<RelTag, Long> f : state.forks().entrySet()) {
                forks.add(new RelationSize(f.getKey(), f.getValue()));
            }
            VersionedDirectory d = new VersionedDirectory(image, anchor.pgControl(), files, directories, Anchor.DIRECTORIES,
                    forks, freeSpaceMaps(bestStep, forks), anchor.redoLsn());
            return new Choice(Optional.of(new Plan(d, anchor.redoLsn(), anchor.checkpointLsn(), anchor.timeline())), "");
        } catch (RuntimeException e) { // the index does not reach that far back (GC), an anchor that does not check...
            return Choice.none("the anchor at " + best.checkpointLsn() + " cannot be used: " + e.getMessage());
        }
    }

    /**
     * The step's free-space map forks, of relations that exist there: the lengths its redo run left, which the
     * page service answers for Nblocks there. A step stored before runs kept them has none (its directory has no
     * FSM files, as before: PostgreSQL creates them when it records free space).
     */
    private static List<RelationSize> freeSpaceMaps(Watermarks.Step step, List<RelationSize> forks) {
        if (step.freeSpaceMaps() == null) {
            return List.of();
        }
        Set<RelFileNode> relations = new HashSet<>();
        forks.forEach(f -> relations.add(f.rel().node()));
        List<RelationSize> out = new ArrayList<>();
        step.freeSpaceMaps().forEach((rel, blocks) -> {
            if (relations.contains(rel.node())) {
                out.add(new RelationSize(rel, blocks));
            }
        });
        return out;
    }

    /**
     * The database directories at {@code at} and their small files: each directory that exists there (the
     * image's, less those dropped since, plus those created since with their parents), its relation map as the
     * page index has it there (written by the first image, every XLOG_RELMAP_UPDATE and a FILE_COPY's copy of
     * the template's; a directory created by WAL_LOG whose map record comes after {@code at} has none yet, as
     * PostgreSQL's own directory would not), and a new directory's PG_VERSION (the cluster's). Adds to
     * {@code files} and {@code directories}; returns why not, for a store whose index predates relation maps
     * where the image's maps no longer hold or databases changed.
     */
    private static Optional<String> databaseFiles(Store store, TimelineId timeline, ImageManifest image, Lsn at,
                                                  Set<DatabaseDir> databases, Map<String, byte[]> files,
                                                  List<String> directories) {
        Set<DatabaseDir> imageDatabases = PageIndexer.databaseDirectories(image.directories());
        DatabaseDir global = new DatabaseDir(RelFileNode.GLOBAL_TABLESPACE, 0);
        if (store.index().relationMap(timeline, global.spcOid(), global.dbOid(), at).isEmpty()) {
            // an index written before it kept relation maps: only the image's can be used, where they still hold
            if (!imageDatabases.equals(databases)) {
                return Optional.of("databases were created or dropped since the image at " + image.lsn()
                        + " (and the page index keeps no relation maps from before then)");
            }
            directories.addAll(image.directories());
            return staleRelationMap(store, timeline, image, at);
        }
        Set<String> dropped = new HashSet<>();
        imageDatabases.stream().filter(d -> !databases.contains(d)).forEach(d -> dropped.add(DataDirectoryLayout.databaseDirectory(d)));
        Set<String> dirs = new TreeSet<>();
        for (String dir : image.directories()) {
            if (dropped.stream().noneMatch(x -> dir.equals(x) || dir.startsWith(x + "/"))) {
                dirs.add(dir);
            }
        }
        byte[] version = store.images().imageFile(image, "PG_VERSION")
                .orElseThrow(() -> new IllegalStateException("the image at " + image.lsn() + " has no PG_VERSION"));
        for (DatabaseDir d : databases) {
            String dir = DataDirectoryLayout.databaseDirectory(d);
            for (int slash = dir.indexOf('/'); slash > 0; slash = dir.indexOf('/', slash + 1)) {
                dirs.add(dir.substring(0, slash));
            }
            dirs.add(dir);
            if (!imageDatabases.contains(d) && d.spcOid() != RelFileNode.GLOBAL_TABLESPACE) {
                files.put(dir + "/PG_VERSION", version);
            }
            Optional<byte[]> map = store.index().relationMap(timeline, d.spcOid(), d.dbOid(), at);
            if (map.isPresent()) {
                files.put(DataDirectoryLayout.relationMapFile(d), map.get());
            } else if (imageDatabases.contains(d)) {
                // a directory of the image without a map at {@code at}: dropped and created again by WAL_LOG since
                return Optional.of("the relation map of " + dir + " at " + at + " is not known yet");
            }
        }
        directories.addAll(dirs);
        return Optional.empty();
    }
    /**
     * Why a relation map of the image may not hold at {@code at}: it names a relfilenode that no longer exists
     * there (a mapped catalog was rewritten since: its map changed, which only WAL before the anchor says), or
     * it is one this check does not read (a database in another tablespace).
     */
    private static Optional<String> staleRelationMap(Store store, TimelineId timeline, ImageManifest image, Lsn at) {
        for (FileEntry f : image.files()) {
            String[] p = f.path().split("/");
            if (!p[p.length - 1].equals("pg_filenode.map")) {
                continue;
            }
            int spc;
            int db;
            if (p.length == 2 && p[0].equals("global")) {
                spc = RelFileNode.GLOBAL_TABLESPACE;
                db = 0;
            } else if (p.length == 3 && p[0].equals("base")) {
                spc = RelFileNode.DEFAULT_TABLESPACE;
                db = Integer.parseUnsignedInt(p[1]);
            } else {
                return Optional.of("the image has a database in another tablespace (" + f.path()
                        + "), whose relation map is not checked");
            }
            byte[] map = store.images().imageFile(image, f.path()).orElseThrow();
            Set<Integer> seen = new HashSet<>();
            for (int filenode : RelationMapFile.mappings(map).values()) {
                if (seen.add(filenode) && !store.index().exists(timeline, RelTag.of(spc, db, filenode, ForkNumber.MAIN), at)) {
                    return Optional.of("a mapped catalog was rewritten since the image at " + image.lsn()
                            + " (its relation map " + f.path() + " changed)");
                }
            }
        }
        return Optional.empty();
    }
}
