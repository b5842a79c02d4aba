package dev.zenith.objectstore;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A bucket prefix seen as a flat key space of immutable blobs: the few calls zenith needs, so
 * nothing above this speaks SDK types. Keys are relative to the store's prefix. Every call is
 * asynchronous and never blocks its caller; failures complete the future with an
 * {@link ObjectStoreException} (which says whether trying again may help).
 */
public interface ObjectStore extends AutoCloseable {
    /** Where this store lives, for messages: {@code s3://bucket/prefix (endpoint)}. */
    String describe();

    /** Writes the whole object (replacing one of the same key). */
    CompletableFuture<Void> put(String key, byte[] bytes);

    /**
     * Writes the object only if the key is absent ({@code If-None-Match: *}): true when written,
     * false when the server refused because it exists. A server that ignores the condition
     * overwrites and answers true: callers that need exclusion must not rely on this alone.
     */
    CompletableFuture<Boolean> putIfAbsent(String key, byte[] bytes);

    /**
     * Replaces the object only if its current ETag is {@code etag} ({@code If-Match}): true when
     * written, false when the server refused (changed or gone). Servers that ignore the condition
     * overwrite and answer true.
     */
    CompletableFuture<Boolean> putIfMatch(String key, byte[] bytes, String etag);

    /** The whole object with its metadata, or empty when the key does not exist. */
    CompletableFuture<Optional<StoredBytes>> get(String key);

    /**
     * Bytes {@code [offset, offset + length)} of the object (fewer at its end), or empty when the key
     * does not exist; the answer's {@link StoredBytes#info()} describes the whole object (its size is
     * the object's, not the range's). {@code offset} must be below the object's size. For objects too
     * large to hold whole: read them a bounded range at a time.
     */
    CompletableFuture<Optional<StoredBytes>> getRange(String key, long offset, int length);

    /** Size, ETag and time of the object, or empty when the key does not exist. */
    CompletableFuture<Optional<ObjectInfo>> head(String key);

    /** Every object whose key starts with {@code keyPrefix}, in key order (all pages). */
    CompletableFuture<List<ObjectInfo>> list(String keyPrefix);

    /**
     * The objects of {@link #list} whose keys sort after {@code startAfter} (a whole key): a store that can ask the
     * server for only those (S3's start-after) answers without listing the rest.
     */
    default CompletableFuture<List<ObjectInfo>> listAfter(String keyPrefix, String startAfter) {
        return list(keyPrefix).thenApply(all -> all.stream().filter(o -> o.key().compareTo(startAfter) > 0).toList());
    }

    /** Deletes the object; deleting a missing key succeeds. */
    CompletableFuture<Void> delete(String key);

    /** Starts a multipart upload of {@code key}; answers its upload id. */
    CompletableFuture<String> startMultipart(String key);

    /** Uploads part {@code partNumber} (1-based; all but the last at least 5 MiB); answers its ETag. */
    CompletableFuture<String> uploadPart(String key, String uploadId, int partNumber, byte[] bytes, int offset, int length);

    /** The parts an unfinished multipart upload holds, in part order (to resume it). */
    CompletableFuture<List<UploadedPart>> listParts(String key, String uploadId);

    /** Makes the object from the parts (ETags in part order 1..n). */
    CompletableFuture<Void> completeMultipart(String key, String uploadId, List<String> partEtags);

    CompletableFuture<Void> abortMultipart(String key, String uploadId);

    /** Unfinished multipart uploads under {@code keyPrefix} (garbage of interrupted uploads, or ones to resume). */
    CompletableFuture<List<PendingUpload>> pendingUploads(String keyPrefix);

    @Override
    void close();
}
