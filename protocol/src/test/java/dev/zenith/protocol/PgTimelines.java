package dev.zenith.protocol;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test-only: gives a running cluster a second timeline (restart as a standby of nothing, promote). */
public final class PgTimelines {
    private PgTimelines() {
    }

    /** Promotes to timeline 2 and returns the switch point read from {@code 00000002.history}. */
    public static Lsn promoteToTimeline2(PgCluster pg) throws IOException, InterruptedException {
        pg.stop();
        Path signal = pg.dataDir().resolve("standby.signal");
        Files.writeString(signal, "");
        pg.installation().handOver(signal);
        pg.start();
        pg.exec("pg_ctl", "-D", pg.dataDir().toString(), "-w", "-t", "60", "promote");
        for (int i = 0; !"f".equals(pg.psql("SELECT pg_is_in_recovery()")); i++) {
            if (i > 2400) {
                throw new AssertionError("promotion never finished");
            }
            Thread.sleep(50);
        }
        return Lsn.parse(history(pg).split("\t")[1].trim());
    }

    public static String history(PgCluster pg) throws IOException {
        return new String(Files.readAllBytes(pg.walDir().resolve("00000002.history")), StandardCharsets.UTF_8);
    }
}
