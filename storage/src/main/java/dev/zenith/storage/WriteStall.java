package dev.zenith.storage;

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

    /** The reason a write failed, from the failure: disk full recognized in any of its causes' messages. */
    public static String reasonOf(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("ENOSPC"))) {
                return "no space left on device (" + failure.getMessage() + ")";
            }
        }
        return failure.getMessage() == null ? failure.toString() : failure.getMessage();
    }
}
