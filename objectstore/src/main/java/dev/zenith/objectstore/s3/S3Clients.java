package dev.zenith.objectstore.s3;

import io.netty.util.concurrent.DefaultThreadFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.retries.StandardRetryStrategy;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;

/** Builds the SDK's async S3 client from {@link S3Settings}; the only place that knows the SDK's knobs. */
public final class S3Clients {
    private S3Clients() {
    }

    /**
     * One set of I/O threads for every client of the process. A client that makes its own closes it with Netty's
     * graceful shutdown, which waits a 2 s quiet period: every push, pull, remote listing and storage detach waited
     * that long after its work was done. A client given a group leaves it running when it closes.
     */
    private static final class SharedLoops {
        // daemon threads: nothing of theirs to finish at exit, each client's close ends its own connections
        static final SdkEventLoopGroup GROUP = SdkEventLoopGroup.builder()
                .threadFactory(new DefaultThreadFactory("zenith-s3-io", true)).build();
    }

    public static S3AsyncClient create(S3Settings s) {
        S3AsyncClientBuilder b = S3AsyncClient.builder()
                .region(region(s))
                .credentialsProvider(credentials(s))
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .eventLoopGroup(SharedLoops.GROUP)
                        .maxConcurrency(s.maxConnections())
                        .connectionTimeout(s.connectTimeout())
                        .readTimeout(s.ioTimeout())
                        .writeTimeout(s.ioTimeout())
                        // waiting for a pooled connection is queueing, not a failure of the server
                        .connectionAcquisitionTimeout(s.attemptTimeout())
                        .maxPendingConnectionAcquires(100_000))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(s.attemptTimeout())
                        .retryStrategy(retries(s))
                        .build());
        s.endpoint().ifPresent(endpoint -> b
                .endpointOverride(endpoint)
                .forcePathStyle(true)
                // SDK 2.30+ sends aws-chunked bodies with CRC trailers by default: S3-compatible servers
                // store the framing or answer 500. Our own frames carry SHA-256 checked on every read.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED));
        return b.build();
    }

    private static StandardRetryStrategy retries(S3Settings s) {
        return AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(s.sdkAttempts()).build();
    }

    private static Region region(S3Settings s) {
        if (s.region().isPresent()) {
            return Region.of(s.region().get());
        }
        if (s.endpoint().isPresent()) {
            return Region.US_EAST_1; // S3-compatible servers mostly ignore it, but SigV4 needs one
        }
        try {
            return DefaultAwsRegionProviderChain.builder().build().getRegion();
        } catch (SdkClientException e) {
            return Region.US_EAST_1;
        }
    }

    private static AwsCredentialsProvider credentials(S3Settings s) {
        if (s.accessKey().isPresent()) {
            return StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey().get(), s.secretKey().get()));
        }
        return DefaultCredentialsProvider.builder().build();
    }
}
