package dev.zenith.server.api;

import dev.zenith.cli.Main;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.server.testing.LocalUser;
import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The REST API on an address other machines reach: only over TLS (ZenithConfigTest: refused without),
 * and still only with the token and a Host of its own. curl checks the certificate; the CLI pins it.
 */
@Tag("pg")
class RestTlsTest {

    @Test
    void offLoopbackTheApiIsServedOverTlsAndStillWantsTheToken() throws Exception {
        String address = nonLoopbackAddress();
        assumeTrue(address != null, "this machine has no non-loopback IPv4 address to serve on");
        Path certs = DaemonFixture.reachableTempDir("zenith-tls-");
        try (DaemonFixture d = new DaemonFixture()) {
            Path cert = certs.resolve("cert.pem");
            Path key = certs.resolve("key.pem");
            LocalUser.Run made = LocalUser.owner("openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=zenith-test", "-addext", "subjectAltName=IP:" + address + ",IP:127.0.0.1",
                    "-keyout", key.toString(), "-out", cert.toString());
            assertEquals(0, made.code(), made.out());
            d.httpSettings.put("host", address).put("tls_cert", cert.toString()).put("tls_key", key.toString());
            d.startInProcess();
            String url = "https://" + address + ":" + d.httpPort + "/status";

            assertEquals("200", curl("--cacert", cert.toString(), "-H", "Authorization: Bearer " + d.apiToken(), url));
            assertEquals("401", curl("--cacert", cert.toString(), url));
            assertEquals("403", curl("--cacert", cert.toString(), "-H", "Authorization: Bearer " + d.apiToken(),
                    "-H", "Host: attacker.example", url));
            assertNotEquals("200", curl("-H", "Authorization: Bearer " + d.apiToken(), url.replace("https:", "http:")),
                    "no plain HTTP");

            // the CLI of the same home: the daemon's own certificate, pinned
            System.setProperty("zenith.home", d.home.toString());
            try {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                int code = new Main(new PrintStream(out, true), new PrintStream(err, true)).run(List.of("status"));
                assertEquals(0, code, err.toString());
                assertTrue(out.toString().contains("https://" + address + ":" + d.httpPort), out.toString());
            } finally {
                System.clearProperty("zenith.home");
            }
        } finally {
            PgCluster.deleteTree(certs);
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"));
        cmd.addAll(List.of(args));
        return LocalUser.owner(cmd.toArray(String[]::new)).out();
    }

    private static String nonLoopbackAddress() throws Exception {
        for (NetworkInterface nic : NetworkInterface.networkInterfaces().toList()) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress a : nic.inetAddresses().toList()) {
                if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
                    return a.getHostAddress();
                }
            }
        }
        return null;
    }
}
