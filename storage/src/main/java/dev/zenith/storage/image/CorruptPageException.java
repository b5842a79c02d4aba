package dev.zenith.storage.image;

import dev.zenith.storage.failure.StoreException;

import java.nio.file.Path;

/** A page failed its checksum or header checks twice (not a torn read); the import stored nothing. */
public class CorruptPageException extends StoreException {
    private final Path file;
    private final long blockInFile;
    private final long blockNumber;

    public CorruptPageException(Path file, long blockInFile, long blockNumber, String reason) {
        super("corrupt page in " + file + " block " + blockInFile + " (relation block " + blockNumber + "): " + reason);
        this.file = file;
        this.blockInFile = blockInFile;
        this.blockNumber = blockNumber;
    }

    public Path file() {
        return file;
    }

    /** Block number within the segment file. */
    public long blockInFile() {
        return blockInFile;
    }

    /** Block number within the relation fork (what the checksum mixes in). */
    public long blockNumber() {
        return blockNumber;
    }
}
