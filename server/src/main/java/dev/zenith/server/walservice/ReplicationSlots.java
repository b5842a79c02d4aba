package dev.zenith.server.walservice;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Physical replication slots, per timeline, in memory: enough for pg_receivewal --slot and
 * pg_basebackup's temporary slot. They do not survive a restart and pin nothing (the store keeps
 * all WAL today). Thread-safe.
 */
final class ReplicationSlots {
    record Slot(TimelineId timeline, String name, boolean temporary, Lsn restartLsn, Object owner) {
    }

    private final Map<String, Slot> slots = new ConcurrentHashMap<>();

    private static String key(TimelineId tl, String name) {
        return tl + "/" + name;
    }

    /** False when a slot of that name exists already on the timeline. */
    boolean create(TimelineId tl, String name, boolean temporary, Lsn restartLsn, Object owner) {
        return slots.putIfAbsent(key(tl, name), new Slot(tl, name, temporary, restartLsn, owner)) == null;
    }

    Optional<Slot> find(TimelineId tl, String name) {
        return Optional.ofNullable(slots.get(key(tl, name)));
    }

    boolean drop(TimelineId tl, String name) {
        return slots.remove(key(tl, name)) != null;
    }

    /** The client confirmed it flushed up to {@code flushed}: WAL before it is no longer needed by the slot. */
    void advance(TimelineId tl, String name, Lsn flushed) {
        slots.computeIfPresent(key(tl, name), (k, s) -> flushed.isAfter(s.restartLsn())
                ? new Slot(s.timeline(), s.name(), s.temporary(), flushed, s.owner()) : s);
    }

    /** A connection ended: its temporary slots go away, as in PostgreSQL. */
    void releaseTemporary(Object owner) {
        slots.values().removeIf(s -> s.temporary() && s.owner() == owner);
    }
}
