package dev.zenith.objectstore.format;

import dev.zenith.objectstore.ObjectStoreException;

/** Stored bytes that are not what was written: never served, always named. */
public final class CorruptObjectException extends ObjectStoreException {
    public CorruptObjectException(String what, String why) {
        super(Kind.CORRUPT, what + " is corrupt: " + why, null);
    }

    public CorruptObjectException(String what, String why, Throwable cause) {
        super(Kind.CORRUPT, what + " is corrupt: " + why, cause);
    }
}
