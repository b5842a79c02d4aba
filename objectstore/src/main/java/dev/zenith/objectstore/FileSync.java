package dev.zenith.objectstore;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Making a rename durable. */
public final class FileSync {
    private FileSync() {
    }

    /** Syncs {@code dir}, so names created or renamed in it survive a power loss. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
