package dev.zenith.server.compute;

import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.ready.ReadyDirectories;
import dev.zenith.server.redo.StepsUnderWay;
import dev.zenith.storage.image.DataDirectoryMaterializer;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.storage.Store;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ImportStats;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Moves a compute's data directory to and from the store: the first initdb becomes the storage's base
 * image, a directory is rebuilt from the newest materialized anchor (or else the newest image) plus WAL, and a cleanly stopped directory
 * becomes a new image. Blocking; storage and files only, no networking.
 */
final class ComputeDirectories {
    private static final Logger LOG = Logger.getLogger(ComputeDirectories.class.getName());

    private final PgInstallation pg;
    /** Rebuilds start from the newest materialized anchor where there is one (conf redo.start_from_anchors). */
    private final boolean fromAnchors;
    /** A start at a timeline's newest materialized anchor renames its ready directory in (conf redo.ready_directories). */
    private final ReadyDirectories ready;

    /** The background steps under way, a start may wait for one; null: never waits (followers). */
    private final StepsUnderWay steps;

    ComputeDirectories(PgInstallation pg, boolean fromAnchors, ReadyDirectories ready, StepsUnderWay steps) {
        this.pg = pg;
        this.fromAnchors = fromAnchors;
        this.ready = ready;
        this.steps = steps;
    }

    static Optional<TimelineId> mainTimeline(Store store) {
        return store.documents().get(DocumentStore.MAIN_TIMELINE_KEY).map(b -> TimelineId.parse(new String(b, StandardCharsets.UTF_8)));
    }

