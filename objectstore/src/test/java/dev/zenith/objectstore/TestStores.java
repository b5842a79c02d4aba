package dev.zenith.objectstore;

import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.testkit.S3ProxyServer;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Object stores on a test's S3Proxy, with short timeouts so fault tests do not wait long. */
public final class TestStores {
    private static S3ProxyServer shared;

    private TestStores() {
    }

    /**
     * One S3Proxy for every test class of this JVM (starting one costs seconds), with the bucket
     * "bucket"; tests use prefixes of their own. Tests that stop it start it again before they end.
     */
    public static synchronized S3ProxyServer s3() {
        if (shared == null) {
            S3ProxyServer s;
            try {
                s = S3ProxyServer.start("bucket");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(s::close, "s3proxy-close"));
            shared = s;
        }
        return shared;
    }

    public static S3Settings settings(S3ProxyServer s3, String url) {
        return S3Settings.of(S3Location.parse(url))
                .withEndpoint(s3.endpoint())
                .withCredentials(s3.accessKey(), s3.secretKey())
                .withLimits(16, Duration.ofSeconds(2), Duration.ofSeconds(10), Duration.ofSeconds(30), 2);
    }

    public static S3ObjectStore open(S3ProxyServer s3, String url) {
        return S3ObjectStore.open(settings(s3, url));
    }

    /** The future's value, or its failure's cause (an ObjectStoreException) thrown as is. */
    public static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(120, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            while (c instanceof java.util.concurrent.CompletionException && c.getCause() != null) {
                c = c.getCause();
            }
            if (c instanceof Exception x) {
                throw x;
            }
            throw e;
        } catch (TimeoutException e) {
            throw new AssertionError("no answer in 120 s", e);
        }
    }
}
