package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.gc.ActivityMarks;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.SnapshotExistsException;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.SnapshotRef;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferProgress;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.server.compute.ClusterPasswords;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.compute.PgView;
import dev.zenith.server.domain.DomainException;
import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.CancellableWaits;
import dev.zenith.server.jobs.JobCancelledException;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * {@code snapshot push PG@SNAP --to REMOTE}: what a branch at the snapshot needs ({@link PushPlan}) sent as
 * content-addressed blobs (the image's files, its pg_control as the anchor, the WAL in pieces cut as
 * {@link WalPieces} says: 8 MiB, and the pieces the remote's snapshots list already, so a later push of the same
 * history shares every piece up to the earlier snapshot), then the snapshot's manifest, published last
 * ({@link SnapshotCatalogue}). A blob the remote holds is not sent again: one its published manifests list is not even
 * asked for, another is found by the uploader's HEAD, which also makes a push resumable. Blocking; runs off the
 * management lock.
 */
public final class SnapshotPush {
    private static final Logger LOG = Logger.getLogger(SnapshotPush.class.getName());
    /** Objects handed to the uploader at once. */
    private static final int IN_FLIGHT = 24;
    /**
     * Bytes of content held in memory until sent (WAL pieces, packs of small files), in KiB: 40 MiB. Their frames come
     * on top while they are sent; the daemon's heap is 256 MiB by default (96 MiB ran it out of memory at scale 50).
     */
    private static final int MEMORY_KIB = 40 << 10;
    /**
     * Most objects are small (files of the image, WAL pieces) and each costs two round trips (HEAD, PUT): 16 at once.
     * The uploader streams at most 4 large ones at a time, so memory stays that of its defaults (about 96 MiB).
     */
    static final TransferSettings TRANSFERS = TransferSettings.defaults().withParallelism(16, 8 << 20, 4);

    private final RemoteRegistry remotes;
    private final ComputeManager computes;
    private final StorageRegistry storages;
    private final Path scratch;
    private final LocalFacts facts;
    private final Duration settle;

    SnapshotPush(RemoteRegistry remotes, ComputeManager computes, StorageRegistry storages, Path scratch, LocalFacts facts,
                 Duration settle) {
        this.remotes = remotes;
        this.computes = computes;
        this.storages = storages;
        this.scratch = scratch;
        this.facts = facts;
        this.settle = settle;
    }

