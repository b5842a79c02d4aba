package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.lmdb.Keys;
import dev.zenith.storage.lmdb.Table;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.timeline.Lineage;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.wal.Lsn;
import org.lmdbjava.GetOp;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * Images: data directories taken at a checkpoint (a manifest per timeline and checkpoint, file contents
 * as blobs, relation pages as page versions), and the data directories written back from them.
 * Blocking and thread-safe; an import commits pages in batches and its manifest last.
 */
public final class ImageStore {
    private final Tables tables;
    private final Table images;
    private final TimelineStore timelines;
    /** Held (shared) by imports, (exclusive) by the blob sweep of garbage collection. */
    private final ReentrantReadWriteLock imports = new ReentrantReadWriteLock();

    public ImageStore(Tables tables, TimelineStore timelines) {
        this.tables = tables;
        this.images = tables.images();
        this.timelines = timelines;
    }

    /**
     * Runs {@code sweep} while no import runs: an import writes its blobs before the manifest that refers
     * to them, so a blob no manifest names yet may be one an import is about to name.
     */
    public <T> T withoutImports(Supplier<T> sweep) {
        imports.writeLock().lock();
        try {
            return sweep.get();
        } finally {
            imports.writeLock().unlock();
        }
    }

    /**
     * Takes an image of a cleanly stopped data directory at checkpoint {@code checkpointLsn}
     * (whose redo point is {@code redoLsn}). Relations the filter rejects and whose file length is
     * unchanged keep their pages and sizes from the previous image (the latest at or before the
     * checkpoint, ancestors included).
     */
    public ImportStats importDataDirectory(TimelineId id, Path dataDir, Lsn checkpointLsn, Lsn redoLsn,
                                           RelationFilter filter) throws IOException {
        return importDataDirectory(id, dataDir, checkpointLsn, redoLsn, filter, ImportProgress.NONE);
    }

    /** As above, telling {@code progress} the bytes of relation files to read and each batch read. */
    public ImportStats importDataDirectory(TimelineId id, Path dataDir, Lsn checkpointLsn, Lsn redoLsn,
                                           RelationFilter filter, ImportProgress progress) throws IOException {
        return importDataDirectory(id, dataDir, checkpointLsn, redoLsn, filter, progress, null);
    }

    /**
     * Pages stored as an archive of a data directory arrives, for a later {@link #importDataDirectory} of that
     * directory to keep; into a store nothing else uses yet (a new storage being filled). Close it after.
     */
    public StreamedPages streamPages() {
        return new StreamedPages(tables);
    }

