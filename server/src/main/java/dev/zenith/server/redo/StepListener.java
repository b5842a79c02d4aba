package dev.zenith.server.redo;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.time.Duration;

/**
 * Told after a background materialization step of a timeline committed (its pages and watermark are durable):
 * what keeps derived state such as a ready data directory current. Called on the step's thread: queue, do not work.
 */
@FunctionalInterface
public interface StepListener {
    StepListener NONE = (store, timeline) -> { };

    void stepCommitted(Store store, TimelineId timeline);

    /** A step from the base at redo point {@code from} to the anchor at redo point {@code to} begins its run. */
    default void stepStarting(Store store, TimelineId timeline, Lsn from, Lsn to) {
    }

    /** The step's run replayed {@code walBytes} of WAL in {@code replay} (PostgreSQL's own figure), before its commit. */
    default void stepReplayed(Store store, TimelineId timeline, long walBytes, Duration replay) {
    }
}
