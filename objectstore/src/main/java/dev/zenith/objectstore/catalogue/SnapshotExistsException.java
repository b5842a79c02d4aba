package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.ObjectStoreException;

/** A push of a name the remote holds with other contents: refused, nothing made visible. */
public final class SnapshotExistsException extends ObjectStoreException {
    public SnapshotExistsException(String message) {
        super(Kind.PRECONDITION_FAILED, message);
    }
}