    JsonObject push(String snapshotName, String remoteName, boolean force) throws IOException {
        Remote remote = remotes.get(remoteName);
        Snapshot snapshot = computes.snapshots().get(snapshotName);
        Store store = storages.get(snapshot.storageName()).store();
        Progress progress = Progress.current();
        progress.allowCancel(); // until its manifest is published, a push shows nothing on the remote
        progress.phase("finding what a branch at " + snapshot.fullName() + " needs");
        PhaseTimes times = new PhaseTimes();
        PushPlan plan = PushPlan.of(store, snapshot.timeline(), snapshot.lsn());
        Path imageDir = scratch.resolve("push-" + UUID.randomUUID());
        times.lap("plan");
        try (ObjectStore objects = RemoteStores.open(remote);
             Uploader uploader = new Uploader(objects, TRANSFERS);
             ActivityMarks.Mark mark = markAndAwaitNoGc(objects, remote, progress)) {
            progress.phase("looking at what " + remote.name() + " holds");
            List<SnapshotManifest> snapshots = CancellableWaits.call(() -> publishedSnapshots(objects), progress, found -> { });
            List<Manifest.Entry> listed = snapshots.stream().flatMap(m -> m.objects().stream()).toList();
            uploader.knownStored(listed);
            // Only for a base GC kept (a materialized anchor, whose files differ from any image pushed before): a base
            // that is an image (a clean stop's) is pushed as it is, its pg_database read for the collations.
            Optional<PushedBase> earlier = plan.anchored().isPresent()
                    ? PushedBase.find(store, plan, snapshot.lsn(), snapshots, listed) : Optional.empty();
            if (earlier.isPresent()) {
                plan = plan.onto(earlier.get(), snapshot.lsn());
                LOG.info("pushing " + snapshot.fullName() + " from the base " + earlier.get().snapshot() + " was pushed with ("
                        + plan.checkpoint() + "): only the WAL after it is new");
            }
            times.lap("remote's manifests");
            progress.phase("reading the base at " + plan.checkpoint());
            Files.createDirectories(scratch);
            if (plan.anchored().isPresent()) { // page versions at a materialized anchor (what GC keeps for a snapshot)
                store.images().materialize(snapshot.timeline(), plan.anchored().get().directory(), imageDir, bytes -> { });
            } else if (earlier.isEmpty()) {
                store.images().materialize(plan.image(), imageDir);
            } else { // an earlier push's base: the remote holds its files, none is read here
                Files.createDirectories(imageDir);
            }
            times.lap("image");
            List<Path> files;
            List<String> directories = new ArrayList<>();
            try (Stream<Path> all = Files.walk(imageDir)) {
                files = all.filter(p -> {
                    if (Files.isDirectory(p)) {
                        if (!p.equals(imageDir)) {
                            directories.add(imageDir.relativize(p).toString());
                        }
                        return false;
                    }
                    return Files.isRegularFile(p);
                }).sorted().toList();
            }
            long total = 0;
            for (Path f : files) {
                total += Files.size(f);
            }
            for (PushPlan.WalRange r : plan.wal()) {
                total += r.end().minus(r.start());
            }
            progress.phase("pushing " + snapshot.fullName() + " to " + remote.name(), total);
            Sender sender = new Sender(uploader, progress);
            // the base is pushed as an image at its checkpoint, replayed from its redo point (earlier for an anchor)
            String baseTimeline = plan.anchored().map(a -> a.timeline()).orElse(plan.image().timeline()).toString();
            Map<String, String> imageLabels = Map.of("kind", "image", "timeline", baseTimeline,
                    "lsn", plan.checkpoint().toString());
            List<List<Path>> packs = ImagePacks.group(files);
            for (List<Path> pack : packs) {
                long bytes = 0;
                for (Path f : pack) {
                    bytes += Files.size(f);
                }
                byte[] tar = ImagePacks.pack(imageDir, pack);
                sender.sendHeld(tar, with(imageLabels, ImagePacks.LABEL, ImagePacks.TAR), bytes);
            }
            java.util.Set<Path> packed = new java.util.HashSet<>();
            packs.forEach(packed::addAll);
            for (Path f : files) {
                if (!packed.contains(f)) {
                    sender.send(Content.ofFile(f, 0, Files.size(f)), with(imageLabels, "path", imageDir.relativize(f).toString()),
                            Files.size(f));
                }
            }
            // the cluster's facts (system identifier, block size...) are any pg_control's of the history
            byte[] pgControl = plan.anchored().isPresent() ? plan.anchored().get().directory().pgControl() : store.images().pgControl(plan.image());
            if (earlier.isPresent()) {
                for (Manifest.Entry e : earlier.get().entries()) {
                    sender.reuse(e);
                }
            } else {
                sender.send(Content.of(pgControl), Map.of("kind", "anchor", "timeline", baseTimeline,
                        "lsn", plan.checkpoint().toString(), "redo", plan.redo().toString()), 0);
                sender.send(Content.of(json(new JsonObject().put("directories", new JsonArray(directories)))),
                        Map.of("kind", "meta", "name", PulledSnapshot.DIRECTORIES), 0);
            }
            JsonObject info = new JsonObject().put("commit_time", snapshot.commitTime() == null ? null : snapshot.commitTime().toString());
            sender.send(Content.of(json(info)), Map.of("kind", "meta", "name", PulledSnapshot.SNAPSHOT), 0);
            for (Timeline t : plan.lineage()) {
                Optional<byte[]> history = store.pgTimelines().history(t.id());
                if (history.isPresent()) {
                    sender.send(Content.of(history.get()), Map.of("kind", "meta", "name", PulledSnapshot.HISTORY + t.id()), 0);
                }
            }
            for (PushPlan.WalRange r : plan.wal()) {
                WalPieces pieces = WalPieces.listedFor(r.timeline().toString(), listed);
                for (WalPieces.Piece piece : pieces.cut(r.start(), r.end())) {
                    Optional<Manifest.Entry> known = pieces.listed(piece);
                    if (known.isPresent()) { // the same bytes of the same timeline: not read again (GC may have freed them)
                        sender.reuse(known.get(), piece.length());
                        continue;
                    }
                    sender.reserve(piece.length()); // before the read: the pieces waiting for the uploader are bounded
                    byte[] bytes = store.wal().read(r.timeline(), piece.start(), piece.length());
                    if (bytes.length != piece.length()) {
                        sender.unreserve(piece.length());
                        throw new IOException("timeline " + r.timeline() + " has WAL only to " + piece.start().plus(bytes.length)
                                + ", not to " + piece.end());
                    }
                    sender.sendReserved(bytes, Map.of("kind", "wal", "timeline", r.timeline().toString(),
                            "start", piece.start().toString(), "end", piece.end().toString()), bytes.length);
                }
            }
            List<Manifest.Entry> entries = sender.finish();
            times.lap("upload");
            List<String> warnings = new ArrayList<>();
            List<ClusterFacts.DatabaseLocale> databases = databases(snapshot, store, imageDir, plan.redo(), earlier, warnings);
            if (mark.lapsed()) {
                throw new IOException("the push of " + snapshot.fullName() + " could not keep its mark on " + remote.name()
                        + " fresh (the remote did not answer for minutes, or this machine paused): a GC may have taken it for"
                        + " dead meanwhile, so it does not publish; push again");
            }
            progress.checkCancelled(); // the last point: the manifest makes the snapshot visible
            progress.phase("publishing " + snapshot.fullName() + " on " + remote.name());
            SnapshotManifest manifest = new SnapshotManifest(new SnapshotRef(snapshot.pg(), snapshot.name()), snapshot.lsn().value(),
                    plan.steps(), facts.cluster(pgControl, databases), facts.machine(), entries, Optional.empty(),
                    Instant.now(), pusher());
            SnapshotCatalogue.Published published;
            try {
                // every object was seen on the remote by this push (its PUT, a HEAD, or a manifest listing it), and the
                // mark kept GC from deleting any since: no HEAD of each again
                published = new SnapshotCatalogue(objects, settle).publishConfirmed(manifest, force);
            } catch (SnapshotExistsException e) {
                throw new ConflictException(e.getMessage());
            }
            times.lap("publish");
            TransferProgress.Snapshot sent = uploader.progress().snapshot();
            LOG.info(String.format("pushed %s to %s: %d objects, %d bytes sent, %d skipped, in %s", snapshot.fullName(),
                    remote.name(), entries.size(), sent.sentBytes(), sent.skippedBytes(), times));
            return new JsonObject().put("snapshot", snapshot.fullName()).put("remote", remote.name())
                    .put("lsn", snapshot.lsn().toString()).put("version", published.key()).put("objects", entries.size())
                    .put("bytes", sent.totalBytes()).put("bytes_sent", sent.sentBytes()).put("bytes_skipped", sent.skippedBytes())
                    .put("warnings", new JsonArray(warnings));
        } finally {
            FileTrees.delete(imageDir);
        }
    }

