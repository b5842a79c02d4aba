package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.TimelineStep;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.server.compute.ClusterPasswords;
import dev.zenith.server.jobs.Progress;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalIndex;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A pulled snapshot's verified objects (files named by their SHA-256 in a staging directory) written into a
 * store: the lineage's timelines with their ids (so a later pull of the same history adds only what is new),
 * their PostgreSQL history files, the image (when the store lacks it) and the WAL beyond what the store holds,
 * indexed as the WAL receiver indexes it. Blocking; storage only.
 */
final class PulledSnapshot {
    static final String DIRECTORIES = "directories";
    static final String SNAPSHOT = "snapshot";
    static final String HISTORY = "history/";
    private static final long APPEND_BATCH = 16 << 20;

    private final SnapshotManifest manifest;
    private final Path staging;

    PulledSnapshot(SnapshotManifest manifest, Path staging) {
        this.manifest = manifest;
        this.staging = staging;
    }

    static Path blob(Path staging, Manifest.Entry e) {
        return staging.resolve(e.hash().hex());
    }

    /** The system identifier of the cluster a store holds, if it holds one. */
    static Optional<String> systemIdentifier(Store store) {
        Optional<TimelineId> main = store.documents().get(DocumentStore.MAIN_TIMELINE_KEY)
                .map(b -> TimelineId.parse(new String(b, StandardCharsets.UTF_8)));
        if (main.isEmpty()) {
            return Optional.empty();
        }
        return store.images().latestImageAtOrBefore(main.get(), Lsn.of(Long.MAX_VALUE))
                .map(image -> Long.toUnsignedString(ControlFile.parse(store.images().pgControl(image)).systemIdentifier()));
    }

    /** The commit time the pushing daemon recorded for the snapshot, if any. */
    Optional<String> commitTime() throws IOException {
        Optional<Manifest.Entry> e = meta(SNAPSHOT);
        return e.isEmpty() ? Optional.empty() : Optional.ofNullable(json(e.get()).getString("commit_time"));
    }

    void writeInto(Store store, PhaseTimes times) throws IOException {
        Progress progress = Progress.current();
        progress.phase("adding the snapshot's timelines");
        for (TimelineStep step : manifest.lineage()) {
            TimelineId id = TimelineId.parse(step.timeline());
            if (store.timelines().get(id).isEmpty()) {
                ClusterPasswords.markPulled(store, id); // its role postgres has the pushing daemon's password
            }
            store.timelines().adopt(id, step.parent().map(TimelineId::parse).orElse(null), Lsn.of(step.branchLsn()),
                    step.pgTimeline());
            Optional<Manifest.Entry> history = meta(HISTORY + step.timeline());
            if (history.isPresent() && store.pgTimelines().history(id).isEmpty()) {
                store.pgTimelines().saveHistory(id, Files.readAllBytes(blob(staging, history.get())));
            }
        }
        times.lap("timelines");
        importImage(store, progress, times);
        for (TimelineStep step : manifest.lineage()) {
            appendWal(store, TimelineId.parse(step.timeline()), progress);
        }
        times.lap("WAL");
        TimelineId root = TimelineId.parse(manifest.lineage().get(0).timeline());
        if (store.documents().get(DocumentStore.MAIN_TIMELINE_KEY).isEmpty()) {
            store.documents().put(DocumentStore.MAIN_TIMELINE_KEY, root.toString().getBytes(StandardCharsets.UTF_8));
        }
    }

    private void importImage(Store store, Progress progress, PhaseTimes times) throws IOException {
        List<Manifest.Entry> files = objects("image");
        Manifest.Entry anchor = objects("anchor").get(0);
        TimelineId timeline = TimelineId.parse(anchor.labels().get("timeline"));
        Lsn lsn = Lsn.parse(anchor.labels().get("lsn"));
        Lsn redo = Lsn.parse(anchor.labels().get("redo"));
        if (store.images().of(timeline).stream().anyMatch(m -> m.lsn().equals(lsn))) {
            return; // pulled before
        }
        Path dir = staging.resolve("image");
        FileTrees.delete(dir);
        Files.createDirectories(dir);
        JsonArray directories = json(meta(DIRECTORIES).orElseThrow(() -> new IOException("the snapshot lists no directories")))
                .getJsonArray("directories");
        for (int i = 0; i < directories.size(); i++) {
            Files.createDirectories(inside(dir, directories.getString(i)));
        }
        for (Manifest.Entry f : files) {
            if (ImagePacks.TAR.equals(f.labels().get(ImagePacks.LABEL))) {
                try (java.io.InputStream in = Files.newInputStream(blob(staging, f))) {
                    ImagePacks.unpack(in, dir);
                }
                continue;
            }
            Path target = inside(dir, f.labels().get("path"));
            Files.createDirectories(target.getParent());
            // a link, not a copy: the import only reads it, and staging goes once the snapshot is stored
            Files.createLink(target, blob(staging, f));
        }
        times.lap("staging the image");
        progress.phase("storing the image at " + lsn);
        store.images().importDataDirectory(timeline, dir, lsn, redo, RelationFilter.all(), progress.ofImport());
        FileTrees.delete(dir);
        times.lap("image");
    }

