package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.catalogue.Compatibility;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.SnapshotRef;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.transfer.Downloader;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.jobs.CancellableWaits;
import dev.zenith.server.jobs.JobCancelledException;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.jobs.Progress;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.logging.Logger;

/**
 * {@code snapshot pull PG@SNAP --from REMOTE [-s STORAGE]}: the snapshot's objects downloaded (without the
 * management lock) into {@code ZENITH_HOME/pulls/<content id>}, each verified on arrival and kept under its
 * SHA-256, so a pull that was interrupted fetches only what it lacks; then, under the lock, written into the
 * storage ({@link PulledSnapshot}; made under ZENITH_HOME when missing) and named {@code PG@SNAP} there.
 */
final class SnapshotPull {
    private static final Logger LOG = Logger.getLogger(SnapshotPull.class.getName());
    /** Objects asked for at once: most are small, and each costs a round trip or two. */
    private static final int IN_FLIGHT = 16;
    /** 12 downloads at once, each at most two 5 MiB ranges ahead: at most 120 MiB of buffers, mostly far less. */
    static final TransferSettings TRANSFERS = TransferSettings.defaults().withParallelism(12, TransferSettings.MIN_PART, 8);

    private final RemoteRegistry remotes;
    private final ComputeManager computes;
    private final StorageRegistry storages;
    private final Management management;
    private final Path home;
    private final LocalFacts facts;
    private final Duration settle;

    SnapshotPull(RemoteRegistry remotes, ComputeManager computes, StorageRegistry storages, Management management, Path home,
                 LocalFacts facts, Duration settle) {
        this.remotes = remotes;
        this.computes = computes;
        this.storages = storages;
        this.management = management;
        this.home = home;
        this.facts = facts;
        this.settle = settle;
    }

    /** Runs under the management lock (a job); lets go of it while it downloads. */
    JsonObject pull(String remoteName, SnapshotRef ref, String storageName) throws IOException {
        Remote remote = remotes.get(remoteName);
        String fullName = ref.toString();
        Progress progress = Progress.current();
        progress.allowCancel(); // until it writes into the storage, a pull has only downloaded into its staging directory
        progress.phase("reading " + fullName + " on " + remote.name());
        PhaseTimes times = new PhaseTimes();
        try (ObjectStore objects = RemoteStores.open(remote);
             Downloader downloader = new Downloader(objects, TRANSFERS)) {
            SnapshotManifest manifest = new SnapshotCatalogue(objects, settle).get(ref).map(SnapshotCatalogue.Published::manifest)
                    .orElseThrow(() -> new NotFoundException("remote '" + remote.name() + "' has no snapshot " + fullName
                            + "; see zenith snapshot list --remote " + remote.name()));
            Optional<Snapshot> here = computes.snapshots().list().stream().filter(s -> s.fullName().equals(fullName)).findFirst();
            if (here.isPresent()) {
                if (here.get().timeline().toString().equals(manifest.timeline()) && here.get().lsn().value() == manifest.lsn()) {
                    return answer(manifest, remote, here.get().storageName(), List.of()).put("status", "already here");
                }
                throw new ConflictException("snapshot " + fullName + " exists here with other contents (storage "
                        + here.get().storageName() + ", LSN " + here.get().lsn() + "); destroy it first: zenith snapshot destroy " + fullName);
            }
            List<String> warnings = check(manifest, storageName);
            times.lap("manifest");
            Path staging = home.resolve("pulls").resolve(manifest.contentId());
            try {
                management.unlocked(() -> download(downloader, manifest, staging, progress));
                progress.checkCancelled(); // the last point: what follows writes into the storage
                times.lap("download");
            } catch (JobCancelledException e) {
                FileTrees.delete(staging); // a cancelled pull keeps nothing (a killed one keeps what it got, to resume)
                throw e;
            }
            check(manifest, storageName); // the storage may have changed meanwhile
            StorageRegistry.Storage storage = storages.find(storageName).orElse(null);
            if (storage == null) {
                progress.phase("creating storage " + storageName);
                storage = computes.attachStorage(storageName, "native",
                        home.resolve("storages").resolve(storageName).toString(), StorageRegistry.DEFAULT_PITR);
            }
            times.lap("storage");
            PulledSnapshot pulled = new PulledSnapshot(manifest, staging);
            pulled.writeInto(storage.store(), times);
            Instant commitTime = pulled.commitTime().map(Instant::parse).orElse(null);
            computes.snapshots().create(fullName, false, storage.name(), new HistoryPoint(TimelineId.parse(manifest.timeline()),
                    Lsn.of(manifest.lsn()), fullName, null, commitTime));
            times.lap("naming the snapshot");
            FileTrees.delete(staging);
            LOG.info("pulled " + fullName + " from " + remote.name() + " into storage " + storage.name() + " in " + times
                    + (warnings.isEmpty() ? "" : "; " + String.join("; ", warnings)));
            return answer(manifest, remote, storage.name(), warnings).put("status", "pulled")
                    .put("bytes_received", downloader.progress().snapshot().sentBytes());
        }
    }

