package dev.zenith.pgexec;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Finding PostgreSQL 15 on this machine, now or in the background while a daemon readies the rest. */
@Tag("pg")
class PgInstallationTest {
    @Test
    void detectAheadFindsWhatDetectFinds() {
        PgInstallation now = PgInstallation.detect();
        PgInstallation ahead = PgInstallation.detectAhead().get();
        assertEquals(now.binDir(), ahead.binDir());
        assertEquals(now.runAsUser(), ahead.runAsUser());
        // as root PostgreSQL runs as an unprivileged user, found without a process (it was `id -u`)
        assertEquals(PgInstallation.isRoot(), ahead.runAsUser().isPresent());
    }
}
