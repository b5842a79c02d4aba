package dev.zenith.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * As PostgreSQL's authentication_timeout: a client of the WAL service that has not logged in within
 * {@code pg.authentication_timeout_ms} is disconnected; one that has stays as long as it likes.
 */
@Tag("pg")
class WalServiceAuthenticationTimeoutTest {
    @Test
    void aClientThatDoesNotLogInInTimeIsDroppedAndOneThatDidIsNot() throws Exception {
        try (DaemonFixture d = new DaemonFixture()) {
            d.pgSettings.put("authentication_timeout_ms", 1000);
            d.startInProcess();
            String systemId = d.psql(d.createPg("main").getInteger("port"), "SELECT system_identifier FROM pg_control_system()");

            // Connected and silent; half a start-up packet: both closed, without a message (the client
            // may be anywhere in the protocol). Without the timeout the read would wait for 30 s and fail.
            for (byte[] stall : List.of(new byte[0], ByteBuffer.allocate(8).putInt(40).putInt(196608).array())) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", d.pgPort), 10_000);
                    s.setSoTimeout(30_000);
                    s.getOutputStream().write(stall);
                    assertEquals(-1, s.getInputStream().read(), "closed without a message");
                }
            }

            // Logged in, then quiet for longer than the timeout: still served.
            WalServiceClients clients = new WalServiceClients(d);
            Process psql = clients.tool("psql", "-X", "-At", "-d", "dbname=replication replication=true")
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
}