    /**
     * An empty storage gets its cluster from initdb, run in the first compute's directory: the directory
     * is the base image, and the WAL segment holding initdb's shutdown checkpoint is the start of the
     * main timeline's WAL. Returns the main timeline.
     */
    TimelineId bootstrap(Store store, PostgresProcess process) throws IOException {
        Path pgdata = process.dataDir();
        Files.createDirectories(pgdata);
        Files.setPosixFilePermissions(pgdata, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        pg.handOver(pgdata);
        process.initdb(ClusterPasswords.findOrCreate(store));
        return BaseImage.store(store, pgdata, "initdb");
    }

    /**
     * A primary's start on a timeline with no WAL record on its PostgreSQL timeline yet (a new branch or
     * checkout): a standby of nothing that finds its promote trigger file once it has replayed all of pg_wal,
     * so recovery ends on TLI {@code tli} (branched off {@code fromTli}), as the placeholder history files make
     * PostgreSQL select; {@link #awaitNewTimeline} and {@link #finishNewTimeline} check that. Promoted, not
     * ended as plain archive recovery: PostgreSQL then writes an end-of-recovery record and accepts connections
     * at once, its checkpoint following in the background, instead of waiting for a synchronous checkpoint of
     * every buffer the replay dirtied (~15k at scale 50).
     */
    record NewTimeline(int tli, int fromTli, List<Path> placeholders, Path promoteTrigger) {
        /** The recovery settings of this start. */
        Map<String, String> settings() {
            // Archive recovery needs a restore_command; ours has nothing to restore: the WAL is in pg_wal. No
            // hot standby meanwhile: it would want the primary's connection and worker counts (pg_control's).
            return Map.of("restore_command", "false", "recovery_target_timeline", Integer.toString(fromTli),
                    "hot_standby", "off", "promote_trigger_file", promoteTrigger.toString());
        }
    }

    /** The file whose presence promotes a {@link NewTimeline} start; PostgreSQL removes it when it promotes. */
    static Path promoteTrigger(Path pgdata) {
        return pgdata.resolve("zenith.promote");
    }

    /**
     * Makes a {@link NewTimeline} start end as plain archive recovery instead of a promotion: for a single-user run
     * (a password set before the start), which refuses standby mode. That run then ends recovery on the new timeline
     * (with its checkpoint) and the start after it is an ordinary one.
     */
    static void endInArchiveRecovery(Path pgdata) throws IOException {
        Files.writeString(pgdata.resolve("recovery.signal"), "");
        Files.deleteIfExists(pgdata.resolve("standby.signal"));
        Files.deleteIfExists(promoteTrigger(pgdata));
    }

    /**
     * Writes a fresh data directory for the timeline's end of WAL: page versions at the newest materialized
     * anchor ({@link AnchoredStart}) or else the newest image's files, then the WAL from that redo point to
     * the last complete record, in segments named for the PostgreSQL
     * timelines they belong to, with the lineage's history files. PostgreSQL's own recovery replays it:
     * crash recovery, continuing the PostgreSQL timeline (across the switches in the lineage, by
     * minRecoveryPoint's timeline); or, for a primary whose timeline has no record on its PostgreSQL
     * timeline yet, archive recovery ending on that timeline (returned). {@code asPrimary}: the compute
     * will write this timeline's WAL from the end on (no other primary runs there).
     */
    Optional<NewTimeline> rebuild(Store store, TimelineId timeline, PostgresProcess process, boolean asPrimary) throws IOException {
        Path pgdata = process.dataDir();
        long began = System.nanoTime();
        Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow(() -> new IOException("timeline " + timeline + " has no WAL"));
        Lsn walEnd = store.wal().end(timeline).orElse(end);
        // Only a primary writes over the tail. A replica may start while the timeline's primary runs and
        // its receiver is mid-record: that tail is live WAL, not to be touched.
        if (asPrimary && walEnd.isAfter(WalIndexer.nextRecordStart(end))) {
            // A torn record at the tail was never acknowledged; the compute will write over it.
            store.wal().truncate(timeline, end);
            LOG.info("cut the torn WAL tail " + end + ".." + walEnd + " of timeline " + timeline);
        }
        ImageManifest image = store.images().imageFor(timeline, end)
                .orElseThrow(() -> new IOException("timeline " + timeline + " has no image at or before " + end));
        boolean beginsTimeline = asPrimary && store.pgTimelines().beginsAtStart(timeline);
        int endTli = PgTimelines.tliAt(store.pgTimelines().entries(timeline), end.plus(-1));
        FileTrees.delete(pgdata);
        Path walStaging = walStaging(pgdata);
        FileTrees.delete(walStaging); // a crashed rebuild's
        Progress progress = Progress.current();
        // Which anchor is cheap to say; its plan (the anchor's files checked, a scan of the index for forks and
        // databases) is not. The WAL from its redo point is written meanwhile, into a directory beside the data
        // directory (which the materializer wants empty), then moved in.
        AnchoredStart.Candidate candidate = fromAnchors ? AnchoredStart.candidate(store, timeline, image, end)
                : AnchoredStart.Candidate.none("redo.start_from_anchors is off");
        if (fromAnchors && steps != null) { // a step under way to a later anchor (a snapshot's own) may be worth it
            Optional<StepsUnderWay.Decision> d = awaitStep(store, timeline, end, candidate.redo().orElse(image.redoLsn()));
            if (d.isPresent()) {
                LOG.info("rebuilding " + pgdata + ": " + d.get().what());
                if (d.get().waited()) {
                    candidate = AnchoredStart.candidate(store, timeline, image, end);
                }
            }
        }
        Lsn walFrom = candidate.redo().orElse(image.redoLsn());
        progress.phase("rebuilding the data directory from the store"); // its size (pages and WAL) once planned
        Files.createDirectories(walStaging);
        WalStagingWriter wal = WalStagingWriter.start(store, timeline, walFrom, end, walStaging, progress::advance);
        AnchoredStart.Choice start;
        try {
            start = AnchoredStart.plan(store, timeline, image, candidate);
        } catch (RuntimeException e) {
            abandon(wal, e);
            throw e;
        }
        Lsn replayFrom;
        String from;
        long pageBytes;
        if (start.plan().isPresent()) {
            AnchoredStart.Plan plan = start.plan().get();
            replayFrom = plan.redo();
            from = "page versions at the anchor " + plan.checkpoint();
            pageBytes = plan.directory().pageBytes();
        } else {
            LOG.info("rebuilding " + pgdata + " from the image at " + image.lsn() + " and all WAL since: " + start.why());
            replayFrom = image.redoLsn();
            from = "image " + image.lsn();
            pageBytes = DataDirectoryMaterializer.pageBytes(image);
        }
        if (!replayFrom.equals(walFrom)) { // the anchor could not be used after all: the WAL since the image instead
            wal.finish();
            FileTrees.delete(walStaging);
            Files.createDirectories(walStaging);
            wal = WalStagingWriter.start(store, timeline, replayFrom, end, walStaging, progress::advance);
        }
        progress.total(pageBytes + store.pgWal().bytesToWrite(timeline, replayFrom, end));
        long planned = System.nanoTime();
        String stats;
        try {
            Optional<String> taken = start.plan().isPresent() ? ready.take(store, start.plan().get(), pgdata) : Optional.empty();
            if (taken.isPresent()) {
                stats = taken.get();
                progress.advance(pageBytes);
            } else {
                stats = (start.plan().isPresent()
                        ? store.images().materialize(timeline, start.plan().get().directory(), pgdata, progress::advance)
                        : store.images().materialize(image, pgdata, progress::advance)).toString();
            }
        } catch (IOException | RuntimeException e) {
            abandon(wal, e);
            throw e;
        }
        long pagesWritten = System.nanoTime();
        ready.started(); // its first queries come soon: ready directories are not written whole meanwhile
        wal.finish();
        long walWritten = System.nanoTime();
        Path walDir = pgdata.resolve("pg_wal");
        Files.createDirectories(walDir.resolve("archive_status"));
        try (var staged = Files.list(walStaging)) {
            for (Path f : (Iterable<Path>) staged::iterator) {
                Files.move(f, walDir.resolve(f.getFileName().toString()));
            }
        }
        FileTrees.delete(walStaging);
        writeHistoryFiles(store, timeline, walDir, beginsTimeline);
        // The image's pg_control says "shut down"; PostgreSQL must replay what follows its checkpoint
        // instead of starting to write over it, so it is told it crashed. When the WAL crosses into a
        // later PostgreSQL timeline than the image's checkpoint, minRecoveryPoint's timeline is where
        // crash recovery goes (InitWalRecovery's recoveryTargetTLI).
        Path controlPath = pgdata.resolve("global/pg_control");
        ControlFile control = ControlFile.parse(Files.readAllBytes(controlPath)).withState(DbState.IN_PRODUCTION);
        if (control.checkPointCopy().thisTimeLineId() != endTli) {
            control = control.withMinRecoveryPoint(end, endTli);
        }
        Files.write(controlPath, control.toFile());
        LOG.info("rebuilt " + pgdata + " from " + from + " (" + stats + ") plus WAL "
                + replayFrom + ".." + end + " (" + end.minus(replayFrom) + " bytes to replay) in " + millis(began, System.nanoTime())
                + " ms (choosing the start " + millis(began, planned) + ", its pages " + millis(planned, pagesWritten)
                + ", then waiting for its WAL " + millis(pagesWritten, walWritten) + ")");
        if (!beginsTimeline) {
            return Optional.empty();
        }
        int tli = store.timelines().get(timeline).orElseThrow().pgTimeline();
        List<Path> placeholders = markTimelinesTaken(walDir, endTli, tli);
        // Standby mode reads pg_wal to its end before it looks for the trigger (only once a read fails), so the
        // file may be there from the start: no WAL is left unreplayed.
        Files.writeString(pgdata.resolve("standby.signal"), "");
        Files.writeString(promoteTrigger(pgdata), "");
        return Optional.of(new NewTimeline(tli, endTli, placeholders, promoteTrigger(pgdata)));
    }

    private Optional<StepsUnderWay.Decision> awaitStep(Store store, TimelineId timeline, Lsn end, Lsn redo) throws IOException {
        try {
            return steps.awaitIfCheaper(store, timeline, end, redo);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for a materialization step");
        }
    }

    /** After {@code e}: the writer reads the store, so it ends before the caller may close it. */
    private static void abandon(WalStagingWriter wal, Exception e) {
        try {
            wal.finish();
        } catch (IOException | RuntimeException w) {
            e.addSuppressed(w);
        }
    }

    private static long millis(long fromNanos, long toNanos) {
        return java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
    }

    /** Where {@link #rebuild} writes the WAL to replay while the data directory is being written. */
    static Path walStaging(Path pgdata) {
        return pgdata.resolveSibling(pgdata.getFileName() + ".wal-staging");
    }

    /**
     * Where the crash recovery of a rebuilt primary ended: the redo point of the end-of-recovery checkpoint
     * PostgreSQL writes (and waits for) before it accepts connections, which is where replay stopped.
     */
    static Lsn recoveryEnd(PostgresProcess process) throws IOException {
        return ControlFile.parse(Files.readAllBytes(process.dataDir().resolve("global/pg_control"))).checkPointCopy().redo();
    }

    /**
     * PostgreSQL ending recovery on {@code after} selects one more than the newest timeline whose history
     * file it finds in sequence (findNewestTimeLine): placeholders for the numbers between it and {@code next}
     * (other histories of the storage took them) make it select {@code next}. Their content is a comment, a
     * history of no parent: a standby rescanning for a newer timeline finds none it could follow there.
     * Returns the files written, to be removed once it has selected.
     */
    List<Path> markTimelinesTaken(Path walDir, int after, int next) throws IOException {
        List<Path> written = new java.util.ArrayList<>();
        for (int taken = after + 1; taken < next; taken++) {
            Path file = walDir.resolve(historyFileName(taken));
            if (!Files.exists(file)) {
                Files.write(file, PgTimelines.placeholderHistory(taken));
                pg.handOver(file);
                written.add(file);
            }
        }
        return written;
    }

    /**
     * Where a rebuilt primary that ended recovery on {@code plan}'s new timeline stopped replaying: the switch
     * point PostgreSQL wrote into the new timeline's history (the end of the last record it replayed). Its
     * end-of-recovery checkpoint is not waited for on a promotion, so pg_control cannot tell yet.
     */
    static Lsn newTimelineSwitchPoint(PostgresProcess process, NewTimeline plan) throws IOException {
        List<String> lines = Files.readAllLines(process.dataDir().resolve("pg_wal").resolve(historyFileName(plan.tli())),
                StandardCharsets.US_ASCII).stream().filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        if (lines.isEmpty()) {
            throw new IOException("PostgreSQL wrote no switch point into the history of timeline " + plan.tli());
        }
        return Lsn.parse(lines.get(lines.size() - 1).trim().split("\\s+")[1]);
    }

    /** After the start of {@link #rebuild}'s new timeline: waits until recovery has ended on it. */
    void awaitNewTimeline(PostgresProcess process, NewTimeline plan) throws IOException {
        int ended = process.awaitEndOfRecovery(java.time.Duration.ofMinutes(10));
        if (ended != plan.tli()) {
            throw new IOException("PostgreSQL ended recovery on timeline " + ended + ", not " + plan.tli());
        }
    }

    /**
     * Once recovery ended on {@code plan}'s new timeline: checks that PostgreSQL wrote the history the store
     * serves for it, and removes the placeholders.
     */
    void finishNewTimeline(Store store, TimelineId timeline, PostgresProcess process, NewTimeline plan) throws IOException {
        byte[] written = Files.readAllBytes(process.dataDir().resolve("pg_wal").resolve(historyFileName(plan.tli())));
        byte[] served = store.pgTimelines().history(timeline).orElseThrow();
        if (!Arrays.equals(written, served)) {
            throw new IOException("PostgreSQL's history of timeline " + plan.tli() + " differs from the store's: "
                    + new String(written, StandardCharsets.US_ASCII) + " / " + new String(served, StandardCharsets.US_ASCII));
        }
        for (Path p : plan.placeholders()) {
            Files.deleteIfExists(p);
        }
    }

    static String historyFileName(int tli) {
        return String.format("%08X.history", tli);
    }

    /**
     * PostgreSQL needs the history of every timeline switch in its past to read WAL across it; a compute
     * that is to select its own timeline must not find that timeline's ({@code exceptOwn}).
     */
    private static void writeHistoryFiles(Store store, TimelineId timeline, Path walDir, boolean exceptOwn) throws IOException {
        int own = store.timelines().get(timeline).orElseThrow().pgTimeline();
        for (Map.Entry<Integer, byte[]> h : store.pgTimelines().historyFiles(timeline).entrySet()) {
            if (!(exceptOwn && h.getKey() == own)) {
                Files.write(walDir.resolve(historyFileName(h.getKey())), h.getValue());
            }
        }
    }

    /**
     * Turns a rebuilt directory into a read-only node at the timeline's end: a standby of nothing
     * ({@code standby.signal}, no upstream) that replays the WAL we gave it and serves reads there.
     * minRecoveryPoint keeps it from accepting connections before it reaches that point.
     */
    void makeReadOnly(Store store, TimelineId timeline, PostgresProcess process) throws IOException {
        Path pgdata = process.dataDir();
        Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow(() -> new IOException("timeline " + timeline + " has no WAL"));
        int endTli = PgTimelines.tliAt(store.pgTimelines().entries(timeline), end.plus(-1));
        Path controlPath = pgdata.resolve("global/pg_control");
        ControlFile control = ControlFile.parse(Files.readAllBytes(controlPath));
        Files.write(controlPath, control.withMinRecoveryPoint(end, endTli).toFile());
        Files.writeString(pgdata.resolve("standby.signal"), "");
    }

    /** A rebuilt directory that starts as a hot standby (its primary_conninfo comes with the settings). */
    void makeStandby(PostgresProcess process) throws IOException {
        Files.writeString(process.dataDir().resolve("standby.signal"), "");
    }

    /**
     * A hot standby refuses to run with fewer connections, workers, WAL senders, prepared transactions
     * or locks than the primary recorded in pg_control; these are the recorded values.
     */
    static Map<String, Integer> hotStandbyMinimums(PostgresProcess process) throws IOException {
        ControlFile c = ControlFile.parse(Files.readAllBytes(process.dataDir().resolve("global/pg_control")));
        return Map.of("max_connections", c.maxConnections(), "max_worker_processes", c.maxWorkerProcesses(),
                "max_wal_senders", c.maxWalSenders(), "max_prepared_transactions", c.maxPreparedXacts(),
                "max_locks_per_transaction", c.maxLocksPerXact());
    }

    /**
     * After a clean stop: the directory's pages that WAL says changed since the previous image become
     * a new image at the shutdown checkpoint. Returns the timeline's WAL end the directory matches.
     */
    Lsn refreshImage(Store store, TimelineId timeline, PostgresProcess process) throws IOException {
        Path pgdata = process.dataDir();
        ControlFile control = ControlFile.parse(Files.readAllBytes(pgdata.resolve("global/pg_control")));
        if (control.state() != DbState.SHUTDOWNED) {
            throw new IOException("the compute did not shut down cleanly (state " + control.state() + ")");
        }
        Lsn checkpoint = control.checkPoint();
        Lsn end = store.wal().lastRecordEnd(timeline).orElse(Lsn.INVALID);
        if (!end.isAfter(checkpoint)) {
            throw new IOException("the store's WAL ends at " + end + ", before the shutdown checkpoint " + checkpoint);
        }
        Lsn previous = store.images().latestImageAtOrBefore(timeline, checkpoint).map(ImageManifest::lsn).orElse(Lsn.INVALID);
        var changed = store.changes().changedRelations(timeline, previous, end);
        ImportStats stats = store.images().importDataDirectory(timeline, pgdata, checkpoint, control.checkPointCopy().redo(),
                RelationFilter.onlyTags(changed), Progress.current().ofImport());
        LOG.info("image at " + checkpoint + " after clean stop: " + changed.size() + " changed relation forks, " + stats);
        return store.wal().end(timeline).orElse(end);
    }
}
