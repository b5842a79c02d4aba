package dev.zenith.storage.failure;

import java.time.Instant;

/**
 * Why a storage's WAL writes fail (the journal or LMDB), since when: WAL waits (commits are not
 * acknowledged) until a write succeeds again. {@code reason} says "no space left on device" when the
 * disk is full, whatever layer's words the failure came in.
 */
public record WriteStall(String reason, Instant since) {
    /** Whether a write failed for the disk's sake (an I/O or LMDB platform error), not for what was written. */
    public static boolean isStall(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.io.IOException || t instanceof org.lmdbjava.LmdbNativeException) {
                return true;
            }
        }
        return false;
    }

    /**
     * The stall {@code failure} means for writes to {@code directory}, continuing {@code was}; {@code was}
     * when it is no failure of the disk (refused for what it is, a gap say).
     */
    public static WriteStall after(WriteStall was, Throwable failure, java.nio.file.Path directory) {
        if (!isStall(failure)) {
            return was;
        }
        long usable;
        try {
            usable = java.nio.file.Files.getFileStore(directory).getUsableSpace();
        } catch (java.io.IOException e) {
            usable = -1;
        }
        return new WriteStall(reasonOf(failure, usable), was == null ? Instant.now() : was.since());
    }

    /** Below this much room a file system is full for our writes (see {@link #reasonOf}). */
    static final long FULL_BYTES = 1 << 20;

    /**
     * The reason a write failed: disk full when any cause says so, or when the file system has less than
     * {@link #FULL_BYTES} left ({@code usableBytes}): LMDB reports a write cut short by a full disk as EIO.
     */
    public static String reasonOf(Throwable failure, long usableBytes) {
        String message = failure.getMessage() == null ? failure.toString() : failure.getMessage();
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("ENOSPC"))) {
                return "no space left on device (" + message + ")";
            }
        }
        if (usableBytes >= 0 && usableBytes < FULL_BYTES) {
            return "no space left on device (" + usableBytes + " bytes free; " + message + ")";
        }
        return message;
    }
}
