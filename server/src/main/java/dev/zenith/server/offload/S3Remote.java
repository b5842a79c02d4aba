package dev.zenith.server.offload;

import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.server.domain.InvalidRequestException;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;

/**
 * Where an s3 storage lives: {@code s3://bucket/prefix}, an optional endpoint (an S3-compatible server:
 * path-style addressing) and region. Credentials are never kept here: the SDK's default chain finds them.
 */
public record S3Remote(S3Location location, Optional<URI> endpoint, Optional<String> region) {

    /** The user's words, checked: a clear {@link InvalidRequestException} otherwise. */
    public static S3Remote parse(String url, String endpoint, String region) {
        if (url == null || url.isBlank()) {
            throw new InvalidRequestException("field 'path' is required for an s3 storage: s3://bucket/prefix");
        }
        S3Location location;
        try {
            location = S3Location.parse(url.trim());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage());
        }
        Optional<URI> uri = Optional.empty();
        if (endpoint != null && !endpoint.isBlank()) {
            try {
                URI u = new URI(endpoint.trim());
                if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                    throw new URISyntaxException(endpoint, "expected http(s)://host[:port]");
                }
                uri = Optional.of(u);
            } catch (URISyntaxException e) {
                throw new InvalidRequestException("endpoint '" + endpoint + "' is not a URL: " + e.getReason());
            }
        }
        Optional<String> r = region == null || region.isBlank() ? Optional.empty() : Optional.of(region.trim());
        if (r.isPresent() && !r.get().matches("[a-z0-9-]{1,64}")) {
            throw new InvalidRequestException("region '" + region + "' is not a region name (like eu-west-1)");
        }
        return new S3Remote(location, uri, r);
    }

    public static S3Remote fromJson(JsonObject json) {
        return parse(json.getString("url"), json.getString("endpoint"), json.getString("region"));
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject().put("url", location.toString());
        endpoint.ifPresent(e -> json.put("endpoint", e.toString()));
        region.ifPresent(r -> json.put("region", r));
        return json;
    }

    /** The same bucket prefix on the same server (a storage there is attached once). */
    public boolean samePlace(S3Remote other) {
        return location.equals(other.location) && endpoint.equals(other.endpoint);
    }

    public S3Settings settings() {
        S3Settings s = S3Settings.of(location);
        if (endpoint.isPresent()) {
            s = s.withEndpoint(endpoint.get());
        }
        if (region.isPresent()) {
            s = s.withRegion(region.get());
        }
        return s;
    }

    @Override
    public String toString() {
        return location + endpoint.map(e -> " at " + e).orElse("");
    }
}
