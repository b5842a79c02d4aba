package dev.zenith.objectstore;

import java.time.Instant;

/** What a listing or HEAD says about one object; {@code etag} without quotes. */
public record ObjectInfo(String key, long size, String etag, Instant lastModified) {
}
