package dev.zenith.server.remote;

import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.server.domain.InvalidRequestException;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A remote, as git has them: a name for a shared exchange place ({@code s3://bucket/prefix} or
 * {@code file:///dir}) that pushed snapshots go to and are pulled from. No daemon holds it: several push
 * and pull at once. Checked whole when made, so a bad one is never kept.
 */
public record Remote(String name, String url, Optional<String> endpoint, Optional<String> region) {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}");
    private static final Pattern REGION = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    public Remote {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new InvalidRequestException("invalid remote name '" + name + "': 1 to 63 letters, digits, '.', '_' or '-',"
                    + " starting with a letter or digit");
        }
        if (url == null || url.isBlank()) {
            throw new InvalidRequestException("missing url: s3://BUCKET/PREFIX or file:///DIR");
        }
        if (isS3(url)) {
            try {
                S3Location.parse(url);
            } catch (RuntimeException e) {
                throw new InvalidRequestException("invalid remote url '" + url + "': " + e.getMessage());
            }
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
        endpoint.ifPresent(e -> {
            URI uri;
            try {
                uri = URI.create(e);
            } catch (IllegalArgumentException x) {
                throw new InvalidRequestException("invalid endpoint '" + e + "': " + x.getMessage());
            }
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
                throw new InvalidRequestException("invalid endpoint '" + e + "': give http://HOST:PORT or https://HOST");
            }
        });
        region.ifPresent(r -> {
            if (!REGION.matcher(r).matches()) {
                throw new InvalidRequestException("invalid region '" + r + "': for example eu-west-1");
            }
        });
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
