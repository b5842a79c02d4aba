package dev.zenith.testkit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("s3")
class S3ProxyServerTest {
    @Test
    void answersStopsAndStartsAgainOnTheSamePortWithItsData() throws Exception {
        Path data;
        try (S3ProxyServer s3 = S3ProxyServer.start("bucket")) {
            data = s3.dataDir();
            assertTrue(Files.isDirectory(s3.dataDir().resolve("bucket")));
            // an anonymous request reaches S3Proxy, which refuses to list buckets without a signature
            assertEquals(403, status(s3.endpoint()));

            s3.stop();
            assertFalse(s3.isRunning());
            assertThrows(IOException.class, () -> status(s3.endpoint()));

            s3.startAgain();
            assertTrue(s3.isRunning());
            assertEquals(403, status(s3.endpoint()));
        }
        assertFalse(Files.exists(data), "close removes the server's directory");
    }

    private static int status(URI uri) throws IOException {
        HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
        c.setConnectTimeout(2000);
        try {
            return c.getResponseCode();
        } finally {
            c.disconnect();
        }
    }
}
