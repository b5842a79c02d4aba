package dev.zenith.server.remote;

import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.objectstore.s3.S3ObjectStore;

import java.io.IOException;
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
            return S3ObjectStore.open(remote.s3().settings());
        }
        Path dir = FileObjectStore.parseUrl(remote.url());
        Files.createDirectories(dir);
        return FileObjectStore.open(dir);
    }
}
