package dev.zenith.server.replication;

import dev.zenith.storage.timeline.TimelineId;

import java.util.Optional;

/**
 * What the WAL service needs to know of the daemon's computes (pgs), implemented by the compute manager:
 * declared here, by its user, so that {@code replication} does not depend on {@code compute} (which
 * depends on this package's replication slots and followed timelines).
 */
public interface ComputeTimelines {
    /** Event-bus address on which a pg's name is published when it moves to another timeline (checkout, promote). */
    String PG_MOVED_ADDRESS = "zenith.pg.moved";

    /** Which storage and timeline a pg runs on (for the WAL sender and base backups). */
    record TimelineRef(String storageName, TimelineId timeline) {
    }

    /** The timeline pg {@code pgName} is on now, if it exists. */
    Optional<TimelineRef> timelineOf(String pgName);

    /**
     * Whether a running primary writes this timeline (so its WAL will grow): a page-service request for
     * WAL beyond the stored end waits for it then, and is refused otherwise. Event-loop safe.
     */
    boolean hasWriter(String storageName, TimelineId timeline);

    /** Timelines open replication connections follow: in use, like those of pgs and snapshots. */
    FollowedTimelines followedTimelines();

    /** What the page service answers a storage's requests from. */
    default dev.zenith.storage.page.PageSource pageSource(dev.zenith.storage.Store store) {
        return new dev.zenith.storage.page.ImagePageSource(store.pages(), store.images(), store.wal());
    }
}
