package dev.zenith.server.redo;

import java.time.Duration;

/**
 * What a finished run did.
 *
 * @param wanted      blocks asked for
 * @param seeded      starting pages written into the scratch directory (wanted ones and FILE_COPY templates')
 * @param present     wanted blocks that exist at the target (the rest were handed out as absent)
 * @param walRecords  records replayed
 * @param walBytes    WAL bytes from the redo point to the target
 * @param preparation writing the scratch directory and checking the WAL, by part
 * @param recovery    PostgreSQL's start, crash recovery and end-of-recovery checkpoint, and the check that it is done
 * @param readBack    reading, verifying and handing out the pages (the postmaster exits meanwhile)
 */
public record RedoReport(int wanted, int seeded, int present, long walRecords, long walBytes, Preparation preparation,
                         Recovery recovery, Duration readBack) {

    /**
     * A run's preparation, part by part in the order it does them (each begins where the one before ended).
     *
     * @param files    the directories, the base's and anchor's files, pg_control and configuration
     * @param walWrite writing the WAL segments
     * @param walCheck reading them back and checking them ({@link RedoWal#check})
     * @param seed     reading the starting pages and writing them (with their forks' lengths)
     * @param forks    the free-space maps' zeros (those the run's answer depends on) and the sentinel pages of checked blocks
     * @param handOver giving the run's tree to PostgreSQL's user (a walk over every file; none when not root)
     */
    public record Preparation(Duration files, Duration walWrite, Duration walCheck, Duration seed, Duration forks,
                              Duration handOver) {
        public Duration total() {
            return files.plus(walWrite).plus(walCheck).plus(seed).plus(forks).plus(handOver);
        }
    }

    /**
     * @param total      PostgreSQL's start, crash recovery and end-of-recovery checkpoint, and the check that it is done
     * @param replay     of {@code total}: the replay, as PostgreSQL's log says
     * @param checkpoint of {@code total}: the end-of-recovery checkpoint, as PostgreSQL's log says
     */
    public record Recovery(Duration total, Duration replay, Duration checkpoint) {
    }

    @Override
    public String toString() {
        return wanted + " blocks wanted (" + present + " present, " + seeded + " seeded), " + walRecords + " records / "
                + walBytes + " bytes of WAL replayed; build " + preparation.total().toMillis() + " ms (WAL written "
                + preparation.walWrite.toMillis() + " ms, checked " + preparation.walCheck.toMillis() + " ms; files "
                + preparation.files.toMillis() + " ms, seeding " + preparation.seed.toMillis() + " ms, free-space maps "
                + preparation.forks.toMillis() + " ms, hand-over " + preparation.handOver.toMillis() + " ms), recovery "
                + recovery.total.toMillis() + " ms (replay " + recovery.replay.toMillis() + " ms, checkpoint "
                + recovery.checkpoint.toMillis() + " ms), read back " + readBack.toMillis() + " ms";
    }
}
