package dev.zenith.objectstore.s3;

import java.util.regex.Pattern;

/**
 * {@code s3://bucket/prefix}: a bucket and a key prefix (no leading or trailing slash; may be
 * empty). Every key the store uses is {@code prefix/key}.
 */
public record S3Location(String bucket, String prefix) {
    // AWS's rules, plus the underscores and capitals some S3-compatible servers accept
    private static final Pattern BUCKET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{1,254}");

    public S3Location {
        if (bucket == null || !BUCKET.matcher(bucket).matches()) {
            throw new IllegalArgumentException("not a bucket name: '" + bucket + "'");
        }
        prefix = prefix == null ? "" : trimSlashes(prefix);
        if (prefix.contains("//") || prefix.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("not a key prefix: '" + prefix + "'");
        }
    }

    /** Parses {@code s3://bucket[/prefix]}; a clear IllegalArgumentException otherwise. */
    public static S3Location parse(String url) {
        if (url == null || !url.startsWith("s3://")) {
            throw new IllegalArgumentException("not an s3:// URL: '" + url + "' (expected s3://bucket/prefix)");
        }
        String rest = url.substring("s3://".length());
        int slash = rest.indexOf('/');
        return slash < 0 ? new S3Location(rest, "") : new S3Location(rest.substring(0, slash), rest.substring(slash + 1));
    }

    /** The full key of {@code key} under this prefix. */
    public String fullKey(String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
    }

    /** {@code fullKey} without this prefix (a key as the store's callers know it). */
    public String relativeKey(String fullKey) {
        return prefix.isEmpty() ? fullKey : fullKey.substring(prefix.length() + 1);
    }

    @Override
    public String toString() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    private static String trimSlashes(String s) {
        int from = 0;
        int to = s.length();
        while (from < to && s.charAt(from) == '/') {
            from++;
        }
        while (to > from && s.charAt(to - 1) == '/') {
            to--;
        }
        return s.substring(from, to);
    }
}