    /** A path of the image, refused when it would leave the directory (a hostile manifest). */
    static Path inside(Path dir, String rel) throws IOException {
        Path p = dir.resolve(rel).normalize();
        if (rel == null || !p.startsWith(dir) || p.equals(dir)) {
            throw new IOException("the snapshot names a file outside its data directory: " + rel);
        }
        return p;
    }

    private void appendWal(Store store, TimelineId timeline, Progress progress) throws IOException {
        List<Manifest.Entry> pieces = manifest.objects().stream()
                .filter(e -> "wal".equals(e.labels().get("kind")) && timeline.toString().equals(e.labels().get("timeline")))
                .sorted(Comparator.comparing(e -> Lsn.parse(e.labels().get("start")))).toList();
        if (pieces.isEmpty()) {
            return;
        }
        progress.phase("storing the WAL of timeline " + timeline);
        WalIndexer indexer = null;
        // Appended in batches of about APPEND_BATCH, one durable commit each (a commit per 1 MiB piece was a third of a
        // pull's time); a crash in between is a pull run again, which continues from what the store holds.
        List<WalAppend> batch = new java.util.ArrayList<>();
        long batched = 0;
        for (Manifest.Entry piece : pieces) {
            Lsn start = Lsn.parse(piece.labels().get("start"));
            Lsn end = Lsn.parse(piece.labels().get("end"));
            Optional<Lsn> stored = store.wal().end(timeline);
            byte[] bytes = Files.readAllBytes(blob(staging, piece));
            if (bytes.length != end.minus(start)) {
                throw new IOException("WAL piece " + piece.key() + " holds " + bytes.length + " bytes, not " + start + ".." + end);
            }
            if (stored.isEmpty()) {
                // A root without WAL: the first piece is indexed from its start, as initdb's segment is.
                store.wal().append(List.of(indexFrom(timeline, start, bytes)));
                continue;
            }
            // What the indexer took already, held-back bytes of a record cut by a piece boundary included.
            Lsn have = indexer != null ? indexer.end() : stored.get();
            if (!end.isAfter(have)) {
                continue; // the store has it
            }
            if (start.isAfter(have)) {
                throw new IOException("the store's WAL of timeline " + timeline + " ends at " + have
                        + ", before the pulled WAL at " + start);
            }
            byte[] fresh = java.util.Arrays.copyOfRange(bytes, (int) have.minus(start), bytes.length);
            if (indexer == null) {
                indexer = WalIndexer.resume(store.wal(), timeline);
            }
            EndOfWal invalid = indexer.feed(fresh);
            if (invalid != null) {
                throw new IOException("pulled WAL of timeline " + timeline + " is invalid at " + invalid.problemAt() + ": "
                        + invalid.message());
            }
            WalAppend a = indexer.drain();
            if (a != null) {
                batch.add(a);
                batched += fresh.length;
                if (batched >= APPEND_BATCH) {
                    store.wal().append(batch);
                    batch = new java.util.ArrayList<>();
                    batched = 0;
                }
            }
        }
        if (!batch.isEmpty()) {
            store.wal().append(batch);
        }
        if (indexer != null && indexer.drained().isBefore(indexer.end())) {
            throw new IOException("the pulled WAL of timeline " + timeline + " ends inside a record at " + indexer.drained());
        }
    }

    private static WalAppend indexFrom(TimelineId timeline, Lsn start, byte[] bytes) {
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(start);
        decoder.feed(bytes, 0, bytes.length);
        WalIndex index = new WalIndex();
        for (DecodeResult r = decoder.poll(); r instanceof DecodedRecord rec; r = decoder.poll()) {
            index.add(rec);
        }
        return index.drainInto(timeline, start, bytes);
    }

    private List<Manifest.Entry> objects(String kind) {
        return manifest.objects().stream().filter(e -> kind.equals(e.labels().get("kind"))).toList();
    }

    private Optional<Manifest.Entry> meta(String name) {
        return objects("meta").stream().filter(e -> name.equals(e.labels().get("name"))).findFirst();
    }

    private JsonObject json(Manifest.Entry e) throws IOException {
        return new JsonObject(Files.readString(blob(staging, e), StandardCharsets.UTF_8));
    }
}
