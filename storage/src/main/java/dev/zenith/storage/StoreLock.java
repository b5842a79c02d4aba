package dev.zenith.storage;


import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Keeps a store to one process. LMDB itself lets several processes share an environment, but a store
 * also has a WAL journal and receivers that assume they are its only writer: two daemons attached to
 * one path would interleave journal writes and acknowledge WAL the other overwrites. The lock is an
 * OS file lock on {@code zenith.lock}, so a process killed with -9 releases it; the file names the
 * holder's pid for the error message.
 */
final class StoreLock implements AutoCloseable {
    static final String FILE_NAME = "zenith.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private StoreLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock or fails at once, naming the process that holds it. */
    static StoreLock acquire(Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            String holder = readHolder(file);
            ch.close();
            throw new StoreInUseException("store " + dir + " is in use by another process" + holder
                    + "; stop that zenith daemon or detach the storage there first");
        }
        StoreLock held = new StoreLock(ch, lock);
        try {
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(pid), 0);
        } catch (IOException | RuntimeException e) {
            held.close();
            throw e;
        }
        return held;
    }

    private static String readHolder(Path file) {
        try {
            String pid = Files.readString(file, StandardCharsets.US_ASCII).trim();
            return pid.matches("\\d{1,10}") ? " (pid " + pid + ")" : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel below releases it as well
        }
        try {
            channel.close();
        } catch (IOException e) {
            // nothing more to release
        }
    }
}
