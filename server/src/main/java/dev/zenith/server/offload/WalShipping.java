package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One round of WAL upload: for every timeline the prefix's base knows, the WAL LMDB holds beyond what the
 * prefix holds, as pieces of at most {@code pieceBytes} (a partial segment too: whatever is stored), then
 * one manifest listing them with each timeline's new {@code remote_lsn}. Blocking; the offload's thread.
 */
final class WalShipping {
    /** The new ends, and whether some timeline had more than one piece's worth (go again at once). */
    record Round(Map<TimelineId, Lsn> shipped, boolean more) {
    }

    private WalShipping() {
    }

    static Round run(Store store, RemoteHome home, Map<TimelineId, Lsn> remoteEnds, int pieceBytes) {
        List<Manifest.Entry> added = new ArrayList<>();
        Map<TimelineId, Lsn> ends = new HashMap<>();
        Map<String, String> properties = new HashMap<>();
        boolean more = false;
        for (Map.Entry<TimelineId, Lsn> r : remoteEnds.entrySet()) {
            TimelineId id = r.getKey();
            Lsn from = r.getValue();
            Lsn localEnd = store.timelines().get(id).isPresent() ? store.wal().end(id).orElse(null) : null;
            if (localEnd == null || !localEnd.isAfter(from)) {
                continue;
            }
            byte[] bytes = store.wal().read(id, from, pieceBytes);
            Lsn to = from.plus(bytes.length);
            added.add(Await.result(home.uploader.uploadNew(Content.of(bytes), RemoteNames.wal(id, from, to)),
                    BaseUpload.UPLOAD_WAIT_SECONDS));
            ends.put(id, to);
            properties.put(RemoteNames.remoteLsnProperty(id), to.toString());
            more |= to.isBefore(localEnd);
        }
        if (!added.isEmpty()) {
            home.manifests.append(added, List.of(), properties);
        }
        return new Round(ends, more);
    }
}
