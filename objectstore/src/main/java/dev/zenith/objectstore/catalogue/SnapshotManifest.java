package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames;

import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A snapshot pushed to a remote: everything a daemon that never saw the source needs to branch it.
 *
 * <ul>
 *   <li>{@code ref} and {@code lsn}: the snapshot's name and the LSN it names on the last timeline of
 *       {@code lineage} (root first, each step's parent the one before it);</li>
 *   <li>{@code objects}: content-addressed blobs (each a {@link Entry} whose labels say what it is):
 *       {@code kind=image|anchor, timeline, lsn}; {@code kind=versions, timeline, from, to};
 *       {@code kind=wal, timeline, start, end}; {@code kind=meta, name}. At least one image and one
 *       anchor; every timeline label names a lineage timeline; images, anchors and versions lie at or
 *       below what the snapshot sees of their timeline (its branch point for an ancestor, the
 *       snapshot LSN for its own), and WAL starts below it;</li>
 *   <li>{@code cluster}, {@code machine}: what the cluster is and where it was pushed from (checked
 *       by {@link Compatibility} on pull);</li>
 *   <li>{@code replaces}: the version of the same name this one overwrites (a forced push);
 *       {@code pushedAt}, {@code pushedBy}: provenance.</li>
 * </ul>
 *
 * Two manifests hold the same snapshot when their {@link #contentId()} is equal: it covers the name,
 * LSN, lineage, cluster facts and objects (keys, labels, content lengths), not provenance, the
 * pushing machine, what it replaces, or stored lengths (which depend on the compressor's version).
 */
public record SnapshotManifest(SnapshotRef ref, long lsn, List<TimelineStep> lineage, ClusterFacts cluster,
                               MachineFacts machine, List<Entry> objects, Optional<String> replaces, Instant pushedAt,
                               String pushedBy) {
    public static final Set<String> KINDS = Set.of("image", "anchor", "versions", "wal", "meta");

    public SnapshotManifest {
        lineage = List.copyOf(lineage);
        objects = List.copyOf(objects);
        validateLineage(lineage, lsn);
        validateObjects(objects, limits(lineage, lsn));
        replaces.ifPresent(r -> CatalogueNames.parse(r).filter(n -> n.ref().equals(ref)).orElseThrow(() ->
                new IllegalArgumentException("a version of " + ref + " replaces another version of it, not " + r)));
    }

    /** The timeline the snapshot is on. */
    public String timeline() {
        return lineage.get(lineage.size() - 1).timeline();
    }

    /** SHA-256 (hex) of what the snapshot holds: equal for two pushes of the same snapshot. */
    public String contentId() {
        return SnapshotManifestCodec.contentId(this);
    }

    public SnapshotManifest replacing(Optional<String> version) {
        return new SnapshotManifest(ref, lsn, lineage, cluster, machine, objects, version, pushedAt, pushedBy);
    }

    private static void validateLineage(List<TimelineStep> lineage, long lsn) {
        if (lineage.isEmpty() || lineage.get(0).parent().isPresent()) {
            throw new IllegalArgumentException("a lineage starts at a root timeline");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lineage.size(); i++) {
            TimelineStep t = lineage.get(i);
            if (!seen.add(t.timeline())) {
                throw new IllegalArgumentException("timeline " + t.timeline() + " is twice in the lineage");
            }
            if (i > 0) {
                TimelineStep parent = lineage.get(i - 1);
                if (!t.parent().equals(Optional.of(parent.timeline()))) {
                    throw new IllegalArgumentException("timeline " + t.timeline() + " follows " + parent.timeline()
                            + " in the lineage but names " + t.parent().orElse("no parent"));
                }
                if (Long.compareUnsigned(t.branchLsn(), parent.branchLsn()) < 0) {
                    throw new IllegalArgumentException("timeline " + t.timeline() + " branches at "
                            + Lsns.format(t.branchLsn()) + ", below its parent's own branch point " + Lsns.format(parent.branchLsn()));
                }
            }
        }
        long last = lineage.get(lineage.size() - 1).branchLsn();
        if (Long.compareUnsigned(lsn, last) < 0) {
            throw new IllegalArgumentException("the snapshot LSN " + Lsns.format(lsn) + " is below its timeline's branch point "
                    + Lsns.format(last));
        }
    }

    /** The highest LSN the snapshot sees of each timeline: an ancestor's up to its child's branch point. */
    private static Map<String, Long> limits(List<TimelineStep> lineage, long lsn) {
        Map<String, Long> limits = new HashMap<>();
        for (int i = 0; i < lineage.size(); i++) {
            limits.put(lineage.get(i).timeline(), i + 1 < lineage.size() ? lineage.get(i + 1).branchLsn() : lsn);
        }
        return limits;
    }

    private static void validateObjects(List<Entry> objects, Map<String, Long> limits) {
        boolean image = false;
        boolean anchor = false;
        for (Entry e : objects) {
            if (ObjectNames.blobHash(e.key()).isEmpty()) {
                throw new IllegalArgumentException("object " + e.key() + " is not a content-addressed blob");
            }
            String kind = e.labels().getOrDefault("kind", "");
            if (!KINDS.contains(kind)) {
                throw new IllegalArgumentException("object " + e.key() + " has kind '" + kind + "', not one of " + KINDS);
            }
            if (kind.equals("meta")) {
                label(e, "name");
                continue;
            }
            String timeline = label(e, "timeline");
            Long limit = limits.get(timeline);
            if (limit == null) {
                throw new IllegalArgumentException("object " + e.key() + " is of timeline " + timeline + ", not in the lineage");
            }
            switch (kind) {
                case "image", "anchor" -> {
                    atOrBelow(e, lsnLabel(e, "lsn"), limit);
                    image |= kind.equals("image");
                    anchor |= kind.equals("anchor");
                }
                case "versions" -> {
                    long from = lsnLabel(e, "from");
                    long to = lsnLabel(e, "to");
                    if (Long.compareUnsigned(from, to) > 0) {
                        throw new IllegalArgumentException("object " + e.key() + " has versions from " + Lsns.format(from)
                                + " to " + Lsns.format(to));
                    }
                    atOrBelow(e, to, limit);
                }
                default -> { // wal: may end past the limit (whole segments are shared by related pushes), not start there
                    long start = lsnLabel(e, "start");
                    long end = lsnLabel(e, "end");
                    if (Long.compareUnsigned(start, end) >= 0 || Long.compareUnsigned(start, limit) >= 0) {
                        throw new IllegalArgumentException("object " + e.key() + " holds WAL " + Lsns.format(start) + " to "
                                + Lsns.format(end) + ", not a range the snapshot needs (it sees up to " + Lsns.format(limit) + ")");
                    }
                }
            }
        }
        if (!image || !anchor) {
            throw new IllegalArgumentException("a snapshot needs at least one image and one anchor");
        }
    }

    private static String label(Entry e, String name) {
        String v = e.labels().get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("object " + e.key() + " has no label '" + name + "'");
        }
        return v;
    }

    private static long lsnLabel(Entry e, String name) {
        return Lsns.parse(label(e, name));
    }

    private static void atOrBelow(Entry e, long at, long limit) {
        if (Long.compareUnsigned(at, limit) > 0) {
            throw new IllegalArgumentException("object " + e.key() + " is at " + Lsns.format(at)
                    + ", past what the snapshot sees of its timeline (" + Lsns.format(limit) + ")");
        }
    }
}
