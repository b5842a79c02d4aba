package dev.zenith.server.redo;

import dev.zenith.server.testing.DaemonFixture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code redo.materialize = false} (what bench/materialize-cost.sh compares with): a running primary's
 * checkpoints still give anchors, but no background materialization step runs after them.
 */
@Tag("pg")
class MaterializeSwitchTest {
    private static final String NOT_MATERIALIZED = "anchor stored, not materialized";

    @Test
    void withMaterializationOffAnchorsAreStoredAndNoStepRuns() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.redoSettings.put("materialize", false);
            d.startProcess();
            int port = d.createPg("main").getInteger("port");
            d.pgbench(port, "-i", "-s", "1", "-q");
            for (int checkpoint = 1; checkpoint <= 2; checkpoint++) {
                d.pgbench(port, "-n", "-c", "2", "-t", "50");
                d.psql(port, "CHECKPOINT");
            }
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (count(d.log(), NOT_MATERIALIZED) < 2) {
                assertTrue(System.nanoTime() < deadline, "fewer than 2 anchors stored in 2 minutes:\n" + d.log());
                Thread.sleep(200);
            }
            Thread.sleep(3_000); // a step queued after the first anchor would have logged by now
            assertEquals(0, GetPageByRedoTest.steps(d.log()), d.log());
        }
    }

    private static int count(String log, String what) {
        return log.split(what, -1).length - 1;
    }
}
