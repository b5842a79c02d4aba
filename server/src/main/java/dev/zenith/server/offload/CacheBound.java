package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.storage.lmdb.CacheRoom;
import dev.zenith.storage.Store;
import dev.zenith.storage.lmdb.ColdValues;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Keeps an s3 storage's local store within its cache bound: while LMDB's used bytes are above where eviction
 * starts ({@link CacheRoom#evictionWanted}, below the bound: what grows the store waits for room above that), the WAL
 * S3 holds as WAL pieces (from where the local WAL starts, never beyond {@code remote_lsn}) is evicted; reads
 * of it go to {@link RemoteWalReader}. WAL S3 holds only inside a base (what came before a timeline's first
 * base) is first uploaded as pieces too, so the pieces cover it without a gap. WAL S3 does not hold is never
 * evicted. Then, while still above, the least recently read page versions and file contents are packed into
 * segments, uploaded (content-addressed) and listed, and only then replaced by pointers ({@code ColdValues});
 * reads of them go to {@link RemoteSegments}. Blocking; the offload's eviction thread.
 */
final class CacheBound {
    private static final Logger LOG = Logger.getLogger(CacheBound.class.getName());
    /** Size of one segment of evicted values: what one read back of a cold page downloads. */
    static final int SEGMENT_BYTES = 4 << 20;
    /** At most this much is packed per pass (the packing holds it in memory). */
    private static final long PASS_BYTES = 64L << 20;

    private CacheBound() {
    }

    /** Returns the WAL bytes evicted. */
    static long evictIfAbove(Store store, RemoteHome home, Map<TimelineId, Lsn> remoteEnds, CacheRoom room, int pieceBytes) {
        if (!room.evictionWanted()) {
            return 0;
        }
        long freed = 0;
        for (Map.Entry<TimelineId, Lsn> r : remoteEnds.entrySet()) {
            TimelineId id = r.getKey();
            Lsn local = store.wal().localStart(id).orElse(null);
            if (local == null) {
                continue;
            }
            Lsn limit = Lsn.min(coveredFrom(store, home, id, local, r.getValue(), pieceBytes), r.getValue());
            if (limit.isAfter(local)) {
                freed += room.freeing(() -> store.wal().evictBelow(id, limit));
            }
        }
        if (freed > 0) {
            LOG.fine("evicted " + freed + " bytes of WAL S3 holds from " + store.directory());
        }
        return freed;
    }

    /**
     * Evicts the least recently read page versions and file contents while LMDB's used bytes are above the
     * bound's eviction threshold, until they are at {@link CacheRoom#evictionTarget} of it or nothing is left to evict. Each segment is in S3 and listed
     * by a manifest before any value it holds is replaced by a pointer. Returns the stored bytes freed.
     */
    static long evictValuesIfAbove(Store store, RemoteHome home, CacheRoom room) {
        long freed = 0;
        for (int pass = 0; pass < 64; pass++) {
            room.changed();
            if (pass == 0 && !room.evictionWanted()) {
                return 0;
            }
            long want = room.usedBytes() - room.evictionTarget();
            if (want <= 0) {
                break;
            }
            // stored bytes free somewhat fewer LMDB pages (partly filled leaves): pack a little more than wanted
            List<ColdValues.Segment> segments = store.coldValues().coldest(Math.min(PASS_BYTES, want + want / 4),
                    SEGMENT_BYTES);
            if (segments.isEmpty()) {
                break;
            }
            List<Manifest.Entry> listed = new ArrayList<>();
            for (ColdValues.Segment s : segments) {
                listed.add(Await.result(home.uploader.upload(Content.of(s.bytes()), RemoteNames.segment()),
                        BaseUpload.UPLOAD_WAIT_SECONDS));
            }
            home.manifests.append(listed, List.of(), Map.of());
            for (int i = 0; i < segments.size(); i++) {
                ColdValues.Segment segment = segments.get(i);
                byte[] hash = listed.get(i).hash().bytes();
                freed += room.freeing(() -> store.coldValues().evict(segment, hash));
            }
        }
        if (freed > 0) {
            LOG.fine("evicted " + freed + " bytes of page versions and file contents from " + store.directory());
        }
        return freed;
    }

    /**
     * How far the prefix's WAL pieces reach from {@code local} without a gap (up to {@code remote}); a gap
     * (WAL a base holds but no piece) is uploaded as pieces first, listed by one manifest.
     */
    private static Lsn coveredFrom(Store store, RemoteHome home, TimelineId id, Lsn local, Lsn remote, int pieceBytes) {
        List<Manifest.Entry> added = new ArrayList<>();
        Lsn covered = local;
        for (Manifest.Entry e : RemoteNames.walOf(home.manifests.view(), id)) {
            if (!covered.isBefore(remote)) {
                break;
            }
            covered = uploadGap(store, home, id, covered, Lsn.min(RemoteNames.start(e), remote), pieceBytes, added);
            if (RemoteNames.end(e).isAfter(covered)) {
                covered = RemoteNames.end(e);
            }
        }
        // the WAL after the last piece that only a base holds (a timeline whose WAL all came before its first base,
        // initdb's: no piece at all; the round ships pieces from remote_lsn on, which the base moved past it)
        covered = uploadGap(store, home, id, covered, remote, pieceBytes, added);
        if (!added.isEmpty()) {
            home.manifests.append(added, List.of(), Map.of());
        }
        return covered;
    }

    /** Uploads the timeline's WAL from {@code from} to {@code to} as pieces (none when {@code to} is not after it); returns where they end. */
    private static Lsn uploadGap(Store store, RemoteHome home, TimelineId id, Lsn from, Lsn to, int pieceBytes,
                                 List<Manifest.Entry> added) {
        Lsn covered = from;
        while (covered.isBefore(to)) {
            byte[] bytes = store.wal().read(id, covered, (int) Math.min(pieceBytes, to.minus(covered)));
            if (bytes.length == 0) {
                break; // nothing readable there (cannot be: the caller's range is stored WAL)
            }
            Lsn end = covered.plus(bytes.length);
            added.add(Await.result(home.uploader.upload(Content.of(bytes), RemoteNames.wal(id, covered, end)),
                    BaseUpload.UPLOAD_WAIT_SECONDS));
            covered = end;
        }
        return covered;
    }
}
