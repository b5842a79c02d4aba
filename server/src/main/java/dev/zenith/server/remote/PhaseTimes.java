package dev.zenith.server.remote;

import java.util.ArrayList;
import java.util.List;

/** How long each phase of a long action took, for its log line: "download 1.20 s, image 3.40 s, ...". */
final class PhaseTimes {
    private final List<String> laps = new ArrayList<>();
    private final long started = System.nanoTime();
    private long last = started;

    /** Ends the phase named {@code name} (it began when the previous one ended). */
    void lap(String name) {
        long now = System.nanoTime();
        laps.add(name + " " + seconds(now - last));
        last = now;
    }

    @Override
    public String toString() {
        return seconds(System.nanoTime() - started) + " (" + String.join(", ", laps) + ")";
    }

    private static String seconds(long nanos) {
        return String.format("%.2f s", nanos / 1e9);
    }
}
