package dev.zenith.server.replication;

import dev.zenith.storage.Store;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * pg_control's system identifier per timeline, read from the store once. It never changes for a
 * timeline, and reading it decodes the newest image's manifest (about 2 ms), which every
 * IDENTIFY_SYSTEM would pay otherwise: pg_receivewal sends three before it streams a byte.
 */
final class SystemIdentifiers {
    /** Weak on the store: a detached storage's entries go with it. */
    private final Map<Store, Map<TimelineId, String>> byStore = Collections.synchronizedMap(new WeakHashMap<>());

    /** Blocking (a store read on the first call for a timeline). */
    String of(Store store, TimelineId timeline) {
        return byStore.computeIfAbsent(store, s -> new ConcurrentHashMap<>())
                .computeIfAbsent(timeline, tl -> read(store, tl));
    }

    private static String read(Store store, TimelineId timeline) {
        Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow();
        ImageManifest image = store.images().latestImageAtOrBefore(timeline, end).orElseThrow();
        return Long.toUnsignedString(ControlFile.parse(store.images().pgControl(image)).systemIdentifier());
    }
}
