package dev.zenith.server.follower;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.redo.LivePages;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** With {@code follower.enabled} false a latest read gets no page and nothing is started or written. */
class FollowersOffTest {
    @TempDir
    Path dir;

    @Test
    void offAnswersNothingAndStartsNothing() throws Exception {
        AtomicInteger builds = new AtomicInteger();
        Path followers = dir.resolve("followers");
        try (Followers f = new Followers(PgInstallation.detect(), followers,
                new FollowerSettings(false, Duration.ofSeconds(1), Duration.ofMillis(20), "128kB"),
                (store, timeline, process) -> builds.incrementAndGet(), timeline -> "")) {
            BlockRef block = new BlockRef(RelTag.of(1663, 5, 16384, ForkNumber.MAIN), 0);
            assertNull(f.page(null, TimelineId.parse("0123456789abcdef0123456789abcdef"), block, Lsn.parse("0/3000028"),
                    LivePages.LaterChanges.NONE).get());
            assertEquals(new Followers.Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), f.stats());
        }
        assertEquals(0, builds.get());
        try (var s = Files.list(followers)) {
            assertTrue(s.findAny().isEmpty());
        }
    }
}
