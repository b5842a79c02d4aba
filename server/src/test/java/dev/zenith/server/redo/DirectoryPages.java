package dev.zenith.server.redo;

import dev.zenith.storage.wal.BlockRef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Page versions kept as relation files in a data-directory-shaped tree: a redo run's starting
 * pages come from one, its answer goes into another (the test's stand-in for the store's versions).
 */
final class DirectoryPages implements PageSource, PageSink, AutoCloseable {
    private final Path root;
    private final ForkFiles files;
    private int written;

    DirectoryPages(Path root) throws IOException {
        this.root = root;
        Files.createDirectories(root);
        this.files = new ForkFiles(root);
    }

    Path root() {
        return root;
    }

    int written() {
        return written;
    }

    @Override
    public byte[] page(BlockRef block) throws IOException {
        return files.read(block.rel(), Integer.toUnsignedLong(block.block()));
    }

    @Override
    public void accept(BlockRef block, byte[] page) throws IOException {
        if (page != null) {
            files.write(block.rel(), Integer.toUnsignedLong(block.block()), page);
            written++;
        }
    }

    @Override
    public void close() throws IOException {
        files.close();
    }
}
