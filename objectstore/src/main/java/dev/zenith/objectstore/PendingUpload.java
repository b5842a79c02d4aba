package dev.zenith.objectstore;

import java.time.Instant;

/** An unfinished multipart upload the server still keeps. */
public record PendingUpload(String key, String uploadId, Instant initiated) {
}
