package dev.zenith.objectstore;

/** One part of an unfinished multipart upload, as the server lists it. */
public record UploadedPart(int partNumber, String etag, long size) {
}
