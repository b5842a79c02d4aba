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
 * @param recovery   PostgreSQL's crash recovery and shutdown
 * @param readBack   reading, verifying and handing out the pages
 */
public record RedoReport(int wanted, int seeded, int present, long walRecords, long walBytes, Duration build,
                         Duration recovery, Duration readBack) {
    @Override
    public String toString() {
        return wanted + " blocks wanted (" + present + " present, " + seeded + " seeded), " + walRecords + " records / "
                + walBytes + " bytes of WAL replayed; build " + build.toMillis() + " ms, recovery " + recovery.toMillis()
                + " ms, read back " + readBack.toMillis() + " ms";
    }
}
