package dev.zenith.server.ingest;

import dev.zenith.storage.Store;
import dev.zenith.storage.failure.WriteStall;
import dev.zenith.storage.timeline.TimelineId;

import java.time.Duration;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * The store's WAL writes fail (a full disk): said once in the log, with the reason, while commits wait and
 * the receiver keeps retrying; and once more when writes work again.
 */
final class StallLog {
    private static final Logger LOG = Logger.getLogger(WalReceiver.class.getName());

    private final Store store;
    private final TimelineId timeline;
    private final String name;
    private WriteStall loggedStall; // the stall last said in the log, until writes work again

    StallLog(Store store, TimelineId timeline, String name) {
        this.store = store;
        this.timeline = timeline;
        this.name = name;
    }

    void noteStall() {
        WriteStall stall = store.writeStall().orElse(null);
        if (stall != null && (loggedStall == null || !stall.since().equals(loggedStall.since()))) { // a new stall
            loggedStall = stall;
            LOG.severe(name + ": stalled: the storage cannot be written (" + stall.reason() + "); no commit of timeline "
                    + timeline + " is acknowledged until it can, and the receiver keeps retrying");
        }
    }

    void noteResumed() {
        if (loggedStall != null && store.writeStall().isEmpty()) {
            LOG.info(name + ": the storage can be written again; commits are acknowledged again after a stall of "
                    + Duration.between(loggedStall.since(), Instant.now()).toSeconds() + " s");
            loggedStall = null;
        }
    }
}
