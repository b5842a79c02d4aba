package dev.zenith.server.compute;

import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Map;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon killed while a new branch's first checkpoint is pending: the restarted daemon takes the running compute
 * back ({@link StorageAdoption}) and restores the ordinary settings kept beside zenith.conf, as the killed daemon's
 * wait would have (PgTimelineTest checks a branch's start through the daemon). Here the compute is a plain cluster
 * whose checkpoint is on its timeline 1 already: the settings come back at once.
 */
@Tag("pg")
class SpreadFirstCheckpointTest {
    @Test
    void aComputeTakenBackGetsTheOrdinarySettingsBackAfterItsFirstCheckpoint() throws Exception {
        try (PgCluster c = PgCluster.initdb()) {
            PostgresProcess process = new PostgresProcess(c.installation(), c.dataDir(), c.dataDir().resolve("unused.log"));
            process.ensureIncludesZenithConf();
            SpreadFirstCheckpoint.writeSettings(process, Map.of("checkpoint_completion_target", "0"), OptionalInt.of(1));
            c.start();
            assertEquals("0.9", c.psql("SHOW checkpoint_completion_target").trim(), "the first checkpoint spread");
            assertTrue(Files.exists(c.dataDir().resolve(SpreadFirstCheckpoint.PENDING)), "the ordinary settings kept aside");

            // the daemon that started it is gone (kill -9): the one taking the compute back does what it would have
            SpreadFirstCheckpoint.restoreAfterIt(process);
            String target = "";
            for (long deadline = System.nanoTime() + 60_000_000_000L; !target.equals("0") && System.nanoTime() < deadline; ) {
                Thread.sleep(100);
                target = c.psql("SHOW checkpoint_completion_target").trim();
            }
            assertEquals("0", target, "the ordinary checkpoint_completion_target reloaded");
            assertFalse(Files.exists(c.dataDir().resolve(SpreadFirstCheckpoint.PENDING)), "nothing pending any more");
            assertTrue(Files.readString(c.dataDir().resolve(PostgresProcess.ZENITH_CONF)).contains(
                    "checkpoint_completion_target = '0'"));

            // a start on no new timeline leaves nothing pending either
            SpreadFirstCheckpoint.writeSettings(process, Map.of("checkpoint_completion_target", "0"), OptionalInt.of(7));
            SpreadFirstCheckpoint.writeSettings(process, Map.of("checkpoint_completion_target", "0"), OptionalInt.empty());
            assertFalse(Files.exists(c.dataDir().resolve(SpreadFirstCheckpoint.PENDING)));
        }
    }
}
