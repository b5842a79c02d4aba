package dev.zenith.objectstore.s3;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.UploadedPart;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.ListPartsResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/** {@link ObjectStore} over one bucket prefix with the SDK's async client (which it owns and closes). */
public final class S3ObjectStore implements ObjectStore {
    private final S3AsyncClient client;
    private final S3Location location;
    private final String where;

    public S3ObjectStore(S3AsyncClient client, S3Location location, String endpointForMessages) {
        this.client = client;
        this.location = location;
        this.where = location + (endpointForMessages == null ? "" : " (" + endpointForMessages + ")");
    }

    public static S3ObjectStore open(S3Settings settings) {
        return new S3ObjectStore(S3Clients.create(settings), settings.location(),
                settings.endpoint().map(Object::toString).orElse(null));
    }

    @Override
    public String describe() {
        return where;
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] bytes) {
        return call("put " + key, client.putObject(putRequest(key).build(), body(bytes)).thenApply(r -> null));
    }

    @Override
    public CompletableFuture<Boolean> putIfAbsent(String key, byte[] bytes) {
        return conditional("put-if-absent " + key,
                client.putObject(putRequest(key).ifNoneMatch("*").build(), body(bytes)));
    }

    @Override
    public CompletableFuture<Boolean> putIfMatch(String key, byte[] bytes, String etag) {
        return conditional("put-if-match " + key,
                client.putObject(putRequest(key).ifMatch(quoted(etag)).build(), body(bytes)));
    }

    @Override
    public CompletableFuture<Optional<StoredBytes>> get(String key) {
        CompletableFuture<ResponseBytes<GetObjectResponse>> f = client.getObject(
                r -> r.bucket(location.bucket()).key(location.fullKey(key)), AsyncResponseTransformer.toBytes());
        return missingAsEmpty("get " + key, f, rb -> {
            GetObjectResponse r = rb.response();
            return new StoredBytes(new ObjectInfo(key, rb.asByteArrayUnsafe().length, unquoted(r.eTag()),
                    r.lastModified()), rb.asByteArrayUnsafe());
        });
    }

    @Override
    public CompletableFuture<Optional<StoredBytes>> getRange(String key, long offset, int length) {
        if (offset < 0 || length < 1) {
            throw new IllegalArgumentException("a range starts at 0 or later and has at least one byte");
        }
        CompletableFuture<ResponseBytes<GetObjectResponse>> f = client.getObject(r -> r.bucket(location.bucket())
                .key(location.fullKey(key)).range("bytes=" + offset + "-" + (offset + length - 1)),
                AsyncResponseTransformer.toBytes());
        return missingAsEmpty("get " + key + " from byte " + offset, f, rb -> {
            GetObjectResponse r = rb.response();
            byte[] got = rb.asByteArrayUnsafe();
            String range = r.contentRange(); // "bytes first-last/size"
            if (range == null) { // the server sent the whole object: cut the range out ourselves
                int from = (int) Math.min(offset, got.length);
                return new StoredBytes(new ObjectInfo(key, got.length, unquoted(r.eTag()), r.lastModified()),
                        java.util.Arrays.copyOfRange(got, from, (int) Math.min(got.length, offset + length)));
            }
            long size = Long.parseLong(range.substring(range.lastIndexOf('/') + 1).trim());
            return new StoredBytes(new ObjectInfo(key, size, unquoted(r.eTag()), r.lastModified()), got);
        });
    }

    @Override
    public CompletableFuture<Optional<ObjectInfo>> head(String key) {
        return missingAsEmpty("head " + key,
                client.headObject(r -> r.bucket(location.bucket()).key(location.fullKey(key))),
                r -> new ObjectInfo(key, r.contentLength(), unquoted(r.eTag()), r.lastModified()));
    }

    @Override
    public CompletableFuture<List<ObjectInfo>> list(String keyPrefix) {
        return call("list " + keyPrefix, listFrom(location.fullKey(keyPrefix), null, null, new ArrayList<>()));
    }

    @Override
    public CompletableFuture<List<ObjectInfo>> listAfter(String keyPrefix, String startAfter) {
        return call("list " + keyPrefix + " after " + startAfter,
                listFrom(location.fullKey(keyPrefix), location.fullKey(startAfter), null, new ArrayList<>()));
    }

    private CompletableFuture<List<ObjectInfo>> listFrom(String fullPrefix, String startAfter, String token, List<ObjectInfo> into) {
        return client.listObjectsV2(r -> r.bucket(location.bucket()).prefix(fullPrefix).startAfter(startAfter)
                        .continuationToken(token))
                .thenCompose((ListObjectsV2Response page) -> {
                    for (S3Object o : page.contents()) {
                        if (o.key().endsWith("/")) {
                            continue; // a directory marker (jclouds' filesystem backend lists them); no key of ours ends so
                        }
                        into.add(new ObjectInfo(location.relativeKey(o.key()), o.size(), unquoted(o.eTag()), o.lastModified()));
                    }
                    return Boolean.TRUE.equals(page.isTruncated())
                            ? listFrom(fullPrefix, startAfter, page.nextContinuationToken(), into)
                            : CompletableFuture.completedFuture(into);
                });
    }

    @Override
    public CompletableFuture<Void> delete(String key) {
        return call("delete " + key,
                client.deleteObject(r -> r.bucket(location.bucket()).key(location.fullKey(key))).thenApply(r -> null));
    }

    @Override
    public CompletableFuture<String> startMultipart(String key) {
        return call("start multipart " + key, client.createMultipartUpload(r -> r.bucket(location.bucket())
                .key(location.fullKey(key)).contentType("application/octet-stream")).thenApply(r -> r.uploadId()));
    }

    @Override
    public CompletableFuture<String> uploadPart(String key, String uploadId, int partNumber, byte[] bytes, int offset, int length) {
        AsyncRequestBody body = AsyncRequestBody.fromRemainingByteBufferUnsafe(ByteBuffer.wrap(bytes, offset, length));
        return call("upload part " + partNumber + " of " + key, client.uploadPart(r -> r.bucket(location.bucket())
                .key(location.fullKey(key)).uploadId(uploadId).partNumber(partNumber).contentLength((long) length), body)
                .thenApply(r -> unquoted(r.eTag())));
    }

    @Override
    public CompletableFuture<List<UploadedPart>> listParts(String key, String uploadId) {
        return call("list parts of " + key, partsFrom(key, uploadId, null, new ArrayList<>()));
    }

    private CompletableFuture<List<UploadedPart>> partsFrom(String key, String uploadId, Integer marker, List<UploadedPart> into) {
        return client.listParts(r -> r.bucket(location.bucket()).key(location.fullKey(key)).uploadId(uploadId)
                        .partNumberMarker(marker))
                .thenCompose((ListPartsResponse page) -> {
                    page.parts().forEach(p -> into.add(new UploadedPart(p.partNumber(), unquoted(p.eTag()), p.size())));
                    return Boolean.TRUE.equals(page.isTruncated())
                            ? partsFrom(key, uploadId, page.nextPartNumberMarker(), into)
                            : CompletableFuture.completedFuture(into);
                });
    }

    @Override
    public CompletableFuture<Void> completeMultipart(String key, String uploadId, List<String> partEtags) {
        List<CompletedPart> parts = new ArrayList<>(partEtags.size());
        for (int i = 0; i < partEtags.size(); i++) {
            parts.add(CompletedPart.builder().partNumber(i + 1).eTag(quoted(partEtags.get(i))).build());
        }
        return call("complete multipart " + key, client.completeMultipartUpload(r -> r.bucket(location.bucket())
                .key(location.fullKey(key)).uploadId(uploadId)
                .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build())).thenApply(r -> null));
    }

    @Override
    public CompletableFuture<Void> abortMultipart(String key, String uploadId) {
        return call("abort multipart " + key, client.abortMultipartUpload(r -> r.bucket(location.bucket())
                .key(location.fullKey(key)).uploadId(uploadId)).thenApply(r -> null));
    }

    @Override
    public CompletableFuture<List<PendingUpload>> pendingUploads(String keyPrefix) {
        return call("list multipart uploads " + keyPrefix,
                uploadsFrom(location.fullKey(keyPrefix), null, null, new ArrayList<>()));
    }

    private CompletableFuture<List<PendingUpload>> uploadsFrom(String fullPrefix, String keyMarker, String idMarker,
                                                               List<PendingUpload> into) {
        return client.listMultipartUploads(r -> r.bucket(location.bucket()).prefix(fullPrefix).keyMarker(keyMarker)
                        .uploadIdMarker(idMarker))
                .thenCompose((ListMultipartUploadsResponse page) -> {
                    page.uploads().forEach(u -> into.add(new PendingUpload(location.relativeKey(u.key()), u.uploadId(),
                            u.initiated() == null ? Instant.EPOCH : u.initiated())));
                    return Boolean.TRUE.equals(page.isTruncated())
                            ? uploadsFrom(fullPrefix, page.nextKeyMarker(), page.nextUploadIdMarker(), into)
                            : CompletableFuture.completedFuture(into);
                });
    }

    @Override
    public void close() {
        client.close();
    }

    private PutObjectRequest.Builder putRequest(String key) {
        return PutObjectRequest.builder().bucket(location.bucket()).key(location.fullKey(key))
                .contentType("application/octet-stream");
    }

    private static AsyncRequestBody body(byte[] bytes) {
        return AsyncRequestBody.fromBytesUnsafe(bytes);
    }

    private <T> CompletableFuture<T> call(String what, CompletableFuture<T> f) {
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            if (e == null) {
                out.complete(v);
            } else {
                out.completeExceptionally(S3Errors.translate(what, where, e));
            }
        });
        return out;
    }

    private CompletableFuture<Boolean> conditional(String what, CompletableFuture<?> f) {
        CompletableFuture<Boolean> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            if (e == null) {
                out.complete(true);
                return;
            }
            ObjectStoreException x = S3Errors.translate(what, where, e);
            // 412: the condition does not hold; 404 (If-Match on a missing key) likewise
            if (x.kind() == ObjectStoreException.Kind.PRECONDITION_FAILED || S3Errors.status(e) == 404) {
                out.complete(false);
            } else {
                out.completeExceptionally(x);
            }
        });
        return out;
    }

    private <R, T> CompletableFuture<Optional<T>> missingAsEmpty(String what, CompletableFuture<R> f, Function<R, T> map) {
        CompletableFuture<Optional<T>> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            if (e == null) {
                try {
                    out.complete(Optional.of(map.apply(v)));
                } catch (RuntimeException bad) {
                    out.completeExceptionally(new ObjectStoreException(ObjectStoreException.Kind.REFUSED,
                            what + " at " + where + ": an answer we cannot read (" + bad.getMessage() + ")", bad));
                }
            } else if (S3Errors.unwrap(e) instanceof NoSuchKeyException || isMissingKey(e)) {
                out.complete(Optional.empty());
            } else {
                out.completeExceptionally(S3Errors.translate(what, where, e));
            }
        });
        return out;
    }

    /** A 404 that is not "no such bucket" (HEAD answers carry no error code at all). */
    private static boolean isMissingKey(Throwable e) {
        if (S3Errors.status(e) != 404) {
            return false;
        }
        Throwable t = S3Errors.unwrap(e);
        String code = t instanceof software.amazon.awssdk.awscore.exception.AwsServiceException s
                && s.awsErrorDetails() != null ? s.awsErrorDetails().errorCode() : null;
        return !"NoSuchBucket".equals(code);
    }

    private static String unquoted(String etag) {
        if (etag == null) {
            return "";
        }
        return etag.length() >= 2 && etag.startsWith("\"") && etag.endsWith("\"") ? etag.substring(1, etag.length() - 1) : etag;
    }

    private static String quoted(String etag) {
        return etag.startsWith("\"") ? etag : "\"" + etag + "\"";
    }
}
