package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Snapshot manifests for tests: a root timeline and a branch of it, with what a branch at the snapshot needs. */
public final class Snapshots {
    static final String ROOT = "0123456789abcdef0123456789abcdef";
    static final String BRANCH = "fedcba9876543210fedcba9876543210";
    static final long BRANCH_LSN = 0x2000028L;
    static final MachineFacts LAPTOP = new MachineFacts("amd64", 150006, "2.36", Optional.of("72.1"));
    static final ClusterFacts CLUSTER = new ClusterFacts("15.6", 150006, "7312345678901234567", true, 8192, 16 << 20,
            List.of(new ClusterFacts.DatabaseLocale("postgres", "libc", "C", "C", Optional.empty(), Optional.empty()),
                    new ClusterFacts.DatabaseLocale("app", "libc", "en_US.UTF-8", "en_US.UTF-8", Optional.empty(), Optional.of("2.36")),
                    new ClusterFacts.DatabaseLocale("intl", "icu", "en_US.UTF-8", "en_US.UTF-8", Optional.of("und"),
                            Optional.of("153.120"))));

    private Snapshots() {
    }

    static List<TimelineStep> lineage() {
        return List.of(new TimelineStep(ROOT, Optional.empty(), 0, 1), new TimelineStep(BRANCH, Optional.of(ROOT), BRANCH_LSN, 1));
    }

    static Entry entry(String content, Map<String, String> labels) {
        ContentHash h = ContentHash.ofContent(content.getBytes());
        return new Entry(ObjectNames.blob(h), h, content.length(), content.length() + 48, labels);
    }

    /** One object: its content and labels. */
    public record Spec(String content, Map<String, String> labels) {
    }

    /** What a branch at 0/3000060 on BRANCH needs: the root's WAL to the branch point, the branch's WAL, an image and an anchor. */
    public static List<Spec> specs(String salt) {
        List<Spec> out = new ArrayList<>();
        out.add(new Spec("root wal 1", Map.of("kind", "wal", "timeline", ROOT, "start", "0/1000000", "end", "0/2000000")));
        out.add(new Spec("root wal 2", Map.of("kind", "wal", "timeline", ROOT, "start", "0/2000000", "end", "0/3000000")));
        out.add(new Spec("branch wal " + salt, Map.of("kind", "wal", "timeline", BRANCH, "start", "0/2000028", "end", "0/3000060")));
        out.add(new Spec("image", Map.of("kind", "image", "timeline", ROOT, "lsn", "0/1800000")));
        out.add(new Spec("anchor", Map.of("kind", "anchor", "timeline", BRANCH, "lsn", "0/2800000")));
        out.add(new Spec("versions " + salt, Map.of("kind", "versions", "timeline", BRANCH, "from", "0/2000028", "to", "0/3000000")));
        out.add(new Spec("relations", Map.of("kind", "meta", "name", "relations")));
        return out;
    }

    static List<Entry> objects(String salt) {
        return specs(salt).stream().map(s -> entry(s.content(), s.labels())).toList();
    }

    public static SnapshotManifest manifest(String ref, List<Entry> objects, String pushedBy) {
        return new SnapshotManifest(SnapshotRef.parse(ref), 0x3000060L, lineage(), CLUSTER, LAPTOP, objects, Optional.empty(),
                Instant.parse("2026-12-06T04:30:00Z"), pushedBy);
    }
}
