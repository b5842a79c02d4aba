package dev.zenith.server;

import java.util.logging.LogManager;

/**
 * The daemon process's {@link LogManager} ({@code -Djava.util.logging.manager}, set by the launcher).
 * JDK logging closes every handler from a shutdown hook of its own, which runs alongside the daemon's:
 * on SIGTERM the daemon's last lines (computes stopped, images taken, "zenith stopped") went nowhere.
 * This one keeps the handlers until the daemon's own shutdown has ended (its file handler writes each
 * line through at once, so nothing waits on the close).
 */
public final class DaemonLogManager extends LogManager {
    private volatile boolean daemonDone;

    @Override
    public void reset() {
        if (daemonDone) {
            super.reset();
        }
    }

    /** The daemon has stopped: handlers close now, as the JDK would have closed them. */
    static void daemonStopped() {
        if (LogManager.getLogManager() instanceof DaemonLogManager m) {
            m.daemonDone = true;
            m.reset();
        }
    }
}
