package dev.zenith.objectstore.s3;

import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.ObjectStoreException.Kind;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;

import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns what the SDK throws into an {@link ObjectStoreException} that names the call and the place. */
final class S3Errors {
    private static final Set<String> TRANSIENT_CODES = Set.of("SlowDown", "RequestTimeout", "RequestTimeTooSkewed",
            "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException", "RequestLimitExceeded");
    private static final Set<String> DENIED_CODES = Set.of("AccessDenied", "InvalidAccessKeyId",
            "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AuthorizationHeaderMalformed");

    private S3Errors() {
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The HTTP status of a service error, or 0 when the server did not answer. */
    static int status(Throwable t) {
        return unwrap(t) instanceof AwsServiceException e ? e.statusCode() : 0;
    }

    static ObjectStoreException translate(String what, String where, Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof ObjectStoreException e) {
            return e;
        }
        if (t instanceof AwsServiceException e) {
            String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
            String detail = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorMessage();
            Kind kind = kind(e.statusCode(), code);
            String said = "HTTP " + e.statusCode() + (code == null ? "" : " " + code) + (detail == null ? "" : ": " + detail);
            return new ObjectStoreException(kind, what + " at " + where + ": " + describe(kind) + " (" + said + ")", t);
        }
        if (t instanceof SdkClientException || t instanceof java.io.IOException) {
            return new ObjectStoreException(Kind.UNAVAILABLE, what + " at " + where + ": server unreachable ("
                    + rootMessage(t) + ")", t);
        }
        return new ObjectStoreException(Kind.UNAVAILABLE, what + " at " + where + ": " + rootMessage(t), t);
    }

    private static Kind kind(int status, String code) {
        if (code != null && DENIED_CODES.contains(code)) {
            return Kind.ACCESS_DENIED;
        }
        if (code != null && TRANSIENT_CODES.contains(code)) {
            return Kind.UNAVAILABLE;
        }
        if ("NoSuchBucket".equals(code)) {
            return Kind.NO_SUCH_BUCKET;
        }
        if (status == 412 || "ConditionalRequestConflict".equals(code) || "PreconditionFailed".equals(code)) {
            return Kind.PRECONDITION_FAILED;
        }
        if (status == 401 || status == 403) {
            return Kind.ACCESS_DENIED;
        }
        if (status == 429 || status >= 500) {
            return Kind.UNAVAILABLE;
        }
        return Kind.REFUSED;
    }

    private static String describe(Kind kind) {
        return switch (kind) {
            case UNAVAILABLE -> "server unavailable";
            case ACCESS_DENIED -> "access denied (check the credentials and the bucket's permissions)";
            case NO_SUCH_BUCKET -> "no such bucket";
            case PRECONDITION_FAILED -> "condition not met";
            case CORRUPT -> "corrupt object";
            case REFUSED -> "refused by the server";
        };
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return root == t ? m : (t.getMessage() == null ? m : t.getMessage() + ": " + m);
    }
}
