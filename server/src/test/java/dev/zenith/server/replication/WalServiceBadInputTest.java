package dev.zenith.server.replication;

import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.WalServiceClients;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input gets a clean error on its own connection, and the WAL service goes on serving everyone else:
 * one daemon for the class, one test per kind of bad input, and last the check that it still serves.
 */
@Tag("pg")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WalServiceBadInputTest {
    static DaemonFixture d;
    static WalServiceClients clients;
    static Path work;
    static JsonObject pg;
    static String systemId;

    @BeforeAll
    static void startDaemonWithAPg() throws Exception {
        d = new DaemonFixture().startInProcess();
        clients = new WalServiceClients(d);
        work = DaemonFixture.reachableTempDir("walservice-");
        pg = d.createPg("main");
        systemId = d.psql(pg.getInteger("port"), "SELECT system_identifier FROM pg_control_system()");
    }

    @AfterAll
    static void stop() throws Exception {
        d.close();
        PgCluster.deleteTree(work);
    }

    static Stream<Arguments> rawBytes() {
        return Stream.of(
                Arguments.of("an HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
                Arguments.of("a start-up packet claiming 2 GiB", ByteBuffer.allocate(8).putInt(Integer.MAX_VALUE).putInt(196608).array()),
                Arguments.of("an unknown protocol version", ByteBuffer.allocate(8).putInt(8).putInt(0x12345678).array()));
    }

    // (each case's name starts its failure messages too: Maven's report numbers parameterized cases)
    @ParameterizedTest(name = "{0}")
    @MethodSource("rawBytes")
    void rawBytesThatAreNoStartUpGetAFatalError(String what, byte[] request) throws Exception {
        byte[] reply = rawExchange(request);
        assertTrue(reply.length > 5 && reply[0] == 'E', what + ": expected an ErrorResponse, got " + reply.length + " bytes");
        String text = new String(reply, StandardCharsets.UTF_8);
        assertTrue(text.contains("FATAL"), what + ": " + text);
    }

    static Stream<Arguments> refusedCommands() {
        return Stream.of(
                Arguments.of("FROBNICATE THE WAL", "cannot execute SQL commands in WAL sender"),
                Arguments.of("START_REPLICATION PHYSICAL FF/0", "ahead of the WAL flush position"),
                Arguments.of("START_REPLICATION PHYSICAL 0/100", "has already been removed"),
                Arguments.of("START_REPLICATION PHYSICAL 0/1000000 TIMELINE 7", "requested timeline 7 is not in this server's history"),
                Arguments.of("SHOW no_such_setting", "unrecognized configuration parameter"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedCommands")
    void aCommandItCannotServeIsRefusedWithPostgresqlsMessage(String command, String message) throws Exception {
        WalServiceClients.Result r = clients.psql("", command);
        assertNotEquals(0, r.exitCode(), command);
        assertTrue(r.output().contains(message), command + ": " + r.output());
    }

    @Test
    void anUnknownPgIsAFatalError() throws Exception {
        WalServiceClients.Result r = clients.psql("options='-c zenith.pg=nope'", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("FATAL") && r.output().contains("pg \"nope\" does not exist"), r.output());
    }

    @Test
    void anUnknownTimelineIsRefused() throws Exception {
        WalServiceClients.Result r = clients.psql("options='-c zenith.timeline=00000000000000000000000000000000'", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("does not exist"), r.output());
    }

    @Test
    void aWrongPasswordIsRefusedWithoutSayingWhichPgsExist() throws Exception {
        WalServiceClients.Result r = clients.psql("password=wrong", "IDENTIFY_SYSTEM");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("password authentication failed"), r.output());
        // which pgs exist is said only to a client that logged in
        r = clients.psql("password=wrong options='-c zenith.pg=nope'", "IDENTIFY_SYSTEM");
        assertTrue(r.output().contains("password authentication failed") && !r.output().contains("nope"), r.output());
    }

    @Test
    void eachStorageIsAClusterAnsweringWithItsOwnSystemIdentifier() throws Exception {
        d.ok(201, "PUT", "/storages", new JsonObject().put("name", "other").put("path", work.resolve("other").toString()).encode());
        JsonObject other = (JsonObject) d.ok(201, "PUT", "/pgs",
                new JsonObject().put("name", "other").put("storage_name", "other").encode());
        String otherId = d.psql(other.getInteger("port"), "SELECT system_identifier FROM pg_control_system()");
        assertNotEquals(systemId, otherId);
        assertTrue(clients.psql("options='-c zenith.pg=other'", "IDENTIFY_SYSTEM").output().startsWith(otherId + "|1|"));
        assertTrue(clients.psql("options='-c zenith.pg=main'", "IDENTIFY_SYSTEM").output().startsWith(systemId + "|1|"));
        d.ok(200, "DELETE", "/pgs/other", null);
        d.ok(200, "DELETE", "/storages/other", null);
    }

    @Test
    void aPhysicalSlotIsCreatedOnOneConnectionReadAndDroppedFromOthers() throws Exception {
        WalServiceClients.Result r = clients.psql("", "CREATE_REPLICATION_SLOT s1 PHYSICAL RESERVE_WAL");
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
    }

    static Stream<Arguments> badSlotNames() {
        return Stream.of(Arguments.of("\"../../pg/main\"", "contains invalid character"),
                Arguments.of("\"Upper\"", "contains invalid character"), Arguments.of("a".repeat(64), "is too long"));
    }

    /** A slot's name is part of its key in the storage: only what PostgreSQL allows becomes one. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badSlotNames")
    void aSlotNamePostgresqlRefusesIsRefused(String name, String message) throws Exception {
        WalServiceClients.Result r = clients.psql("", "CREATE_REPLICATION_SLOT " + name + " PHYSICAL");
        assertTrue(r.output().contains("replication slot name") && r.output().contains(message), name + ": " + r.output());
    }

    @Test
    void aRefusedSlotNameMakesNoSlot() throws Exception {
        assertTrue(clients.psql("", "CREATE_REPLICATION_SLOT \"../../pg/main\" PHYSICAL").output().contains("contains invalid character"));
        assertEquals("||", clients.psql("", "READ_REPLICATION_SLOT \"../../pg/main\"").output(), "nothing was made");
    }

    @Test
    void theLongestSlotNamePostgresqlAllowsIsAccepted() throws Exception {
        assertEquals(0, clients.psql("", "CREATE_REPLICATION_SLOT " + "a".repeat(63) + " PHYSICAL").exitCode());
    }

    /** After all the bad input above, for every way of naming the main timeline. */
    @Order(Integer.MAX_VALUE)
    @ParameterizedTest(name = "options: \"{0}\"")
    @ValueSource(strings = {"", "options='-c zenith.pg=main'", "options='-c zenith.timeline=TIMELINE'"})
    void theServiceStillServes(String options) throws Exception {
        String conninfo = options.replace("TIMELINE", pg.getString("timeline_id"));
        WalServiceClients.Result r = clients.psql(conninfo, "IDENTIFY_SYSTEM");
        assertEquals(0, r.exitCode(), conninfo + ": " + r.output());
        assertTrue(r.output().startsWith(systemId + "|1|"), conninfo + ": " + r.output());
        assertEquals("16MB", clients.psql(conninfo, "SHOW wal_segment_size").output(), conninfo);
    }

    /** Sends bytes on a fresh connection and reads until the server closes it. */
    private static byte[] rawExchange(byte[] request) throws IOException {
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
