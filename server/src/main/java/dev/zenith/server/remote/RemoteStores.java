package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a remote's object store: S3 with the SDK's credential chain (AWS_ACCESS_KEY_ID..., ~/.aws, or the
 * aws.accessKeyId system properties), or a directory, made when missing. Blocking.
 */
final class RemoteStores {
    private RemoteStores() {
    }

    static ObjectStore open(Remote remote) throws IOException {
        if (remote.isS3()) {
            S3Settings settings = S3Settings.of(S3Location.parse(remote.url()));
            if (remote.endpoint().isPresent()) {
                settings = settings.withEndpoint(URI.create(remote.endpoint().get()));
            }
            if (remote.region().isPresent()) {
                settings = settings.withRegion(remote.region().get());
            }
            return S3ObjectStore.open(settings);
        }
        Path dir = FileObjectStore.parseUrl(remote.url());
        Files.createDirectories(dir);
        return FileObjectStore.open(dir);
    }
}
