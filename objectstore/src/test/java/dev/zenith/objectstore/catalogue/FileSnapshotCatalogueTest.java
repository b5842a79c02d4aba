package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.file.FileObjectStore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

/** The snapshot catalogue on a shared directory ({@code file:///dir} remotes). */
class FileSnapshotCatalogueTest extends SnapshotCatalogueContract {
    @TempDir
    static Path dirs;

    @Override
    protected ObjectStore open(String name) throws Exception {
        return FileObjectStore.open(Files.createDirectories(dirs.resolve(name)));
    }

    @Override
    protected ObjectStore again(String name) {
        return FileObjectStore.open(dirs.resolve(name));
    }
}