    /**
     * As above, keeping the pages {@code streamed} (may be null) stored of each fork whose files are unchanged
     * since; {@code id} is then the streamed pages' timeline.
     */
    public ImportStats importDataDirectory(TimelineId id, Path dataDir, Lsn checkpointLsn, Lsn redoLsn,
                                           RelationFilter filter, ImportProgress progress, StreamedPages streamed)
            throws IOException {
        if (streamed != null && !streamed.timeline().equals(id)) {
            throw new IllegalArgumentException("pages streamed under " + streamed.timeline() + ", not " + id);
        }
        Lineage lineage;
        ImageManifest previous;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            lineage = timelines.lineage(txn, id, checkpointLsn);
            previous = latestImage(txn, lineage).orElse(null);
        }
        imports.readLock().lock();
        try {
            return new DataDirectoryImporter(tables, id, lineage, previous, checkpointLsn, redoLsn, filter, streamed)
                    .run(dataDir, progress);
        } finally {
            imports.readLock().unlock();
        }
    }

    /** The timeline's own images, oldest first. */
    public List<ImageManifest> of(TimelineId id) {
        List<ImageManifest> out = new ArrayList<>();
        try (ReadTxn read = tables.read(); TableCursor c = images.openCursor(read.txn())) {
            byte[] prefix = Keys.timeline(id);
            for (boolean ok = c.get(prefix, GetOp.MDB_SET_RANGE); ok && Keys.hasPrefix(c.key(), prefix); ok = c.next()) {
                out.add(ManifestCodec.decode(c.val()));
            }
        }
        return out;
    }

    /** The newest image at or below {@code lsn} on the timeline or, below its branch point, its ancestors. */
    public Optional<ImageManifest> latestImageAtOrBefore(TimelineId id, Lsn lsn) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return latestImage(txn, timelines.lineage(txn, id, lsn));
        }
    }

    /**
     * The image a compute at {@code point} starts from: the newest whose checkpoint record lies wholly
     * before the point. An image is keyed by its checkpoint record's start, and a point that is exactly
     * that start does not contain the record, so that image is too new for it.
     */
    public Optional<ImageManifest> imageFor(TimelineId id, Lsn point) {
        return point.isValid() ? latestImageAtOrBefore(id, point.plus(-1)) : Optional.empty();
    }

    private Optional<ImageManifest> latestImage(Txn<byte[]> txn, Lineage lineage) {
        return latestImageEntry(txn, lineage).map(hit -> ManifestCodec.decode(hit[1]));
    }

    /** The key and value of the newest image on the lineage, the manifest still encoded. */
    private Optional<byte[][]> latestImageEntry(Txn<byte[]> txn, Lineage lineage) {
        try (TableCursor c = images.openCursor(txn)) {
            for (Lineage.Step step : lineage.steps()) {
                byte[][] hit = c.floor(Keys.timelineLsn(step.timeline(), step.upTo()), Keys.TL);
                if (hit != null) {
                    return Optional.of(hit);
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The checkpoint LSN of the image {@link #latestImageAtOrBefore} would return, without decoding its
     * manifest (a few hundred microseconds for a cluster's thousands of relation forks): for callers
     * that keep manifests they decoded before.
     */
    public Optional<Lsn> latestImageLsnAtOrBefore(TimelineId id, Lsn lsn) {
        // once per GetPage that is not in a known image window: a reused read transaction
        return tables.reading(txn -> latestImageEntry(txn, timelines.lineage(txn, id, lsn)).map(hit -> Keys.lsnAt(hit[0], Keys.TL)));
    }

    /**
     * Writes the data directory of {@code image} into {@code target} (missing or empty). WAL is
     * not included: add it with {@link PgWalWriter#writeSegments}.
     */
    public MaterializeStats materialize(ImageManifest image, Path target) throws IOException {
        return materialize(image, target, bytes -> { });
    }

    /** As {@link #materialize(ImageManifest, Path)}, telling {@code bytesWritten} of the pages as they are written. */
    public MaterializeStats materialize(ImageManifest image, Path target, LongConsumer bytesWritten)
            throws IOException {
        Lineage lineage;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            lineage = timelines.lineage(txn, image.timeline(), image.lsn());
        }
        return new DataDirectoryMaterializer(tables).run(image, lineage, target, bytesWritten);
    }

    /**
     * Writes {@code d}, a data directory of timeline {@code id} built from page versions (its lineage at
     * {@code d.versionsAt()}), into {@code target} (missing or empty). WAL is not included.
     */
    public MaterializeStats materialize(TimelineId id, VersionedDirectory d, Path target, LongConsumer bytesWritten)
            throws IOException {
        Lineage lineage;
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            lineage = timelines.lineage(txn, id, d.versionsAt());
        }
        return new DataDirectoryMaterializer(tables).run(d, lineage, target, bytesWritten);
    }

    /** Materializes the image of timeline {@code id} (or an ancestor) taken at exactly {@code imageLsn}. */
    public MaterializeStats materialize(TimelineId id, Lsn imageLsn, Path target) throws IOException {
        ImageManifest image = latestImageAtOrBefore(id, imageLsn).filter(m -> m.lsn().equals(imageLsn))
                .orElseThrow(() -> new StoreException("timeline " + id + " has no image at " + imageLsn));
        return materialize(image, target);
    }

    /** global/pg_control of an image, exactly as PostgreSQL wrote it at the image's checkpoint. */
    public byte[] pgControl(ImageManifest image) {
        return imageFileContent(image, DataDirectoryLayout.PG_CONTROL, image.pgControlSha256());
    }

    /** A non-relation file of an image (for example {@code PG_VERSION} or {@code pg_xact/0000}). */
    public Optional<byte[]> imageFile(ImageManifest image, String path) {
        return image.files().stream().filter(f -> f.path().equals(path)).findFirst()
                .map(f -> imageFileContent(image, path, f.sha256()));
    }

    private byte[] imageFileContent(ImageManifest image, String path, String sha256) {
        try (ReadTxn read = tables.read()) {
            Txn<byte[]> txn = read.txn();
            return DataDirectoryMaterializer.fileContent(tables, txn, image, path, sha256);
        }
    }

    /**
     * The oldest LSN a compute can start at on this timeline: its lineage's oldest image, or where garbage
     * collection on pages left every later point readable ({@link #raiseHorizon}) when that is later (on an
     * ancestor, capped at the branch point the lineage leaves it by).
     */
    public Optional<Lsn> retentionHorizon(TimelineId id) {
        Optional<Lsn> oldest = Optional.empty();
        Lsn raised = null;
        // Image keys only: a page service asks this often, and manifests are big.
        try (ReadTxn read = tables.read(); TableCursor c = images.openCursor(read.txn())) {
            Txn<byte[]> txn = read.txn();
            Lsn upTo = null; // the branch point by which the lineage leaves t (none for id itself)
            for (TimelineId t = id; t != null; ) {
                byte[] prefix = Keys.timeline(t);
                if (c.get(prefix, GetOp.MDB_SET_RANGE) && Keys.hasPrefix(c.key(), prefix)) {
                    oldest = Optional.of(Keys.lsnAt(c.key(), Keys.TL));
                }
                byte[] h = tables.meta().get(txn, horizonKey(t));
                if (h != null) {
                    Lsn at = Lsn.of(java.nio.ByteBuffer.wrap(h).getLong());
                    at = upTo == null ? at : Lsn.min(at, upTo);
                    raised = raised == null ? at : Lsn.max(raised, at);
                }
                Timeline timeline = timelines.find(txn, t);
                upTo = timeline == null ? null : timeline.branchLsn();
                t = timeline == null ? null : timeline.parent();
            }
        }
        if (raised != null && (oldest.isEmpty() || raised.isAfter(oldest.get()))) {
            return Optional.of(raised);
        }
        return oldest;
    }

    /**
     * Records that every point of timeline {@code id} from the end of the checkpoint record at {@code horizon} on
     * stays readable, and nothing own before it needs to (garbage collection on pages freed older bases' WAL).
     */
    public void raiseHorizon(Txn<byte[]> txn, TimelineId id, Lsn horizon) {
        tables.meta().put(txn, horizonKey(id), java.nio.ByteBuffer.allocate(8).putLong(horizon.value()).array());
    }

    /** A document key KIND/TIMELINE: deleted with the timeline ({@code DocumentStore.deleteOf}). */
    private static byte[] horizonKey(TimelineId id) {
        return ("retention_horizon/" + id).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
