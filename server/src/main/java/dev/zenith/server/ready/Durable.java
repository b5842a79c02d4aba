package dev.zenith.server.ready;

import dev.zenith.objectstore.FileSync;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

/** fsync of files and directories: a ready directory's marker must never reach the disk before its files. */
final class Durable {
    private Durable() {
    }

    /** Every file and directory under {@code root} (files clean in the page cache cost next to nothing). */
    static void forceTree(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.toList();
        }
        for (Path p : all) {
            if (Files.isRegularFile(p)) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            } else if (Files.isDirectory(p)) {
                FileSync.syncDirectory(p);
            }
        }
    }
}
