package dev.zenith.objectstore.s3;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * How to reach one bucket prefix. An {@code endpoint} means an S3-compatible server (MinIO, Ceph,
 * R2, S3Proxy...): path-style addressing, and checksums only where an operation requires them
 * (several such servers store or refuse the SDK's default {@code aws-chunked} CRC trailers).
 * Credentials: explicit, or the SDK's default provider chain (environment, system properties,
 * profile, container or instance roles) when {@code accessKey} is empty.
 *
 * @param region             empty: the SDK's region chain, else {@code us-east-1}
 * @param maxConnections     concurrent HTTP connections (and so requests) to the server
 * @param connectTimeout     TCP connect
 * @param ioTimeout          no byte read or written for this long fails the request
 * @param attemptTimeout     one HTTP attempt, whole (a part upload must fit)
 * @param sdkAttempts        attempts the SDK makes itself (with its backoff) before the caller's retries
 */
public record S3Settings(S3Location location, Optional<URI> endpoint, Optional<String> region,
                         Optional<String> accessKey, Optional<String> secretKey,
                         int maxConnections, Duration connectTimeout, Duration ioTimeout,
                         Duration attemptTimeout, int sdkAttempts) {

    public S3Settings {
        if (accessKey.isPresent() != secretKey.isPresent()) {
            throw new IllegalArgumentException("give both an access key and a secret key, or neither");
        }
        if (maxConnections < 1 || sdkAttempts < 1) {
            throw new IllegalArgumentException("maxConnections and sdkAttempts must be at least 1");
        }
    }

    /** Defaults for a laptop: 16 connections, 5 s connect, 30 s idle I/O, 2 min per attempt, 3 SDK attempts. */
    public static S3Settings of(S3Location location) {
        return new S3Settings(location, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                16, Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofMinutes(2), 3);
    }

    public S3Settings withEndpoint(URI endpoint) {
        return new S3Settings(location, Optional.of(endpoint), region, accessKey, secretKey, maxConnections,
                connectTimeout, ioTimeout, attemptTimeout, sdkAttempts);
    }

    public S3Settings withRegion(String region) {
        return new S3Settings(location, endpoint, Optional.of(region), accessKey, secretKey, maxConnections,
                connectTimeout, ioTimeout, attemptTimeout, sdkAttempts);
    }

    public S3Settings withCredentials(String accessKey, String secretKey) {
        return new S3Settings(location, endpoint, region, Optional.of(accessKey), Optional.of(secretKey),
                maxConnections, connectTimeout, ioTimeout, attemptTimeout, sdkAttempts);
    }

    public S3Settings withLimits(int maxConnections, Duration connectTimeout, Duration ioTimeout,
                                 Duration attemptTimeout, int sdkAttempts) {
        return new S3Settings(location, endpoint, region, accessKey, secretKey, maxConnections,
                connectTimeout, ioTimeout, attemptTimeout, sdkAttempts);
    }
}
