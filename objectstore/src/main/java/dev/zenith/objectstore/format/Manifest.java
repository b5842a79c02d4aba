package dev.zenith.objectstore.format;

import dev.zenith.objectstore.format.ObjectNames.ManifestName;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One step of a prefix's visible state. A full manifest lists every visible blob; a delta lists
 * the blobs it adds and the keys it removes relative to {@code previous}. Writers write a manifest
 * only after every blob it adds is stored, so a reader never sees a blob that is not whole; blobs a
 * crash left unlisted are garbage for GC.
 *
 * @param previous   the manifest this one follows (a delta's base; a full one's history), if any
 * @param properties the state that goes with the set, e.g. {@code timeline.<id>.remote_lsn}; a delta's
 *                   properties replace the previous values key by key (an empty value removes a key)
 */
public record Manifest(ManifestName name, Optional<ManifestName> previous, boolean full, Instant created,
                       List<Entry> added, List<String> removed, Map<String, String> properties) {

    public Manifest {
        added = List.copyOf(added);
        removed = List.copyOf(removed);
        properties = Map.copyOf(properties);
        if (full && !removed.isEmpty()) {
            throw new IllegalArgumentException("a full manifest removes nothing");
        }
        if (!full && previous.isEmpty()) {
            throw new IllegalArgumentException("a delta manifest needs the manifest it follows");
        }
        previous.ifPresent(p -> {
            if (p.compareTo(name) >= 0) {
                throw new IllegalArgumentException("a manifest follows an older one: " + p + " is not before " + name);
            }
        });
    }

    /**
     * One visible blob. {@code labels} say what it is for the layers above, e.g.
     * {@code kind=wal, timeline=<id>, start=<lsn>, end=<lsn>} or {@code kind=image, timeline, lsn}.
     */
    public record Entry(String key, ContentHash hash, long contentLength, long storedLength, Map<String, String> labels) {
        public Entry {
            labels = Map.copyOf(labels);
            if (contentLength < 0 || storedLength < ObjectFrame.HEADER_LENGTH) {
                throw new IllegalArgumentException("impossible lengths for " + key);
            }
            if (key.startsWith(ObjectNames.BLOBS) && !ObjectNames.blobHash(key).equals(java.util.Optional.of(hash))) {
                throw new IllegalArgumentException("blob key " + key + " does not name its hash " + hash);
            }
        }
    }
}
