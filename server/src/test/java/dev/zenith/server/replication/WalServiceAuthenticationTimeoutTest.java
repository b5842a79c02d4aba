package dev.zenith.server.replication;

import dev.zenith.server.testing.CheckedVertx;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.WalServiceClients;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * As PostgreSQL's authentication_timeout: a client of the WAL service that has not logged in within
 * {@code pg.authentication_timeout_ms} is disconnected; one that has stays as long as it likes.
 */
@Tag("pg")
@ExtendWith(VertxExtension.class)
class WalServiceAuthenticationTimeoutTest {
    static DaemonFixture d;
    static String systemId;
    static Vertx clients;
    /**
     * Held for the whole class: Vert.x closes a NetClient that became garbage (its Cleaner, after a 30 s grace,
     * closes every connection), so one dropped after connecting could close a socket mid-test at the first GC.
     */
    static NetClient netClient;

    @BeforeAll
    static void daemonWithATimeoutOfOneSecond() throws Exception {
        d = new DaemonFixture();
        d.pgSettings.put("authentication_timeout_ms", 1000);
        d.startInProcess();
        systemId = d.psql(d.createPg("main").getInteger("port"), "SELECT system_identifier FROM pg_control_system()");
        clients = CheckedVertx.create();
        netClient = clients.createNetClient();
    }

    @AfterAll
    static void stop() throws Exception {
        netClient.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        clients.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        d.close();
    }

    /**
     * Connected and silent; half a start-up packet: both closed, without a message (the client may be
     * anywhere in the protocol). Without the timeout they would stay open and the test time out.
     */
    @Test
    @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
    void aClientThatDoesNotLogInInTimeIsDroppedWithoutAMessage(VertxTestContext ctx) {
        List<byte[]> stalls = List.of(new byte[0], ByteBuffer.allocate(8).putInt(40).putInt(196608).array());
        Checkpoint closed = ctx.checkpoint(stalls.size());
        for (byte[] stall : stalls) {
            netClient.connect(d.pgPort, "127.0.0.1").onComplete(ctx.succeeding(socket -> {
                socket.handler(b -> ctx.failNow(new AssertionError("closed without a message, yet got " + b.length() + " bytes")));
                socket.closeHandler(v -> closed.flag());
                socket.write(Buffer.buffer(stall));
            }));
        }
    }

    @Test
    void aClientThatLoggedInIsServedAfterBeingQuietForLongerThanTheTimeout() throws Exception {
        Process psql = new WalServiceClients(d).tool("psql", "-X", "-At", "-d", "dbname=replication replication=true")
                .redirectErrorStream(true).start();
        try (OutputStream in = psql.getOutputStream()) {
            in.write("IDENTIFY_SYSTEM;\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
            Thread.sleep(2500);
            in.write("IDENTIFY_SYSTEM;\n".getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(psql.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, psql.waitFor(), out);
        String[] lines = out.split("\n");
        assertEquals(2, lines.length, out);
        assertTrue(lines[0].startsWith(systemId + "|1|") && lines[1].startsWith(systemId + "|1|"), out);
    }
}