    /**
     * The push's mark on the remote ({@link ActivityMarks}: a GC deletes nothing while it is there), written before
     * the first look at what the remote holds; then a wait while a GC of the remote runs. A remote that does not answer
     * is tried again until the job is cancelled, as the uploads are.
     */
    private static ActivityMarks.Mark markAndAwaitNoGc(ObjectStore objects, Remote remote, Progress progress) throws IOException {
        ActivityMarks.Mark mark = null;
        try {
            while (mark == null) {
                try {
                    // on a thread of its own: against a server that accepts but does not answer, one write waits out
                    // the SDK's attempts (minutes), and a cancel must not wait for that
                    mark = CancellableWaits.call(() -> ActivityMarks.begin(objects, ActivityMarks.Kind.PUSH, pusher()),
                            progress, ActivityMarks.Mark::close);
                } catch (ObjectStoreException e) {
                    if (!e.retryable()) {
                        throw new IOException("the push could not write to " + remote.name() + ": " + e.getMessage(), e);
                    }
                    pause(progress);
                }
            }
            ActivityMarks.Mark mine = mark;
            for (boolean said = false; !CancellableWaits.call(() -> ActivityMarks.live(objects, ActivityMarks.Kind.GC, mine),
                    progress, gcs -> { }).isEmpty(); said = true) {
                if (!said) {
                    progress.phase("waiting for a GC of " + remote.name() + " to end");
                }
                pause(progress);
            }
            return mark;
        } catch (IOException | RuntimeException e) {
            if (mark != null) {
                mark.close();
            }
            throw e;
        }
    }

