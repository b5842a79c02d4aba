package dev.zenith.server.redo;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.page.PageLayout;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.SlruKind;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.rmgr.CheckPoint;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.segment.WalGeometry;
import io.vertx.core.Context;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Sparse redo: stock PostgreSQL 15 reconstructs the wanted blocks at a target LSN by crash
 * recovery in a scratch directory that holds only those blocks (and the pages replay copies into
 * them), the anchor's pg_control and status files, and the WAL from the anchor's redo point to the
 * target, zero after it. Replay skips every record for a block that is absent or all zeros
 * (XLogReadBufferExtended gives InvalidBuffer in crash recovery, and crash recovery never runs
 * XLogCheckInvalidPages), so the other blocks need not be there. One run answers every block wanted
 * at one LSN.
 *
 * <p>Blocking from start to end (files, a child process): run it as a job on a worker, never on an
 * event loop. A run that fails hands out nothing; a run cut short by a crash leaves only a scratch
 * directory, which {@link ScratchArea#open} removes at the next start.
 */
public final class SparseRedo {
    /** Starting pages read from their source together: memory holds this many (8 KiB each) at a time. */
    private static final int SEED_BATCH = 256;
    /** WAL checks kept for later runs: one per anchor and timeline read from recently is enough. */
    private static final int CHECKS_KEPT = 64;

    private final PgInstallation pg;
    private final ScratchArea area;
    private final RedoSettings settings;
    /**
     * The newest check of each WAL runs were given. Where the source promises the same bytes to every run up to an
     * earlier one's target ({@link WalSource#growsOnly}: the store's), a run from the anchor of a run checked before
     * checks (as it writes them, and then in {@link RedoWal#check}) only the records after that run's target: floating
     * runs under writes go from one base to a later target each time, and decoded everything since the base twice.
     */
    private final Map<WalKey, RedoWal.Checked> checkedWal = Collections.synchronizedMap(
            new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<WalKey, RedoWal.Checked> eldest) {
                    return size() > CHECKS_KEPT;
                }
            });

    public SparseRedo(PgInstallation pg, ScratchArea area, RedoSettings settings) {
        this.pg = pg;
        this.area = area;
        this.settings = settings;
    }

    /**
     * Runs one request and hands every wanted block to {@code sink}, after all of them have been
     * read back and verified (data checksum, pd_lsn at or below the target).
     *
     * @throws RedoException when the request cannot be answered (anchor and WAL do not fit, PostgreSQL's
     *                       recovery fails, a page read back is invalid); the sink then got nothing
     */
    public RedoReport run(RedoRequest request, PageSink sink) throws IOException {
        if (Context.isOnEventLoopThread()) {
            throw new IllegalStateException("a redo run blocks for seconds: run it on a worker, not an event loop");
        }
        Path run = area.create();
        try {
            return runIn(run, request, sink);
        } finally {
            area.removeFinished(run);
        }
    }

    private RedoReport runIn(Path run, RedoRequest request, PageSink sink) throws IOException {
        long started = System.nanoTime();
        Anchor anchor = request.anchor();
        Lsn target = request.target();
        Path data = run.resolve("data");
        Files.createDirectory(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        for (String dir : request.base().directoriesToCreate()) {
            Files.createDirectories(data.resolve(dir));
        }
        for (Map.Entry<String, byte[]> f : request.base().filesToCopy().entrySet()) {
            Files.write(data.resolve(f.getKey()), f.getValue());
        }
        if (!Files.exists(data.resolve("PG_VERSION"))) {
            Files.writeString(data.resolve("PG_VERSION"), PgInstallation.MAJOR_VERSION + "\n");
        }
        for (Map.Entry<String, byte[]> f : anchor.files().entrySet()) {
            Files.write(data.resolve(f.getKey()), f.getValue());
        }
        // "in production": PostgreSQL must replay from the redo point, as after any crash
        ControlFile control = anchor.controlFile().withState(DbState.IN_PRODUCTION);
        int targetTli = request.timelines().targetTli();
        if (targetTli != anchor.pgTimeline()) {
            // crash recovery goes to minRecoveryPoint's timeline (InitWalRecovery's recoveryTargetTLI), across the
            // switches the history files name; outside archive recovery the point itself is not waited for
            control = control.withMinRecoveryPoint(target, targetTli);
        }
        for (Map.Entry<Integer, byte[]> h : request.timelines().histories().entrySet()) {
            Files.write(data.resolve("pg_wal").resolve(String.format("%08X.history", h.getKey())), h.getValue());
        }
        Files.write(data.resolve("global/pg_control"), control.toFile());
        RecoveryServer.writeConfiguration(data, RecoveryServer.settings(anchor.controlFile(), area.socketDirectory(run),
                settings.sharedBuffers()));
        long filesWritten = System.nanoTime();
        boolean lineage = !request.timelines().histories().isEmpty();
        WalKey walKey = request.wal().growsOnly() ? new WalKey(request.wal(), anchor.checkpointLsn(),
                anchor.controlFile().checkPointCopy(), anchor.controlFile().systemIdentifier(), targetTli, lineage) : null;
        RedoWal.Checked before = walKey == null ? null : checkedWal.get(walKey);
        if (before != null && before.continuesTo(target)) {
            request.wal().writeSegments(anchor.pgTimeline(), anchor.redoLsn(), target, data.resolve("pg_wal"), before.target());
        } else {
            before = null;
            request.wal().writeSegments(anchor.pgTimeline(), anchor.redoLsn(), target, data.resolve("pg_wal"));
        }
        long walWritten = System.nanoTime();
        RedoWal.Checked checked = RedoWal.check(data.resolve("pg_wal"), anchor, target, targetTli, lineage, before);
        if (walKey != null) {
            keep(walKey, checked);
        }
        RedoWal.Facts wal = checked.facts();
        long walChecked = System.nanoTime();

        int seeded;
        long pagesSeeded;
        try (ForkFiles files = new ForkFiles(data)) {
            SortedSet<BlockRef> seeds = withCopySources(request.wanted(), wal.fileCopies());
            seeded = seed(files, request, seeds);
            pagesSeeded = System.nanoTime();
            Set<RelTag> seededForks = new HashSet<>();
            for (BlockRef b : seeds) {
                seededForks.add(b.rel());
            }
            for (Map.Entry<RelTag, Long> f : request.forkSizes().entrySet()) {
                // zeros, as long as the base's: redo extends from there. Only where the answer depends on the map: its
                // lengths are wanted, or a wanted block is one of its pages. No other fork's redo reads a map, and heap
                // redo creates and extends a missing one itself (XLogRecordPageWithFreeSpace, RBM_ZERO_ON_ERROR): a sparse
                // file for every map of the base (hundreds: the catalogs') was half of a read's preparation.
                if (f.getKey().fork() == ForkNumber.FSM && (sink.wantsFreeSpaceMaps() || seededForks.contains(f.getKey()))) {
                    files.extend(f.getKey(), f.getValue());
                }
            }
            for (BlockRef b : wal.checkedBlocks()) {
                if (!seeds.contains(b)) { // a hole of zeros there would fail the consistency check's masking
                    long block = Integer.toUnsignedLong(b.block());
                    files.write(b.rel(), block, SentinelPage.of(block, target));
                }
            }
        }
        long mapsMade = System.nanoTime();
        pg.handOver(run);
        long built = System.nanoTime();

        RecoveryServer server = new RecoveryServer(pg, data, run.resolve("postgres.log"), settings.timeout());
        server.start();
        // the pages are read back while the postmaster exits; the run's removal waits for it
        server.endRecovered(target);
        long recovered = System.nanoTime();
        RecoveryLog said = RecoveryLog.read(run.resolve("postgres.log"));

        boolean checksums = anchor.controlFile().dataChecksumVersion() != 0;
        int present = 0;
        // opened after the server stopped: replay may have replaced files the seeding had open
        try (ForkFiles files = new ForkFiles(data)) {
            for (BlockRef b : request.wanted()) {
                byte[] page = files.read(b.rel(), Integer.toUnsignedLong(b.block()));
                if (page != null) {
                    verify(b, page, target, checksums);
                    present++;
                }
            }
            for (BlockRef b : request.wanted()) {
                sink.accept(b, files.read(b.rel(), Integer.toUnsignedLong(b.block())));
            }
        }
        if (sink.wantsFreeSpaceMaps()) {
            Map<RelTag, Long> lengths = new HashMap<>();
            for (Map.Entry<RelTag, List<Path>> f : DataDirectoryLayout.scan(data).forks().entrySet()) {
                if (f.getKey().fork() == ForkNumber.FSM) {
                    long bytes = 0;
                    for (Path segment : f.getValue()) {
                        bytes += Files.size(segment);
                    }
                    lengths.put(f.getKey(), bytes / WalGeometry.BLCKSZ);
                }
            }
            sink.acceptFreeSpaceMaps(lengths);
        }
        if (sink.wantsSlrus()) {
            for (SlruKind kind : SlruKind.values()) {
                Path dir = data.resolve(kind.directory());
                if (!Files.isDirectory(dir)) {
                    continue;
                }
                try (var segments = Files.newDirectoryStream(dir)) {
                    for (Path f : segments) {
                        sink.acceptSlru(kind.directory() + "/" + f.getFileName(), Files.readAllBytes(f));
                    }
                }
            }
        }
        long done = System.nanoTime();
        RedoReport.Preparation preparation = new RedoReport.Preparation(Duration.ofNanos(filesWritten - started),
                Duration.ofNanos(walWritten - filesWritten), Duration.ofNanos(walChecked - walWritten),
                Duration.ofNanos(pagesSeeded - walChecked), Duration.ofNanos(mapsMade - pagesSeeded),
                Duration.ofNanos(built - mapsMade));
        RedoReport.Recovery recovery = new RedoReport.Recovery(Duration.ofNanos(recovered - built), said.replay(),
                said.checkpoint());
        return new RedoReport(request.wanted().size(), seeded, present, wal.records(), wal.bytes(), preparation, recovery,
                Duration.ofNanos(done - recovered));
    }

    /** Keeps {@code checked} for the next run given the same WAL, unless one kept reaches further. */
    private void keep(WalKey key, RedoWal.Checked checked) {
        synchronized (checkedWal) {
            RedoWal.Checked kept = checkedWal.get(key);
            if (kept == null || checked.target().isAfter(kept.target())) {
                checkedWal.put(key, checked);
            }
        }
    }

    /** What makes two runs' WAL the same up to the earlier's target: the source, the anchor, the target's timeline. */
    private record WalKey(WalSource wal, Lsn checkpoint, CheckPoint contents, long systemId, int targetTli,
                          boolean lineage) {
    }

    /**
     * The wanted blocks plus, for each CREATE DATABASE by FILE_COPY in the range (latest first, so
     * copies of copies are followed), the template's block replay copies into a wanted one.
     */
    static SortedSet<BlockRef> withCopySources(SortedSet<BlockRef> wanted, List<RedoWal.FileCopy> copies) {
        TreeSet<BlockRef> seeds = new TreeSet<>(wanted);
        for (int i = copies.size() - 1; i >= 0; i--) {
            RedoWal.FileCopy c = copies.get(i);
            for (BlockRef b : List.copyOf(seeds)) {
                RelFileNode n = b.rel().node();
                if (n.spcOid() == c.to().spcOid() && n.dbOid() == c.to().dbOid()) {
                    seeds.add(new BlockRef(new RelTag(new RelFileNode(c.from().spcOid(), c.from().dbOid(), n.relNode()),
                            b.rel().fork()), b.block()));
                }
            }
        }
        return seeds;
    }

    /**
     * Writes the starting pages and gives the forks holding them their lengths; returns the pages written. Read from
     * the source {@link #SEED_BATCH} at a time: a floating run under writes seeds thousands.
     */
    private static int seed(ForkFiles files, RedoRequest request, SortedSet<BlockRef> seeds) throws IOException {
        Map<RelTag, Long> lengths = new HashMap<>();
        int written = 0;
        List<BlockRef> all = List.copyOf(seeds);
        List<byte[]> pages = List.of();
        for (int i = 0; i < all.size(); i++) {
            if (i % SEED_BATCH == 0) {
                List<BlockRef> batch = all.subList(i, Math.min(all.size(), i + SEED_BATCH));
                pages = request.startingPages().pages(batch);
                if (pages.size() != batch.size()) {
                    throw new IllegalStateException("the starting pages' source answered " + pages.size() + " of "
                            + batch.size() + " blocks");
                }
            }
            BlockRef b = all.get(i);
            byte[] page = pages.get(i % SEED_BATCH);
            long block = Integer.toUnsignedLong(b.block());
            if (page == null) {
                continue;
            }
            if (page.length != WalGeometry.BLCKSZ) {
                throw new RedoException("the starting page of " + describe(b) + " has " + page.length + " bytes");
            }
            if (!PageLayout.isNew(page)
                    && PageLayout.pageLsn(page).isAfter(Lsn.of(WalGeometry.maxAlign(request.target().value())))) {
                throw new RedoException("the starting page of " + describe(b) + " is from " + PageLayout.pageLsn(page)
                        + ", after the target " + request.target());
            }
            files.write(b.rel(), block, page);
            lengths.merge(b.rel(), block + 1, Math::max);
            written++;
        }
        for (Map.Entry<RelTag, Long> e : lengths.entrySet()) {
            Long known = request.forkSizes().get(e.getKey());
            if (known != null) {
                if (known < e.getValue()) {
                    throw new RedoException(e.getKey().path() + " is " + known + " blocks long at the redo point, but a"
                            + " starting page is given for block " + (e.getValue() - 1));
                }
                files.extend(e.getKey(), known);
            }
        }
        return written;
    }

    /** Pages a record changes carry its end MAXALIGNed (xlogreader's EndRecPtr), which may pass the target by 7 bytes. */
    private static void verify(BlockRef b, byte[] page, Lsn target, boolean checksums) throws RedoException {
        String problem = PageLayout.verify(page, Integer.toUnsignedLong(b.block()), checksums);
        if (problem != null) {
            throw new RedoException("replay left an invalid page at " + describe(b) + ": " + problem);
        }
        if (!PageLayout.isNew(page) && PageLayout.pageLsn(page).isAfter(Lsn.of(WalGeometry.maxAlign(target.value())))) {
            throw new RedoException("replay left " + describe(b) + " at " + PageLayout.pageLsn(page)
                    + ", after the target " + target);
        }
    }

    private static String describe(BlockRef b) {
        return b.rel().path() + " block " + Integer.toUnsignedLong(b.block());
    }
}
