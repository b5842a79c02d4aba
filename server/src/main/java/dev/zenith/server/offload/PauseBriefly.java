package dev.zenith.server.offload;

/** A short wait between tries on a worker thread. */
final class PauseBriefly {
    private PauseBriefly() {
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
