package dev.zenith.protocol.auth;

import dev.zenith.protocol.ClientDriver;
import dev.zenith.protocol.replication.PhysicalReplicationClient;
import dev.zenith.protocol.replication.ReplicationEvent;
import dev.zenith.protocol.replication.ReplicationEvent.*;
import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.*;

/** Our SCRAM-SHA-256, MD5 and cleartext clients, and our SCRAM verifiers, against a real PostgreSQL 15. */
@Tag("pg")
class AuthenticationPgTest {
    static PgCluster pg;

    @BeforeAll
    static void start() throws IOException {
        pg = PgCluster.initdb();
        Path hba = pg.dataDir().resolve("pg_hba.conf");
        String rules = "host replication scram_user 127.0.0.1/32 scram-sha-256\n"
                + "host replication ours_user 127.0.0.1/32 scram-sha-256\n"
                + "host replication md5_user 127.0.0.1/32 md5\n"
                + "host replication clear_user 127.0.0.1/32 password\n";
        Files.writeString(hba, rules + Files.readString(hba));
        pg.allowReplication().start();
        pg.psql("CREATE ROLE scram_user LOGIN REPLICATION PASSWORD 'sekret'");
        pg.psql("BEGIN; SET LOCAL password_encryption = 'md5'; CREATE ROLE md5_user LOGIN REPLICATION PASSWORD 'md5pw'; COMMIT;");
        pg.psql("CREATE ROLE clear_user LOGIN REPLICATION PASSWORD 'plain'");
        pg.psql("CREATE ROLE ours_user LOGIN REPLICATION PASSWORD '" + ScramVerifier.generate("Zénith pass") + "'");
    }

    @AfterAll
    static void stop() {
        pg.close();
    }

    static ReplicationEvent connect(String user, String password) throws IOException {
        PhysicalReplicationClient c = new PhysicalReplicationClient(new PhysicalReplicationClient.Config(
                user, password, "auth_test", null, null, 0));
        try (ClientDriver d = new ClientDriver(pg.port(), c, 7)) {
            return d.until(e -> e instanceof SystemIdentified || e instanceof ServerError || e instanceof ProtocolError);
        }
    }

    @Test
    void scramSha256AgainstPostgres() throws IOException {
        assertInstanceOf(SystemIdentified.class, connect("scram_user", "sekret"));
        ServerError bad = (ServerError) connect("scram_user", "wrong");
        assertEquals("28P01", bad.fields().code());
        assertTrue(bad.fields().message().contains("password authentication failed"), bad.toString());
        ProtocolError none = (ProtocolError) connect("scram_user", null);
        assertTrue(none.message().contains("no password was configured"), none.message());
    }

    @Test
    void md5AndCleartextAgainstPostgres() throws IOException {
        assertTrue(pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5_user'").startsWith("md5"));
        assertInstanceOf(SystemIdentified.class, connect("md5_user", "md5pw"));
        assertEquals("28P01", ((ServerError) connect("md5_user", "nope")).fields().code());
        assertInstanceOf(SystemIdentified.class, connect("clear_user", "plain"));
        assertEquals("28P01", ((ServerError) connect("clear_user", "nope")).fields().code());
    }

    @Test
    void ourVerifiersArePostgresVerifiers() throws IOException {
        // PostgreSQL accepts a verifier we generated (non-ASCII password, SASLprep NFKC path) ...
        assertInstanceOf(SystemIdentified.class, connect("ours_user", "Zénith pass"));
        // ... and NFKC equivalence: 'é' decomposed is the same password after SASLprep
        assertInstanceOf(SystemIdentified.class, connect("ours_user", "Ze\u0301nith pass"));
        assertEquals("28P01", ((ServerError) connect("ours_user", "Zenith pass")).fields().code());

        // ... and PostgreSQL's own verifier is what we compute from the same salt and iteration count.
        String stored = pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'");
        ScramVerifier v = ScramVerifier.parse(stored);
        assertEquals(4096, v.iterations());
        assertEquals(stored, ScramVerifier.generate("sekret", v.salt(), v.iterations()).text());
        assertTrue(v.matches("sekret"));
        assertFalse(v.matches("sekreT"));
    }

    @Test
    void ourScramServerAcceptsOurClientWithPostgresVerifier() throws IOException {
        ScramVerifier v = ScramVerifier.parse(pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'"));
        ScramClient client = new ScramClient("sekret");
        ScramServer server = new ScramServer(v);
        byte[] serverFirst = server.serverFirstMessage(client.clientFirstMessage());
        byte[] serverFinal = server.serverFinalMessage(client.clientFinalMessage(serverFirst));
        client.verifyServerFinal(serverFinal);
        assertTrue(server.isAuthenticated());
        assertTrue(client.isComplete());

        ScramClient wrong = new ScramClient("sekrit");
        ScramServer s2 = new ScramServer(v);
        byte[] f2 = s2.serverFirstMessage(wrong.clientFirstMessage());
        AuthenticationException e = assertThrows(AuthenticationException.class,
                () -> s2.serverFinalMessage(wrong.clientFinalMessage(f2)));
        assertEquals("28P01", e.sqlState());

        // unknown user: the exchange proceeds and fails only at the proof
        ScramClient c3 = new ScramClient("sekret");
        ScramServer s3 = new ScramServer(null);
        byte[] f3 = s3.serverFirstMessage(c3.clientFirstMessage());
        assertEquals("28P01", assertThrows(AuthenticationException.class,
                () -> s3.serverFinalMessage(c3.clientFinalMessage(f3))).sqlState());

        // a server that does not know the password cannot fake the final signature
        ScramClient c4 = new ScramClient("sekret");
        ScramServer s4 = new ScramServer(v);
        byte[] f4 = s4.serverFirstMessage(c4.clientFirstMessage());
        s4.serverFinalMessage(c4.clientFinalMessage(f4));
        byte[] forged = ("v=" + Base64.getEncoder().encodeToString(new byte[32])).getBytes(StandardCharsets.UTF_8);
        assertThrows(AuthenticationException.class, () -> c4.verifyServerFinal(forged));
    }

    @Test
    void scramServerRejectsChannelBindingAndTampering() {
        ScramVerifier v = ScramVerifier.generate("pw");
        assertEquals("0A000", assertThrows(AuthenticationException.class, () -> new ScramServer(v)
                .serverFirstMessage("p=tls-server-end-point,,n=,r=abc".getBytes())).sqlState());
        assertEquals("08P01", assertThrows(AuthenticationException.class, () -> new ScramServer(v)
                .serverFirstMessage("x,,n=,r=abc".getBytes())).sqlState());
        ScramClient c = new ScramClient("pw");
        ScramServer s = new ScramServer(v);
        byte[] first = s.serverFirstMessage(c.clientFirstMessage());
        String fin = new String(c.clientFinalMessage(first), StandardCharsets.UTF_8);
        String tampered = fin.replace("r=", "r=X");
        assertEquals("08P01", assertThrows(AuthenticationException.class,
                () -> s.serverFinalMessage(tampered.getBytes())).sqlState());
        assertEquals("SCRAM-SHA-256$4096:" + Base64.getEncoder().encodeToString(v.salt()) + "$"
                + Base64.getEncoder().encodeToString(v.storedKey()) + ":"
                + Base64.getEncoder().encodeToString(v.serverKey()), v.text());
        assertThrows(IllegalArgumentException.class, () -> ScramVerifier.parse("md5abc"));
        assertThrows(IllegalArgumentException.class, () -> ScramVerifier.parse("SCRAM-SHA-256$4096:AAAA$BBBB"));
    }
}
