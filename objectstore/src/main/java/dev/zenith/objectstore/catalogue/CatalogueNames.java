package dev.zenith.objectstore.catalogue;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a remote keeps its snapshot catalogue, beside the shared {@code blobs/}:
 *
 * <pre>
 *   snapshots/&lt;pg&gt;@&lt;snap&gt;/&lt;sequence 16 hex&gt;-&lt;nonce 16 hex&gt;   one version of a pushed snapshot (a SnapshotManifest)
 * </pre>
 *
 * A version is written once and never rewritten (no remote has a lease, several daemons write at
 * once); the sequence is one above the greatest under the name when its writer listed them, the
 * nonce is random, so two writers never share a key. Key order is sequence order.
 */
public final class CatalogueNames {
    public static final String SNAPSHOTS = "snapshots/";
    private static final Pattern VERSION = Pattern.compile("snapshots/([^/]+)/([0-9a-f]{16})-([0-9a-f]{16})");

    private CatalogueNames() {
    }

    /** One version's key, parsed. */
    public record Version(SnapshotRef ref, long sequence, String nonce, String key) {
    }

    public static String prefix(SnapshotRef ref) {
        return SNAPSHOTS + ref + "/";
    }

    public static String key(SnapshotRef ref, long sequence, String nonce) {
        return String.format("%s%016x-%s", prefix(ref), sequence, nonce);
    }

    /** The version a key names, or empty for any other key. */
    public static Optional<Version> parse(String key) {
        Matcher m = VERSION.matcher(key);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Version(SnapshotRef.parse(m.group(1)), Long.parseUnsignedLong(m.group(2), 16), m.group(3), key));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
