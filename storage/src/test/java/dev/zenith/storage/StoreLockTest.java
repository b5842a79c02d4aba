package dev.zenith.storage;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.failure.StoreFormatException;
import dev.zenith.storage.timeline.TimelineId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A store belongs to one process at a time: a second one is refused, a killed holder frees it. */
class StoreLockTest {
    @TempDir
    Path tmp;

    @Test
    void secondProcessIsRefusedUntilTheHolderDies() throws Exception {
        Path dir = tmp.resolve("store");
        TimelineId tl = CrashChild.newStore(dir);
        Process child = CrashChild.start(dir, tl);
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String first = out.readLine();
            assertNotNull(first, "the child could not open the store");
            StoreException e = assertThrows(StoreInUseException.class, () -> Store.open(dir));
            assertTrue(e.getMessage().contains("in use by another process (pid " + child.pid() + ")"), e.getMessage());
        } finally {
            child.destroyForcibly(); // SIGKILL: the OS drops its lock (and a failed assertion leaves no writer behind)
            child.waitFor();
        }
        try (Store s = Store.open(dir)) {
            assertTrue(s.wal().end(tl).isPresent(), "the child's acknowledged WAL is there");
        }
    }

    @Test
    void foreignDirectoryIsRefusedAndLeftAlone() throws Exception {
        Path dir = tmp.resolve("home");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("notes.txt"), "mine");
        StoreFormatException e = assertThrows(StoreFormatException.class, () -> Store.open(dir));
        assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "nothing written into a directory that is not a store");
        }
        assertFalse(Files.exists(dir.resolve(StoreLock.FILE_NAME)));
    }
}
