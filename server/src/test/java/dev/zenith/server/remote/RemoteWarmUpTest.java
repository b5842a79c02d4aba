package dev.zenith.server.remote;

import dev.zenith.testkit.S3ProxyExtension;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.ServerSocket;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The S3 SDK readied once, in the background, against a real S3Proxy; never a failure of its own. */
@Tag("s3")
class RemoteWarmUpTest {
    @RegisterExtension
    static final S3ProxyExtension proxy = new S3ProxyExtension("bucket");

    @BeforeEach
    void credentials() { // what a daemon's SDK finds in its default chain (the daemon tests pass them as -D options)
        System.setProperty("aws.accessKeyId", proxy.server().accessKey());
        System.setProperty("aws.secretAccessKey", proxy.server().secretKey());
    }

    @AfterEach
    void forgetCredentials() {
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretAccessKey");
    }

    @Test
    void anS3RemoteIsReachedOnceAndNotAgain() throws Exception {
        RemoteWarmUp warmUp = new RemoteWarmUp();
        assertTrue(warmUp.start(s3Remote(proxy.server().endpoint().toString())).orElseThrow().get(60, TimeUnit.SECONDS));
        assertTrue(warmUp.start(s3Remote(proxy.server().endpoint().toString())).isEmpty(), "the SDK is readied once");
    }

    @Test
    void aFileRemoteNeedsNone() {
        RemoteWarmUp warmUp = new RemoteWarmUp();
        assertTrue(warmUp.start(new Remote("shared", "file:///tmp/zenith-warm-up-none", Optional.empty(), Optional.empty()))
                .isEmpty());
    }

    @Test
    void anUnresponsiveRemoteIsNoFailure() throws Exception {
        // a socket that is bound and never accepts: connections queue and nothing answers (a port closed again could be
        // taken by another test's server meanwhile, which did answer once in CI after two minutes of retries)
        try (ServerSocket silent = new ServerSocket(0)) {
            CompletableFuture<Boolean> done = new RemoteWarmUp().start(s3Remote("http://127.0.0.1:" + silent.getLocalPort())).orElseThrow();
            assertFalse(done.get(120, TimeUnit.SECONDS));
        }
    }

    private static Remote s3Remote(String endpoint) {
        return new Remote("team", "s3://bucket/warm-up", Optional.of(endpoint), Optional.of(S3ProxyServer.REGION));
    }
}
