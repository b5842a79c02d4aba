package dev.zenith.objectstore.s3;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreContract;
import dev.zenith.objectstore.TestStores;
import dev.zenith.testkit.S3ProxyServer;
import org.junit.jupiter.api.Tag;

/** The object store contract on a real S3Proxy (which ignores If-None-Match and If-Match). */
@Tag("s3")
class S3ObjectStoreContractTest extends ObjectStoreContract {
    private static final S3ProxyServer s3 = TestStores.s3();

    @Override
    protected ObjectStore open(String name) {
        return TestStores.open(s3, "s3://bucket/" + name);
    }

    @Override
    protected ObjectStore openAgain(String name) {
        return open(name);
    }

    @Override
    protected boolean honoursConditionalWrites() {
        return false;
    }
}