    /**
     * The remote's published snapshots (current versions): the blobs they list are there for good (GC never deletes a
     * listed blob), their WAL pieces say where an earlier push of this history cut it, and their bases may be reused.
     */
    private static List<SnapshotManifest> publishedSnapshots(ObjectStore objects) {
        // the settle time plays no part in reading
        return new SnapshotCatalogue(objects, Duration.ZERO).list().stream().map(SnapshotCatalogue.Published::manifest).toList();
    }

    /** A second's wait that ends early, with {@link JobCancelledException}, when the job is cancelled. */
    private static void pause(Progress progress) throws IOException {
        for (int i = 0; i < 10; i++) {
            progress.checkCancelled();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    /**
     * The databases' locales, asked of the snapshot's pg when it runs on that storage (pg_database as it is now: the
     * collation versions of the snapshot's time but for a REINDEX since); else, for a push reusing an earlier snapshot's
     * base, what that push recorded; else read from pg_database in the image pushed (what it held at the image's LSN,
     * said in {@code warnings} when that is before the snapshot's).
     */
    private List<ClusterFacts.DatabaseLocale> databases(Snapshot snapshot, Store store, Path imageDir, Lsn imageLsn,
                                                        Optional<PushedBase> earlier, List<String> warnings) {
        String why;
        try {
            PgView pg = computes.show(snapshot.pg());
            if (pg.running() && pg.storageName().equals(snapshot.storageName())) {
                return facts.databases(pg.port(), ClusterPasswords.find(store).orElse(null));
            }
            why = "pg " + snapshot.pg() + " is not running";
        } catch (DomainException | IOException e) {
            why = e.getMessage();
        }
        if (earlier.isPresent()) {
            warnings.add("the databases' collations of " + snapshot.fullName() + " are those recorded with "
                    + earlier.get().snapshot() + " (" + why + "): a database created, dropped or refreshed since is"
                    + " recorded as it was then");
            return earlier.get().databases();
        }
        try {
            int file = DatabaseLocales.fileNumber(Files.readAllBytes(imageDir.resolve("global/pg_filenode.map")));
            byte[] heap = Files.readAllBytes(imageDir.resolve("global/" + file));
            List<ClusterFacts.DatabaseLocale> read = DatabaseLocales.parse(heap);
            if (changedSince(store, snapshot, file, heap.length / 8192, imageLsn)) {
                warnings.add("the databases' collations of " + snapshot.fullName() + " are read from its image at " + imageLsn
                        + " (" + why + "), and pg_database changed after it, before " + snapshot.lsn() + ": a database"
                        + " created, dropped or refreshed in between is recorded as it was at the image");
            }
            return read;
        } catch (IOException | RuntimeException e) {
            why = why + "; pg_database of the image at " + imageLsn + " could not be read: " + e.getMessage();
        }
        String warning = "the databases' collations of " + snapshot.fullName() + " were not recorded (" + why + "; start it"
                + " and push again with --force to record them): a pull compares this machine's glibc and ICU versions instead";
        LOG.warning(warning);
        warnings.add(warning);
        return List.of();
    }

    /** Whether the page index has a change of pg_database's blocks (or a new one) between the image and the snapshot. */
    private static boolean changedSince(Store store, Snapshot snapshot, int file, int blocks, Lsn imageLsn) {
        RelTag pgDatabase = RelTag.of(RelFileNode.GLOBAL_TABLESPACE, 0, file, ForkNumber.MAIN);
        for (int block = 0; block <= blocks; block++) {
            if (store.index().changedIn(snapshot.timeline(), pgDatabase, block, imageLsn, snapshot.lsn())) {
                return true;
            }
        }
        return false;
    }

    private static Map<String, String> with(Map<String, String> labels, String key, String value) {
        Map<String, String> out = new java.util.HashMap<>(labels);
        out.put(key, value);
        return out;
    }

    private static byte[] json(JsonObject o) {
        return o.encode().getBytes(StandardCharsets.UTF_8);
    }

    static String pusher() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        return System.getProperty("user.name", "zenith") + "@" + host;
    }

    /** Uploads with at most {@link #IN_FLIGHT} objects held at once, telling the progress of each one done. */
    private static final class Sender {
        private final Uploader uploader;
        private final Progress progress;
        private final Semaphore inFlight = new Semaphore(IN_FLIGHT);
        private final Semaphore memory = new Semaphore(MEMORY_KIB);
        private final List<CompletableFuture<Manifest.Entry>> sent = new ArrayList<>();

        Sender(Uploader uploader, Progress progress) {
            this.uploader = uploader;
            this.progress = progress;
        }

        /** Sends {@code bytes} held in memory, within the memory bound. */
        void sendHeld(byte[] bytes, Map<String, String> labels, long counted) throws IOException {
            reserve(bytes.length);
            sendReserved(bytes, labels, counted);
        }

        /** Waits until {@code length} bytes more may be held in memory (a cancel ends the wait). */
        void reserve(int length) throws IOException {
            try {
                CancellableWaits.acquire(memory, kib(length), progress);
            } catch (JobCancelledException e) {
                abandon();
                throw e;
            }
        }

        void unreserve(int length) {
            memory.release(kib(length));
        }

        /** Sends {@code bytes} {@linkplain #reserve reserved} before; their memory is let go once sent. */
        void sendReserved(byte[] bytes, Map<String, String> labels, long counted) throws IOException {
            try {
                send(Content.of(bytes), labels, counted).whenComplete((e, failure) -> unreserve(bytes.length));
            } catch (IOException | RuntimeException e) {
                unreserve(bytes.length);
                throw e;
            }
        }

        private static int kib(int length) {
            return Math.min(MEMORY_KIB, (length + 1023) >> 10);
        }

        /** Lists an object the remote lists already, as it is: nothing read, asked for or sent. */
        void reuse(Manifest.Entry listed) {
            reuse(listed, 0);
        }

        /** As above, {@code counted} bytes of the push done with it. */
        void reuse(Manifest.Entry listed, long counted) {
            sent.add(CompletableFuture.completedFuture(uploader.reuse(listed)));
            if (counted > 0) {
                progress.advance(counted);
            }
        }

        /** Sends {@code content}; once it is on the remote, {@code counted} bytes of the push are done. */
        CompletableFuture<Manifest.Entry> send(Content content, Map<String, String> labels, long counted) throws IOException {
            try {
                progress.checkCancelled();
            } catch (JobCancelledException e) {
                abandon(); // while the uploader runs: no upload goes on after the job says it was cancelled
                throw e; // what was sent stays unlisted on the remote, as after a killed push
            }
            try {
                CancellableWaits.acquire(inFlight, progress); // uploads retrying against a silent server hold every permit
            } catch (JobCancelledException e) {
                abandon();
                throw e;
            }
            CompletableFuture<Manifest.Entry> f = uploader.upload(content, labels);
            sent.add(f.whenComplete((e, failure) -> {
                inFlight.release();
                if (failure == null && counted > 0) {
                    progress.advance(counted);
                }
            }));
            return f;
        }

        /**
         * Stops the uploads (retries of a silent server too): once the uploader is closed none sends anything; those it
         * never began are cancelled here (their futures would never complete).
         */
        void abandon() {
            uploader.close();
            sent.forEach(f -> f.cancel(false));
        }

        List<Manifest.Entry> finish() throws IOException {
            List<Manifest.Entry> out = new ArrayList<>();
            for (CompletableFuture<Manifest.Entry> f : sent) {
                try {
                    out.add(CancellableWaits.join(f, progress));
                } catch (JobCancelledException e) {
                    abandon();
                    throw e;
                } catch (CompletionException e) {
                    Throwable cause = e.getCause() == null ? e : e.getCause();
                    throw new IOException("push failed: " + cause.getMessage(), cause);
                }
            }
            return out;
        }
    }
}
