package dev.zenith.server.storages;

import dev.zenith.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StorageRegistryTest {
    @Test
    void aDamagedListOfStoragesIsNamedAndLeftAsItIs() throws Exception {
        Path home = Files.createTempDirectory("zenith-registry");
        try {
            Path file = home.resolve("storages.json");
            Files.writeString(file, "[{\"name\": \"local\"");
            IOException e = assertThrows(IOException.class, () -> StorageRegistry.open(file, home.resolve("storages/local")));
            assertTrue(e.getMessage().startsWith("cannot read " + file + " (the list of storages): Unexpected end-of-input"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("(line 1, column "), e.getMessage());
            assertEquals("[{\"name\": \"local\"", Files.readString(file));
            assertTrue(!Files.exists(home.resolve("storages")), "no storage was created in its place");
        } finally {
            PgCluster.deleteTree(home);
        }
    }
}
