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
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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

    /** The first piece of the checkpoint's segment read (a shutdown checkpoint's WAL is most often far less). */
    private static final int FIRST_READ_BYTES = 1 << 20;
    /** WAL takes at most this many times its bytes in LMDB with its index (the receiver's estimate too). */
    private static final int STORED_PER_WAL_BYTE = 2;
    /** How long the WAL waits for room under a cache bound (eviction to S3) before the cluster is refused. */
    private static final Duration ROOM_WAIT = Duration.ofMinutes(2);

    private BaseImage() {
    }

    /**
     * Reads the segment starting at {@code segmentStart} in pieces, each record decoded given to {@code each}, until
     * its WAL ends (the rest of a segment PostgreSQL has just begun is zeros or recycled WAL: not read); returns the
     * bytes read, from the segment's start. A segment may begin with the tail of a record from the one before: the
     * decoder skips it.
     */
    private static byte[] readUntilEnd(Path segment, Lsn segmentStart, java.util.function.Consumer<DecodedRecord> each)
            throws IOException {
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(segmentStart);
        byte[] bytes = new byte[FIRST_READ_BYTES];
        int filled = 0;
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.READ)) {
            long size = ch.size();
            while (filled < size) {
                if (filled == bytes.length) {
                    bytes = Arrays.copyOf(bytes, (int) Math.min(size, 2L * bytes.length));
                }
                int n = ch.read(ByteBuffer.wrap(bytes, filled, bytes.length - filled), filled);
                if (n < 0) {
                    break;
                }
                decoder.feed(bytes, filled, n);
                filled += n;
                DecodeResult r = decoder.poll();
                for (; r instanceof DecodedRecord rec; r = decoder.poll()) {
                    each.accept(rec);
                }
                if (r instanceof EndOfWal) {
                    break;
                }
            }
        }
        return bytes;
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
        WalIndex index = new WalIndex();
        boolean[] sawCheckpoint = {false};
        byte[] bytes = readUntilEnd(segment, segmentStart, rec -> {
            index.add(rec);
            sawCheckpoint[0] |= rec.startLsn().equals(checkpoint);
        });
        if (!sawCheckpoint[0]) {
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
