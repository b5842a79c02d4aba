package dev.zenith.server.offload;

import dev.zenith.objectstore.transfer.TransferProgress;

import java.time.Duration;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * Watches a storage's uploads from outside the thread that waits on them (which an outage holds while the
 * uploader retries): an upload retrying for longer than {@code patience} is logged once as failing, with the
 * last error, and once more when uploads go through again. {@link #failing()} is what storage show reports.
 */
final class UploadHealth {
    private static final Logger LOG = Logger.getLogger(UploadHealth.class.getName());

    private final String storage;
    private final String where;
    private final Duration patience;
    private volatile String error;
    private volatile Instant since;

    UploadHealth(String storage, String where, Duration patience) {
        this.storage = storage;
        this.where = where;
        this.patience = patience;
    }

    void check(TransferProgress.Snapshot p) {
        boolean stuck = p.lastError() != null && p.lag().compareTo(patience) > 0
                && p.lastErrorAt() != null && p.lastErrorAt().isAfter(Instant.now().minus(p.lag()));
        if (stuck && error == null) {
            since = p.lastErrorAt();
            LOG.warning("storage '" + storage + "': uploading to " + where + " fails (" + p.lastError() + "), retrying;"
                    + " commits go on from the local journal and the upload catches up when it works again");
        } else if (!stuck && error != null && p.lag().isZero()) {
            LOG.info("storage '" + storage + "': uploads to " + where + " work again (failing since " + since + ")");
        }
        if (stuck) {
            error = p.lastError();
        } else if (p.lag().isZero()) {
            error = null;
            since = null;
        }
    }

    /** The retried upload's error while uploads are stuck, else null. */
    String failing() {
        return error;
    }

    Instant since() {
        return since;
    }
}
