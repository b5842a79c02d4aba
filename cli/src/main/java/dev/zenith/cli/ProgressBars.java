package dev.zenith.cli;

import java.io.PrintStream;

/**
 * Progress bars on a terminal (bytes, rate, ETA). The zenith program draws them (module cli-terminal); where
 * there is none (a script, the daemon running a command for a client) each phase is a line instead.
 */
public interface ProgressBars {
    /** A bar labelled {@code label} counting to {@code total} bytes, drawn on {@code err} at most {@code width} wide. */
    Bar open(String label, long total, PrintStream err, int width);

    /** One phase's bar. */
    interface Bar extends AutoCloseable {
        /** {@code done} of {@code total} bytes (the total may grow as the daemon learns it). */
        void update(long done, long total);

        /** The phase is over: drawn full (its total was the daemon's estimate), then closed. */
        void finish();

        @Override
        void close();
    }
}
