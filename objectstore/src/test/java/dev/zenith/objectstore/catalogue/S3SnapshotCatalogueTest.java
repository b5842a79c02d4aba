package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.TestStores;
import org.junit.jupiter.api.Tag;

/** The snapshot catalogue on S3Proxy (which ignores If-None-Match: exclusion comes from the listing after the settle time). */
@Tag("s3")
class S3SnapshotCatalogueTest extends SnapshotCatalogueContract {
    @Override
    protected ObjectStore open(String name) {
        return TestStores.open(TestStores.s3(), "s3://bucket/remote-" + name);
    }

    @Override
    protected ObjectStore again(String name) {
        return open(name);
    }
}
