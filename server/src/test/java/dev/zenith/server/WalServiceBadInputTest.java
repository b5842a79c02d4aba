package dev.zenith.server;

import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input gets a clean error on its own connection, and the WAL service goes on serving everyone else. */
@Tag("pg")
class WalServiceBadInputTest extends WalServiceTestBase {
    @Test
    void badInputIsRefusedCleanlyAndTheServiceKeepsServing() throws Exception {
        JsonObject pg = d.createPg("main");
        int port = pg.getInteger("port");
        String systemId = d.psql(port, "SELECT system_identifier FROM pg_control_system()");

        // Raw bytes: an HTTP request, a start-up packet claiming 2 GiB, an unknown protocol version.
        assertFatal(rawExchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        assertFatal(rawExchange(ByteBuffer.allocate(8).putInt(Integer.MAX_VALUE).putInt(196608).array()));
        assertFatal(rawExchange(ByteBuffer.allocate(8).putInt(8).putInt(0x12345678).array()));

        WalServiceClients.Result r = clients.psql("", "FROBNICATE THE WAL");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("cannot execute SQL commands in WAL sender"), r.output());

        r = clients.psql("", "START_REPLICATION PHYSICAL FF/0");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("ahead of the WAL flush position"), r.output());

        r = clients.psql("", "START_REPLICATION PHYSICAL 0/100");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("has already been removed"), r.output());

        r = clients.psql("", "START_REPLICATION PHYSICAL 0/1000000 TIMELINE 7");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("requested timeline 7 is not in this server's history"), r.output());

        r = clients.psql("", "SHOW no_such_setting");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("unrecognized configuration parameter"), r.output());

        r = clients.psql("options='-c zenith.pg=nope'", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("FATAL") && r.output().contains("pg \"nope\" does not exist"), r.output());

        r = clients.psql("options='-c zenith.timeline=00000000000000000000000000000000'", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("does not exist"), r.output());

        r = clients.psql("password=wrong", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("password authentication failed"), r.output());
        // which pgs exist is said only to a client that logged in
        r = clients.psql("password=wrong options='-c zenith.pg=nope'", "IDENTIFY_SYSTEM");
        assertTrue(r.output().contains("password authentication failed") && !r.output().contains("nope"), r.output());

        // Still serving, for every way of naming the main timeline.
        String timeline = pg.getString("timeline_id");
        for (String options : new String[] {"", "options='-c zenith.pg=main'", "options='-c zenith.timeline=" + timeline + "'"}) {
            r = clients.psql(options, "IDENTIFY_SYSTEM");
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().startsWith(systemId + "|1|"), r.output());
        }
        assertEquals("16MB", clients.psql("", "SHOW wal_segment_size").output());

        // Another storage is another cluster: each timeline answers with its own system identifier.
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "other").put("path", work.resolve("other").toString()).encode());
        JsonObject other = (JsonObject) d.ok(201, "PUT", "/pgs",
                new JsonObject().put("name", "other").put("storage_name", "other").encode());
        String otherId = d.psql(other.getInteger("port"), "SELECT system_identifier FROM pg_control_system()");
        assertNotEquals(systemId, otherId);
        assertTrue(clients.psql("options='-c zenith.pg=other'", "IDENTIFY_SYSTEM").output().startsWith(otherId + "|1|"));
        assertTrue(clients.psql("options='-c zenith.pg=main'", "IDENTIFY_SYSTEM").output().startsWith(systemId + "|1|"));
        d.ok(200, "DELETE", "/pgs/other", null);
        d.ok(200, "DELETE", "/storages/other", null);

        // Physical slots: created on one connection, read and dropped from others.
        r = clients.psql("", "CREATE_REPLICATION_SLOT s1 PHYSICAL RESERVE_WAL");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("s1|0/0|"), r.output());
        String slot = clients.psql("", "READ_REPLICATION_SLOT s1").output();
        assertTrue(slot.matches("physical\\|[0-9A-F]+/[0-9A-F]+\\|1"), slot);
        // RESERVE_WAL reserved from the end of WAL at creation: valid, not beyond today's end.
        Lsn restart = Lsn.parse(slot.split("\\|")[1]);
        Lsn end = Lsn.parse(clients.psql("", "IDENTIFY_SYSTEM").output().split("\\|")[2]);
        assertTrue(restart.isValid() && !restart.isAfter(end), slot + " vs end " + end);
        assertTrue(clients.psql("", "CREATE_REPLICATION_SLOT s1 PHYSICAL").output().contains("already exists"));
        assertEquals(0, clients.psql("", "DROP_REPLICATION_SLOT s1").exitCode());
        assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT s1").output());

        // A slot's name is part of its key in the storage: only what PostgreSQL allows becomes one.
        for (String[] bad : new String[][] {{"\"../../pg/main\"", "contains invalid character"},
                {"\"Upper\"", "contains invalid character"}, {"a".repeat(64), "is too long"}}) {
            r = clients.psql("", "CREATE_REPLICATION_SLOT " + bad[0] + " PHYSICAL");
            assertTrue(r.output().contains("replication slot name") && r.output().contains(bad[1]), r.output());
        }
        assertEquals(0, clients.psql("", "CREATE_REPLICATION_SLOT " + "a".repeat(63) + " PHYSICAL").exitCode());
        assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT \"../../pg/main\"").output(), "nothing was made");
    }

    private static void assertFatal(byte[] reply) {
        assertTrue(reply.length > 5 && reply[0] == 'E', "expected an ErrorResponse, got " + reply.length + " bytes");
        String text = new String(reply, StandardCharsets.UTF_8);
        assertTrue(text.contains("FATAL"), text);
    }

    /** Sends bytes on a fresh connection and reads until the server closes it. */
    private byte[] rawExchange(byte[] request) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", d.pgPort), 10_000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }
}
