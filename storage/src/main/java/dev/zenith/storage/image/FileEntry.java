package dev.zenith.storage.image;

/** A non-relation file of an image: its path relative to the data directory and its content's sha-256. */
public record FileEntry(String path, String sha256, long size) {
}
