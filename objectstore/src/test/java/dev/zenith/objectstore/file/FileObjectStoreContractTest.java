package dev.zenith.objectstore.file;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreContract;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

/** The object store contract on a directory ({@code file:///dir} remotes). */
class FileObjectStoreContractTest extends ObjectStoreContract {
    @TempDir
    static Path dirs;

    @Override
    protected ObjectStore open(String name) throws Exception {
        return FileObjectStore.open(Files.createDirectories(dirs.resolve(name)));
    }

    @Override
    protected ObjectStore openAgain(String name) {
        return FileObjectStore.open(dirs.resolve(name));
    }

    @Override
    protected boolean honoursConditionalWrites() {
        return true;
    }
}
