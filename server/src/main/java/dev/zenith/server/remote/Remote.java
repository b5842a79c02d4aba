package dev.zenith.server.remote;

import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.offload.S3Remote;
import io.vertx.core.json.JsonObject;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A remote, as git has them: a name for a shared exchange place ({@code s3://bucket/prefix} or
 * {@code file:///dir}) that pushed snapshots go to and are pulled from. No daemon holds it: several push
 * and pull at once. Checked whole when made, so a bad one is never kept.
 */
public record Remote(String name, String url, Optional<String> endpoint, Optional<String> region) {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}");

    public Remote {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new InvalidRequestException("invalid remote name '" + name + "': 1 to 63 letters, digits, '.', '_' or '-',"
                    + " starting with a letter or digit");
        }
        if (url == null || url.isBlank()) {
            throw new InvalidRequestException("missing url: s3://BUCKET/PREFIX or file:///DIR");
        }
        if (isS3(url)) {
            s3(url, endpoint, region); // the checks an s3 storage's place gets
        } else if (url.startsWith("file:")) {
            try {
                FileObjectStore.parseUrl(url);
            } catch (RuntimeException e) {
                throw new InvalidRequestException("invalid remote url '" + url + "': " + e.getMessage());
            }
            if (endpoint.isPresent() || region.isPresent()) {
                throw new InvalidRequestException("--endpoint and --region are for s3:// remotes, not " + url);
            }
        } else {
            throw new InvalidRequestException("invalid remote url '" + url + "': give s3://BUCKET/PREFIX or file:///DIR");
        }
    }

    /** Where an s3 remote is, as an s3 storage's place is given. */
    S3Remote s3() {
        return s3(url, endpoint, region);
    }

    private static S3Remote s3(String url, Optional<String> endpoint, Optional<String> region) {
        return S3Remote.parse(url, endpoint.orElse(null), region.orElse(null));
    }

    public boolean isS3() {
        return isS3(url);
    }

    private static boolean isS3(String url) {
        return url.startsWith("s3://");
    }

    public JsonObject toJson() {
        return new JsonObject().put("name", name).put("url", url).put("endpoint", endpoint.orElse(null))
                .put("region", region.orElse(null));
    }

    public static Remote fromJson(JsonObject j) {
        return new Remote(j.getString("name"), j.getString("url"), Optional.ofNullable(j.getString("endpoint")),
                Optional.ofNullable(j.getString("region")));
    }
}
