package dev.zenith.objectstore.format;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The key layout under a storage's (or a remote's) prefix:
 *
 * <pre>
 *   lease                                    who holds the prefix (JSON; the one object rewritten in place)
 *   blobs/&lt;h0h1&gt;/&lt;sha256 hex&gt;               every piece of data, content-addressed, an {@link ObjectFrame}
 *   manifests/&lt;generation&gt;-&lt;sequence&gt;      what is visible: 16 hex digits each, so key order is numeric order
 * </pre>
 *
 * Blobs are immutable and idempotent (a retry or a second writer of the same content writes the
 * same bytes under the same key); the two hex digits of the hash spread keys over prefixes. A
 * blob is visible only once a manifest lists it; the newest manifest is the greatest key.
 */
public final class ObjectNames {
    public static final String LEASE = "lease";
    public static final String BLOBS = "blobs/";
    public static final String MANIFESTS = "manifests/";
    private static final Pattern BLOB = Pattern.compile("blobs/([0-9a-f]{2})/([0-9a-f]{64})");
    private static final Pattern MANIFEST = Pattern.compile("manifests/([0-9a-f]{16})-([0-9a-f]{16})");

    private ObjectNames() {
    }

    public static String blob(ContentHash hash) {
        String hex = hash.hex();
        return BLOBS + hex.substring(0, 2) + "/" + hex;
    }

    /** The hash a blob key names, or empty for any other key. */
    public static Optional<ContentHash> blobHash(String key) {
        Matcher m = BLOB.matcher(key);
        if (!m.matches() || !m.group(2).startsWith(m.group(1))) {
            return Optional.empty();
        }
        return Optional.of(ContentHash.parse(m.group(2)));
    }

    /** A manifest's name: the lease generation that wrote it, and its number within that generation's chain. */
    public record ManifestName(long generation, long sequence) implements Comparable<ManifestName> {
        public ManifestName {
            if (generation < 0 || sequence < 0) {
                throw new IllegalArgumentException("generation and sequence are not negative");
            }
        }

        public String key() {
            return String.format("%s%016x-%016x", MANIFESTS, generation, sequence);
        }

        @Override
        public int compareTo(ManifestName o) {
            int c = Long.compare(generation, o.generation);
            return c != 0 ? c : Long.compare(sequence, o.sequence);
        }

        @Override
        public String toString() {
            return key();
        }
    }

    /** The manifest a key names, or empty for any other key (garbage or another tool's objects). */
    public static Optional<ManifestName> manifestName(String key) {
        Matcher m = MANIFEST.matcher(key);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ManifestName(Long.parseLong(m.group(1), 16), Long.parseLong(m.group(2), 16)));
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // beyond a signed long: not one of ours
        }
    }
}