    /** Refusals are a conflict naming each; warnings are answered. */
    private List<String> check(SnapshotManifest manifest, String storageName) {
        Optional<String> systemId = storages.find(storageName).flatMap(s -> PulledSnapshot.systemIdentifier(s.store()));
        List<Compatibility.Finding> findings = Compatibility.check(manifest, facts.machine(), 8192, systemId);
        List<String> refusals = findings.stream().filter(f -> f.severity() == Compatibility.Severity.REFUSE)
                .map(Compatibility.Finding::message).toList();
        if (!refusals.isEmpty()) {
            throw new ConflictException(String.join("; ", refusals));
        }
        return findings.stream().map(Compatibility.Finding::message).toList();
    }

    private static Void download(Downloader downloader, SnapshotManifest manifest, Path staging, Progress progress)
            throws IOException {
        Files.createDirectories(staging);
        List<Manifest.Entry> missing = new ArrayList<>();
        long total = 0;
        Set<ContentHash> seen = new HashSet<>();
        for (Manifest.Entry e : manifest.objects()) {
            if (seen.add(e.hash()) && !intact(PulledSnapshot.blob(staging, e), e.hash())) {
                missing.add(e);
                total += e.contentLength();
            }
        }
        progress.phase("pulling " + manifest.ref() + " (" + missing.size() + " objects)", total);
        Semaphore inFlight = new Semaphore(IN_FLIGHT);
        List<CompletableFuture<Path>> pending = new ArrayList<>();
        for (Manifest.Entry e : missing) {
            try {
                progress.checkCancelled();
                CancellableWaits.acquire(inFlight, progress); // downloads retrying against a silent server hold every permit
            } catch (JobCancelledException x) {
                abandon(downloader, pending);
                throw x;
            }
            // not synced: staging is re-verified by the next attempt (intact), and the store syncs what it takes
            pending.add(downloader.downloadTo(e.key(), e.hash(), e.contentLength(), PulledSnapshot.blob(staging, e), false)
                    .whenComplete((p, failure) -> {
                        inFlight.release();
                        if (failure == null) {
                            progress.advance(e.contentLength());
                        }
                    }));
        }
        for (CompletableFuture<Path> f : pending) {
            try {
                CancellableWaits.join(f, progress);
            } catch (JobCancelledException x) {
                abandon(downloader, pending);
                throw x;
            } catch (CompletionException x) {
                Throwable cause = x.getCause() == null ? x : x.getCause();
                throw new IOException("pull failed: " + cause.getMessage(), cause);
            }
        }
        return null;
    }

    /**
     * Stops the downloads (retries of a silent server too): once the downloader is closed none writes into staging;
     * those it never began are cancelled here (their futures would never complete).
     */
    private static void abandon(Downloader downloader, List<CompletableFuture<Path>> pending) {
        downloader.close();
        pending.forEach(f -> f.cancel(false));
    }

    /**
     * Whether an earlier attempt left {@code blob} with the content it is named by. The downloader renamed it
     * only once verified, but did not sync it: after a crash it may be empty or torn, so it is hashed again.
     */
    private static boolean intact(Path blob, ContentHash hash) throws IOException {
        if (!Files.exists(blob)) {
            return false;
        }
        MessageDigest digest = ContentHash.newDigest();
        try (InputStream in = Files.newInputStream(blob)) {
            byte[] buf = new byte[1 << 16];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                digest.update(buf, 0, n);
            }
        }
        return ContentHash.of(digest.digest()).equals(hash);
    }

    private static JsonObject answer(SnapshotManifest m, Remote remote, String storage, List<String> warnings) {
        return new JsonObject().put("snapshot", m.ref().toString()).put("remote", remote.name()).put("storage_name", storage)
                .put("lsn", Lsn.of(m.lsn()).toString()).put("timeline_id", m.timeline()).put("warnings", new JsonArray(warnings));
    }
}
