package dev.zenith.server.compute;

import dev.zenith.server.jobs.Progress;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImportStats;
import dev.zenith.storage.image.RelationFilter;
import dev.zenith.storage.image.StreamedPages;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalIndex;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Makes a cleanly stopped data directory the history of an empty storage: the directory becomes the base
 * image, and the WAL segment holding its shutdown checkpoint the start of the main timeline's WAL. initdb's
 * cluster comes in this way, and so does every imported one ({@code snapshot import}). Blocking.
 */
public final class BaseImage {
    private static final Logger LOG = Logger.getLogger(BaseImage.class.getName());

    /** WAL takes at most this many times its bytes in LMDB with its index (the receiver's estimate too). */
    private static final int STORED_PER_WAL_BYTE = 2;
    /** How long the WAL waits for room under a cache bound (eviction to S3) before the cluster is refused. */
    private static final Duration ROOM_WAIT = Duration.ofMinutes(2);

    private BaseImage() {
    }

    /** The storage's main timeline, when it holds a cluster. */
    public static Optional<TimelineId> mainTimeline(Store store) {
        return ComputeDirectories.mainTimeline(store);
    }

    /**
     * Stores {@code pgdata} (cleanly shut down, its checkpoint's segment in pg_wal) as the storage's first
     * image and main timeline; {@code origin} names where it came from in the log. Returns the main timeline.
     */
    public static TimelineId store(Store store, Path pgdata, String origin) throws IOException {
        return store(store, pgdata, origin, null);
    }

    /**
     * As above, keeping the pages {@code streamed} (may be null) stored while the directory arrived for forks
     * whose files are unchanged since; the main timeline then takes the streamed pages' timeline id.
     */
    public static TimelineId store(Store store, Path pgdata, String origin, StreamedPages streamed) throws IOException {
        long started = System.nanoTime();
        ControlFile control = ControlFile.parse(Files.readAllBytes(pgdata.resolve("global/pg_control")));
        if (control.state() != DbState.SHUTDOWNED) {
            throw new IOException("the " + origin + " cluster was not shut down cleanly (pg_control says '"
                    + control.state() + "')");
        }
        Lsn checkpoint = control.checkPoint();
        Lsn redo = control.checkPointCopy().redo();
        int pgTimeline = control.checkPointCopy().thisTimeLineId();

        Lsn segmentStart = Lsn.of(WalSegments.segmentStart(WalSegments.segmentNumber(checkpoint)));
        Path segment = pgdata.resolve("pg_wal").resolve(WalSegments.fileName(pgTimeline, checkpoint));
        byte[] bytes = Files.readAllBytes(segment);
        // A segment may begin with the tail of a record from the one before: the decoder skips it.
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(segmentStart);
        decoder.feed(bytes, 0, bytes.length);
        WalIndex index = new WalIndex();
        boolean sawCheckpoint = false;
        for (DecodeResult r = decoder.poll(); r instanceof DecodedRecord rec; r = decoder.poll()) {
            index.add(rec);
            sawCheckpoint |= rec.startLsn().equals(checkpoint);
        }
        if (!sawCheckpoint) {
            throw new IOException("the " + origin + " cluster's WAL does not contain its checkpoint at " + checkpoint);
        }
        Lsn walEnd = index.lastRecordEnd();
        Timeline timeline = streamed == null ? store.timelines().create(null, Lsn.INVALID, pgTimeline)
                : store.timelines().adopt(streamed.timeline(), null, Lsn.INVALID, pgTimeline);
        byte[] wal = Arrays.copyOf(bytes, (int) walEnd.minus(segmentStart));
        // under an s3 storage's cache bound this WAL (initdb's: 7.6 MB) asks for room as the receiver's batches do
        try (CacheRoom.Grant room = store.cacheRoom().awaitRoom(STORED_PER_WAL_BYTE * wal.length, ROOM_WAIT,
                "the WAL of the " + origin + " cluster")) {
            store.wal().append(List.of(index.drainInto(timeline.id(), segmentStart, wal)));
        }
        long walStored = System.nanoTime();
        Progress.current().phase("storing the new cluster as the storage's first image");
        ImportStats stats = store.images().importDataDirectory(timeline.id(), pgdata, checkpoint, redo, RelationFilter.all(),
                Progress.current().ofImport(), streamed);
        // Written last: a crash before this leaves an unused timeline, never a half-made main one.
        store.documents().put(DocumentStore.MAIN_TIMELINE_KEY, timeline.id().toString().getBytes(StandardCharsets.UTF_8));
        LOG.info(String.format("base image from %s: checkpoint %s, its WAL (%d bytes) stored in %.3f s, the image in %.3f s: %s",
                origin, checkpoint, wal.length, (walStored - started) / 1e9, (System.nanoTime() - walStored) / 1e9, stats));
        return timeline.id();
    }
}
