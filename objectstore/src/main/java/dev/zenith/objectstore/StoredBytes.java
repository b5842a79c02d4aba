package dev.zenith.objectstore;

/**
 * An object's bytes (or a range of them) as the server returned them, not yet verified, and what it
 * said about the whole object.
 */
public record StoredBytes(ObjectInfo info, byte[] bytes) {
}
