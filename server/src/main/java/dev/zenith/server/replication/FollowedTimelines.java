package dev.zenith.server.replication;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * The timelines replication connections have selected, while they are open: garbage collection keeps
 * them (and their temporary slots' WAL source), as it keeps the timelines of pgs and snapshots, so a
 * client following a destroyed pg's timeline by id is not cut off under its feet. Thread-safe.
 */
public final class FollowedTimelines {
    private record Followed(Store store, TimelineId timeline) {
    }

    private final Map<Object, Followed> byConnection = new ConcurrentHashMap<>();

    void follow(Object connection, Store store, TimelineId timeline) {
        byConnection.put(connection, new Followed(store, timeline));
    }

    void release(Object connection) {
        byConnection.remove(connection);
    }

    /** The timelines of {@code store} some open connection follows. */
    public Set<TimelineId> of(Store store) {
        return byConnection.values().stream().filter(f -> f.store() == store).map(Followed::timeline)
                .collect(Collectors.toSet());
    }
}
