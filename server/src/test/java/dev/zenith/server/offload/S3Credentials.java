package dev.zenith.server.offload;

import dev.zenith.testkit.S3ProxyServer;

/**
 * An s3 storage takes its credentials from the AWS SDK's default chain; in-process daemons read them
 * from these system properties (a daemon process would from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
 */
final class S3Credentials {
    private S3Credentials() {
    }

    static void useFor(S3ProxyServer s3) {
        System.setProperty("aws.accessKeyId", s3.accessKey());
        System.setProperty("aws.secretAccessKey", s3.secretKey());
    }
}
