package dev.zenith.server.redo;

import java.time.Duration;

/**
 * What a finished run did.
 *
 * @param wanted     blocks asked for
 * @param seeded     starting pages written into the scratch directory (wanted ones and FILE_COPY templates')
 * @param present    wanted blocks that exist at the target (the rest were handed out as absent)
 * @param walRecords records replayed
 * @param walBytes   WAL bytes from the redo point to the target
 * @param build      writing the scratch directory and checking the WAL
 * @param walWrite   of {@code build}: writing the WAL segments
 * @param walCheck   of {@code build}: reading them back and checking them ({@link RedoWal#check})
 * @param files      of {@code build}: the directories, the base's and anchor's files, pg_control and configuration
 * @param seed       of {@code build}: reading the starting pages and writing them (with their forks' lengths)
 * @param forks      of {@code build}: every free-space map's zeros and the sentinel pages of checked blocks
 * @param handOver   of {@code build}: giving the run's tree to PostgreSQL's user (a walk over every file; none when
 *                   not root)
 * @param recovery   PostgreSQL's start, crash recovery and end-of-recovery checkpoint, and the check that it is done
 * @param replay     of {@code recovery}: the replay, as PostgreSQL's log says
 * @param checkpoint of {@code recovery}: the end-of-recovery checkpoint, as PostgreSQL's log says
 * @param readBack   reading, verifying and handing out the pages (the postmaster exits meanwhile)
 */
public record RedoReport(int wanted, int seeded, int present, long walRecords, long walBytes, Duration build,
                         Duration walWrite, Duration walCheck, Duration files, Duration seed, Duration forks,
                         Duration handOver, Duration recovery, Duration replay, Duration checkpoint,
                         Duration readBack) {
    @Override
    public String toString() {
        return wanted + " blocks wanted (" + present + " present, " + seeded + " seeded), " + walRecords + " records / "
                + walBytes + " bytes of WAL replayed; build " + build.toMillis() + " ms (WAL written " + walWrite.toMillis()
                + " ms, checked " + walCheck.toMillis() + " ms; files " + files.toMillis() + " ms, seeding "
                + seed.toMillis() + " ms, free-space maps " + forks.toMillis() + " ms, hand-over " + handOver.toMillis()
                + " ms), recovery " + recovery.toMillis() + " ms (replay "
                + replay.toMillis() + " ms, checkpoint " + checkpoint.toMillis() + " ms), read back " + readBack.toMillis()
                + " ms";
    }
}
