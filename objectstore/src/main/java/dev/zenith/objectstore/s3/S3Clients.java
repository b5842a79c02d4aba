package dev.zenith.objectstore.s3;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
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
import software.amazon.awssdk.services.s3.DelegatingS3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;

import java.util.concurrent.TimeUnit;

/** Builds the SDK's async S3 client from {@link S3Settings}; the only place that knows the SDK's knobs. */
public final class S3Clients {
    private S3Clients() {
    }

    /**
     * I/O threads per client, owned here rather than by the SDK: the SDK closes a group it made with Netty's graceful
     * shutdown, which waits a 2 s quiet period (every push, pull, remote listing and storage detach waited that long
     * after its work was done); we shut ours down without one. Not shared between clients: one client whose thread is
     * held up (a stopped server, a slow callback) must not stall every other client's connections and timeouts.
     */
    private static final int IO_THREADS = Math.max(2, Runtime.getRuntime().availableProcessors());

    public static S3AsyncClient create(S3Settings s) {
        // daemon threads: nothing of theirs to finish at exit, the client's close ends its connections first
        EventLoopGroup loops = new NioEventLoopGroup(IO_THREADS, new DefaultThreadFactory("zenith-s3-io", true));
        try {
            return new ClientWithLoops(build(s, loops), loops);
        } catch (RuntimeException e) {
            loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    /** The SDK's client, and on close its I/O threads stopped at once (their connections are closed by then). */
    private static final class ClientWithLoops extends DelegatingS3AsyncClient {
        private final EventLoopGroup loops;

        ClientWithLoops(S3AsyncClient client, EventLoopGroup loops) {
            super(client);
            this.loops = loops;
        }

        @Override
        public void close() {
            try {
                super.close();
            } finally {
                loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            }
        }
    }

    private static S3AsyncClient build(S3Settings s, EventLoopGroup loops) {
        S3AsyncClientBuilder b = S3AsyncClient.builder()
                .region(region(s))
                .credentialsProvider(credentials(s))
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .eventLoopGroup(SdkEventLoopGroup.create(loops))
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
