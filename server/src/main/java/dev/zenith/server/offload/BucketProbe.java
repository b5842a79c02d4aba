package dev.zenith.server.offload;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.server.domain.InvalidRequestException;

import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Before a storage is attached to a bucket prefix: can we write, read back and delete an object there?
 * Answers a clear {@link InvalidRequestException} (400) naming why not; leaves nothing behind on success.
 */
final class BucketProbe {
    private static final long TIMEOUT_SECONDS = 30;

    private BucketProbe() {
    }

    static void check(ObjectStore store, S3Remote remote) {
        String key = "probe/" + UUID.randomUUID();
        byte[] bytes = ("zenith write check " + key).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try {
            await(store.put(key, bytes));
            byte[] back = await(store.get(key)).orElseThrow(() -> new ObjectStoreException(ObjectStoreException.Kind.REFUSED,
                    "an object written there could not be read back")).bytes();
            if (!Arrays.equals(back, bytes)) {
                throw new ObjectStoreException(ObjectStoreException.Kind.CORRUPT, "an object written there read back with other bytes");
            }
            await(store.delete(key));
        } catch (ObjectStoreException e) {
            String why = switch (e.kind()) {
                case NO_SUCH_BUCKET -> "the bucket '" + remote.location().bucket() + "' does not exist";
                case ACCESS_DENIED -> "access denied (credentials come from the AWS SDK's default chain:"
                        + " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles)";
                case UNAVAILABLE -> "the server cannot be reached";
                default -> "the server refused a test write";
            };
            throw new InvalidRequestException("cannot use " + remote + " as a storage: " + why + " (" + e.getMessage() + ")");
        }
    }

    private static <T> T await(CompletableFuture<T> f) {
        return Await.result(f, TIMEOUT_SECONDS);
    }
}
