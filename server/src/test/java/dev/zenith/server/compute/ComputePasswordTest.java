package dev.zenith.server.compute;

import dev.zenith.server.testing.FreshDaemonTest;
import dev.zenith.server.testing.LocalUser;
import dev.zenith.storage.Store;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Computes take SCRAM logins with their storage's password: pg_hba.conf is zenith's at every start, and a
 * storage made before computes had passwords gets one at its first primary start, durable in the store.
 */
@Tag("pg")
class ComputePasswordTest extends FreshDaemonTest {
    private static final String PASSWORD_KEY = "cluster/postgres_password";

    @Test
    void noRuleTrustsAnyoneWhateverTheImageSaid() throws Exception {
        JsonObject pg = d.createPg("main");
        Path hba = Path.of(pg.getString("pgdata"), "pg_hba.conf");
        String rules = Files.readString(hba).lines().filter(l -> !l.isBlank() && !l.startsWith("#")).toList().toString();
        assertTrue(!rules.contains("trust") && rules.contains("scram-sha-256"), rules);
        assertEquals("SCRAM-SHA-256", d.psql(pg.getInteger("port"),
                "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'postgres'"));
        // a trust rule put in by hand is gone at the next start
        d.action("main", "stop");
        Files.writeString(hba, "host all all 127.0.0.1/32 trust\n");
        d.action("main", "start");
        assertTrue(!Files.readString(hba).contains("trust\n") && Files.readString(hba).contains("scram-sha-256"));
        LocalUser.Run noPassword = LocalUser.owner(d.pg.bin("psql").toString(), "-X", "-w", "-h", "127.0.0.1", "-p",
                Integer.toString(pg.getInteger("port")), "-U", "postgres", "-c", "SELECT 1", "postgres");
        assertTrue(noPassword.code() != 0 && noPassword.out().contains("no password supplied"), noPassword.out());
    }

    @Test
    void aStorageWithoutAPasswordGetsOneAtItsFirstPrimaryStart() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        d.psql(port, "CREATE TABLE kept AS SELECT 42 AS answer");
        d.action("main", "stop");
        String before = Files.readString(d.passFile());
        d.inProcessShutdownKeepingHome();
        try (Store store = Store.open(d.home.resolve("storages/local"))) {
            store.documents().delete(PASSWORD_KEY); // as a storage made before computes had passwords
        }
        d.startInProcess();
        d.action("main", "start");
        String after = Files.readString(d.passFile());
        assertNotEquals(before, after, "a new password, in the password file");
        assertEquals("42", d.psql(port, "SELECT answer FROM kept"));

        // The password is in the store's WAL: a directory rebuilt from the store has it.
        d.action("main", "stop");
        dev.zenith.testkit.PgCluster.deleteTree(Path.of(pg.getString("pgdata")));
        d.action("main", "start");
        assertEquals("42", d.psql(port, "SELECT answer FROM kept"));
        assertEquals(after, Files.readString(d.passFile()));
        d.inProcessShutdownKeepingHome();
        try (Store store = Store.open(d.home.resolve("storages/local"))) {
            assertTrue(store.documents().get(PASSWORD_KEY).isPresent(), "kept in the storage once durable");
        }
        d.startInProcess();
    }
}
