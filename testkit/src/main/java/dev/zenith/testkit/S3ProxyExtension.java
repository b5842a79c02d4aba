package dev.zenith.testkit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An S3Proxy for a test class, started with its buckets and closed after: registered on a static field
 * ({@code @RegisterExtension static final S3ProxyExtension proxy = new S3ProxyExtension("zen")}) one serves
 * the whole class; on an instance field, each test gets a fresh one (for tests that stop or break it).
 *
 * <p>Its credentials are also set as the AWS SDK's system properties: a daemon's S3 client takes its
 * credentials from the SDK's default chain, which reads them there.
 */
public final class S3ProxyExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback {
    private final String[] buckets;
    private S3ProxyServer server;
    private boolean perTest;

    public S3ProxyExtension(String... buckets) {
        this.buckets = buckets.clone();
    }

    /** The running S3Proxy (during a test, or between the class's first and last test). */
    public S3ProxyServer server() {
        if (server == null) {
            throw new IllegalStateException("S3Proxy is not started: register the extension with @RegisterExtension");
        }
        return server;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        if (server == null) { // an instance field: JUnit called no beforeAll
            perTest = true;
            start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (perTest) {
            close();
        }
    }

    private void start() throws Exception {
        server = S3ProxyServer.start(buckets);
        System.setProperty("aws.accessKeyId", server.accessKey());
        System.setProperty("aws.secretAccessKey", server.secretKey());
    }

    private void close() {
        if (server != null) {
            server.close();
            server = null;
        }
    }
}
