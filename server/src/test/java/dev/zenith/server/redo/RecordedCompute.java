package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.server.anchor.AnchorCapture;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real PostgreSQL 15 run as zenith runs computes (data checksums, fsync and full_page_writes
 * off), recorded the way the store will see it: a cleanly stopped image first, then every WAL
 * record as soon as PostgreSQL has flushed it (what a streaming receiver gets), and an anchor
 * captured with {@link AnchorCapture} right after each checkpoint record arrives. Named points
 * ("after CREATE INDEX") are the last record flushed when they are taken.
 */
final class RecordedCompute implements AutoCloseable {
    /** A captured anchor and where its checkpoint record ends. */
    record CapturedAnchor(Anchor anchor, Lsn recordEnd) {
    }

    @FunctionalInterface
    interface Load {
        void run(PgCluster cluster) throws IOException;
    }

    private final PgCluster cluster;
    private final Path image;
    private final Anchor imageAnchor;
    private final WalStreamDecoder decoder;
    private final List<DecodedRecord> records = new ArrayList<>();
    private final List<CapturedAnchor> anchors = new ArrayList<>();
    private final Map<String, Lsn> marks = new LinkedHashMap<>();
    private final Thread watcher;
    private volatile boolean stopping;
    private volatile IOException watchFailure;
    private Lsn fed;
    private int missedAnchors;

    private RecordedCompute(PgCluster cluster, Path image, Anchor imageAnchor) {
        this.cluster = cluster;
        this.image = image;
        this.imageAnchor = imageAnchor;
        this.fed = imageAnchor.redoLsn();
        this.decoder = WalStreamDecoder.builder(fed).timeline(imageAnchor.pgTimeline()).build();
        this.watcher = new Thread(this::watch, "wal-watcher");
    }

    /** initdb, the settings, {@code initialLoad}, a clean stop (the image), a restart with the WAL watched. */
    static RecordedCompute start(Map<String, String> settings, Load initialLoad) throws IOException {
        PgCluster c = PgCluster.initdb();
        try {
            c.configure(settings).start();
            initialLoad.run(c);
            c.stop();
            Path image = c.scratch("image");
            ReferenceDirectory.copyTree(c.dataDir(), image);
            RecordedCompute rc = new RecordedCompute(c, image, AnchorCapture.ofStoppedDirectory(image));
            c.start();
            rc.watcher.start();
            return rc;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    PgCluster cluster() {
        return cluster;
    }

    Path image() {
        return image;
    }

    Anchor imageAnchor() {
        return imageAnchor;
    }

    /** Records from the image's checkpoint on, in order (complete after {@link #finish}). */
    synchronized List<DecodedRecord> records() {
        return List.copyOf(records);
    }

    synchronized List<CapturedAnchor> anchors() {
        return List.copyOf(anchors);
    }

    synchronized int missedAnchors() {
        return missedAnchors;
    }

    Map<String, Lsn> marks() {
        return Map.copyOf(marks);
    }

    /** Names the end of the last record PostgreSQL has flushed, once the watcher has it. */
    Lsn mark(String name) throws IOException {
        Lsn flushed = flushLsn();
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (true) {
            synchronized (this) {
                if (watchFailure != null) {
                    throw watchFailure;
                }
                if (!fed.isBefore(flushed)) {
                    Lsn end = null;
                    for (int i = records.size() - 1; i >= 0 && end == null; i--) {
                        if (!records.get(i).endLsn().isAfter(flushed)) {
                            end = records.get(i).endLsn();
                        }
                    }
                    marks.put(name, end);
                    return end;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the WAL watcher did not reach " + flushed);
            }
            pause(20);
        }
    }

    /** Waits for the watcher to have everything flushed, stops it and the cluster (cleanly). */
    void finish() throws IOException {
        mark("end");
        stopping = true;
        try {
            watcher.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        cluster.stop();
        if (watchFailure != null) {
            throw watchFailure;
        }
    }

    private Lsn flushLsn() throws IOException {
        return Lsn.parse(cluster.psql("SELECT pg_current_wal_flush_lsn()"));
    }

    private void watch() {
        try {
            while (!stopping) {
                Lsn flushed = flushLsn();
                if (flushed.isAfter(fed)) {
                    feed(flushed);
                }
                pause(100);
            }
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                watchFailure = e instanceof IOException io ? io : new IOException(e);
            }
        }
    }

    /** Feeds the bytes up to {@code to} from pg_wal and takes what they complete. */
    private void feed(Lsn to) throws IOException {
        while (fed.isBefore(to)) {
            long segno = WalSegments.segmentNumber(fed.value());
            int offset = WalSegments.segmentOffset(fed.value());
            int n = (int) Math.min(to.minus(fed), WalGeometry.WAL_SEGMENT_SIZE - offset);
            byte[] bytes = new byte[n];
            Path file = cluster.walDir().resolve(WalSegments.fileName(imageAnchor.pgTimeline(), segno));
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                f.seek(offset);
                f.readFully(bytes);
            }
            decoder.feed(bytes, 0, n);
            List<DecodedRecord> got = new ArrayList<>();
            for (DecodeResult r = decoder.poll(); ; r = decoder.poll()) {
                if (r instanceof DecodedRecord rec) {
                    got.add(rec);
                } else if (r instanceof EndOfWal end) {
                    throw new IOException("flushed WAL does not decode: " + end);
                } else {
                    break;
                }
            }
            for (DecodedRecord rec : got) {
                if (MainDataDecoder.decode(rec).orElse(null) instanceof CheckpointRecord c) {
                    captureAnchor(rec, c);
                }
            }
            synchronized (this) {
                records.addAll(got);
                fed = fed.plus(n);
            }
        }
    }

    private void captureAnchor(DecodedRecord rec, CheckpointRecord c) throws IOException {
        var anchor = AnchorCapture.capture(cluster.dataDir(), rec.startLsn(), c.checkpoint(), Duration.ofSeconds(10));
        synchronized (this) {
            if (anchor.isPresent()) {
                anchors.add(new CapturedAnchor(anchor.get(), rec.endLsn()));
            } else {
                missedAnchors++;
            }
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new IOException("interrupted"));
        }
    }

    @Override
    public void close() {
        stopping = true;
        cluster.close();
    }
}
