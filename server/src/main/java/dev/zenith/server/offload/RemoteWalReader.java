package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;

import java.util.function.Supplier;

/**
 * Reads evicted WAL back from an s3 storage's prefix: the WAL piece the newest manifest lists for the
 * position, downloaded and checked against its SHA-256 (as a restore does), the last one kept in memory
 * for the sequential reads that follow. Blocking; called by whoever reads WAL (never an event loop).
 */
final class RemoteWalReader implements WalLog.RemoteWal {
    private final Supplier<RemoteHome> home;
    private Manifest.Entry lastEntry;
    private Piece last;

    RemoteWalReader(Supplier<RemoteHome> home) {
        this.home = home;
    }

    @Override
    public synchronized Piece fetch(TimelineId id, Lsn pos) {
        if (last != null && lastEntry.labels().get(RemoteNames.TIMELINE).equals(id.toString())
                && !pos.isBefore(last.start()) && pos.isBefore(last.end())) {
            return last;
        }
        RemoteHome h = home.get();
        if (h == null) {
            throw new StoreException("WAL " + pos + " of timeline " + id + " was evicted from the local cache, and S3"
                    + " cannot be reached yet to read it back");
        }
        for (Manifest.Entry e : RemoteNames.walOf(h.manifests.view(), id)) {
            if (!pos.isBefore(RemoteNames.start(e)) && pos.isBefore(RemoteNames.end(e))) {
                byte[] bytes = Await.result(h.downloader.get(e.key(), e.hash(), e.contentLength()), 600);
                if (bytes.length != RemoteNames.end(e).minus(RemoteNames.start(e))) {
                    throw new StoreException("the WAL piece " + e.key() + " holds " + bytes.length + " bytes, not "
                            + RemoteNames.start(e) + ".." + RemoteNames.end(e));
                }
                lastEntry = e;
                last = new Piece(RemoteNames.start(e), bytes);
                return last;
            }
        }
        throw new StoreException("WAL " + pos + " of timeline " + id + " was evicted from the local cache and "
                + h.remote + " lists no piece holding it");
    }
}
