package dev.zenith.server.offload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * For tests: a slow base upload made deterministic. With {@code -Dzenith.offload.holdBasesWhile=FILE}, a base waits
 * after its copy of the store, before its pieces go up, for as long as FILE exists; without it (always, outside tests)
 * nothing waits. What a base must not hold up (WAL going up, eviction, commits) can then be shown while it waits.
 */
final class BaseHold {
    private static final Logger LOG = Logger.getLogger(BaseHold.class.getName());
    static final String PROPERTY = "zenith.offload.holdBasesWhile";

    private BaseHold() {
    }

    /** Waits while the hold file exists; an interrupt (the storage closing) ends the base. */
    static void whileHeld(String baseId) throws IOException {
        String file = System.getProperty(PROPERTY);
        if (file == null || !Files.exists(Path.of(file))) {
            return;
        }
        LOG.info("base " + baseId + " is held while " + file + " exists (" + PROPERTY + ")");
        while (Files.exists(Path.of(file))) {
            PauseBriefly.sleep(50);
            if (Thread.currentThread().isInterrupted()) {
                throw new IOException("interrupted while base " + baseId + " was held");
            }
        }
        LOG.info("base " + baseId + " is no longer held");
    }
}
