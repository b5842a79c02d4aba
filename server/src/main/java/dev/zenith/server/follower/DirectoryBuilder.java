package dev.zenith.server.follower;

import dev.zenith.server.compute.PostgresProcess;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;

import java.io.IOException;

/** How a follower's data directory is written: the timeline's end rebuilt from the store (as a replica's), a standby. */
@FunctionalInterface
public interface DirectoryBuilder {
    void build(Store store, TimelineId timeline, PostgresProcess process) throws IOException;
}
