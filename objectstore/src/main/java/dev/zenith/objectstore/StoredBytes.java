package dev.zenith.objectstore;

/** An object's bytes as the server returned them (not yet verified) and what it said about them. */
public record StoredBytes(ObjectInfo info, byte[] bytes) {
}
