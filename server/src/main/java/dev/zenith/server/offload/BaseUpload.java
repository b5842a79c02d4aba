package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Lock;

/**
 * Uploads a base: a consistent copy of the store's LMDB environment (its timelines, images, page
 * versions, documents and WAL as of one read transaction), cut into content-addressed pieces (a piece
 * the prefix already holds, as most are when little changed, is not sent again). One manifest then
 * makes it current and drops the previous base and the WAL pieces it covers. Blocking; worker thread.
 */
final class BaseUpload {
    static final int PIECE_BYTES = 16 << 20;
    /** The uploader retries until S3 answers; this only bounds a wait that would outlive any outage. */
    static final long UPLOAD_WAIT_SECONDS = 86_400;

    /** What the new base holds of each timeline's WAL (its end). */
    record Result(String baseId, Map<TimelineId, Lsn> walEnds, long bytes) {
    }

    private BaseUpload() {
    }

    /**
     * {@code keepWal}: a bounded cache evicts WAL and reads it back from the WAL pieces, so they stay listed
     * beside the base (only pieces below a timeline's start, freed by GC, are dropped); otherwise the pieces
     * the base holds are dropped.
     */
    static Result run(Store store, RemoteHome home, Path scratch, boolean keepWal, Lock eviction) throws IOException {
        // on the home's background thread (a lower CPU priority): the commits' threads go first while it copies and hashes
        try {
            return home.background.submit(() -> runHere(store, home, scratch, keepWal, eviction)).get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while a base was uploaded", e);
        }
    }

    private static Result runHere(Store store, RemoteHome home, Path scratch, boolean keepWal, Lock eviction) throws IOException {
        Path dir = Files.createTempDirectory(scratch, "base-");
        try {
            Set<String> segmentsBefore = segmentHashes(home.manifests.view());
            store.copyTo(dir);
            Map<TimelineId, Lsn> ends = new HashMap<>();
            Map<TimelineId, Lsn> starts = new HashMap<>();
            Set<String> inBase = new HashSet<>();
            walRanges(dir, starts, ends, inBase);
            Path data = dir.resolve("data.mdb");
            long size = Files.size(data);
            String baseId = Long.toString(System.currentTimeMillis(), 36) + "-" + Long.toHexString(home.lease.generation());
            BaseHold.whileHeld(baseId);
            // one piece at a time: two equal pieces (free pages) would otherwise race for one key
            List<Manifest.Entry> added = new ArrayList<>();
            int part = 0;
            for (long off = 0; off < size; off += PIECE_BYTES, part++) {
                long len = Math.min(PIECE_BYTES, size - off);
                added.add(Await.result(home.uploader.uploadInBackground(Content.ofFile(data, off, len),
                        RemoteNames.basePart(baseId, part)), UPLOAD_WAIT_SECONDS));
            }
            // segments: the eviction thread lists one before it writes the pointers to it, so it holds off meanwhile
            eviction.lock();
            try {
                Set<String> live = segmentsBefore.isEmpty() ? Set.of() : store.coldValues().referencedSegments();
                ManifestView view = home.manifests.view();
                Set<String> removed = removedEntries(view, starts, ends, keepWal);
                for (Manifest.Entry e : view.entries()) {
                    String hex = e.hash().hex();
                    // listed before the copy and named by no pointer of it nor of the store now: nothing reads it
                    if (RemoteNames.isSegment(e) && segmentsBefore.contains(hex) && !inBase.contains(hex) && !live.contains(hex)) {
                        removed.add(e.key());
                    }
                }
                Map<String, String> properties = new HashMap<>();
                properties.put(RemoteNames.CURRENT_BASE, baseId);
                home.manifests.append(added, List.copyOf(removed), properties);
            } finally {
                eviction.unlock();
            }
            return new Result(baseId, ends, size);
        } finally {
            FileTrees.delete(dir);
        }
    }

    private static Set<String> segmentHashes(ManifestView view) {
        Set<String> out = new HashSet<>();
        for (Manifest.Entry e : view.entries()) {
            if (RemoteNames.isSegment(e)) {
                out.add(e.hash().hex());
            }
        }
        return out;
    }

    /** The earlier bases' pieces and the WAL pieces the new base makes needless. */
    private static Set<String> removedEntries(ManifestView view, Map<TimelineId, Lsn> starts, Map<TimelineId, Lsn> ends,
                                              boolean keepWal) {
        Set<String> removed = new LinkedHashSet<>();
        for (Manifest.Entry e : view.entries()) {
            if (RemoteNames.isBase(e)) {
                removed.add(e.key());
            } else if (RemoteNames.isWal(e)) {
                TimelineId tl = TimelineId.parse(e.labels().get(RemoteNames.TIMELINE));
                Lsn covered = ends.get(tl);
                Lsn start = starts.get(tl);
                if (start != null && !RemoteNames.end(e).isAfter(start)) {
                    removed.add(e.key()); // below what the timeline keeps: GC freed it
                } else if (!keepWal && covered != null && !RemoteNames.end(e).isAfter(covered)) {
                    removed.add(e.key()); // the base holds it
                }
            }
        }
        return removed;
    }

    /** Each timeline's own WAL start and end in the copy, and the segments its pointers name, read by opening it as a store. */
    private static void walRanges(Path copy, Map<TimelineId, Lsn> starts, Map<TimelineId, Lsn> ends, Set<String> segments) {
        try (Store s = Store.open(copy)) {
            segments.addAll(s.coldValues().referencedSegments());
            for (Timeline t : s.timelines().all()) {
                s.wal().end(t.id()).ifPresent(end -> ends.put(t.id(), end));
                // a branch's own start too: GC raises it past WAL pieces of its own no read asks for any more
                s.wal().ownStart(t.id()).ifPresent(start -> starts.put(t.id(), start));
            }
        }
    }
}
