package dev.zenith.objectstore.catalogue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ManifestCodec;
import dev.zenith.objectstore.format.ObjectFrame;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

import static dev.zenith.objectstore.format.JsonFields.array;
import static dev.zenith.objectstore.format.JsonFields.bool;
import static dev.zenith.objectstore.format.JsonFields.field;
import static dev.zenith.objectstore.format.JsonFields.number;
import static dev.zenith.objectstore.format.JsonFields.object;
import static dev.zenith.objectstore.format.JsonFields.putStrings;
import static dev.zenith.objectstore.format.JsonFields.text;
import static dev.zenith.objectstore.format.JsonFields.textOrNull;

/**
 * A {@link SnapshotManifest} as JSON inside an {@link ObjectFrame} (compressed, checksummed). No I/O.
 *
 * <pre>
 * {"format":1, "kind":"zenith-snapshot", "snapshot":"main@before-migration", "lsn":"0/3000060",
 *  "content_id":"…sha256 hex…", "replaces":null | "snapshots/main@before-migration/…",
 *  "pushed_at":"2026-12-06T04:30:00Z", "pushed_by":"alice@laptop (zenith 0.1.0)",
 *  "lineage":[{"timeline":"…32 hex…","parent":null,"branch_lsn":"0/0","pg_timeline":1}, …],
 *  "cluster":{"pg_version":"15.6","pg_version_num":150006,"system_identifier":"7312…","data_checksums":true,
 *             "block_size":8192,"wal_segment_size":16777216,
 *             "databases":[{"name":"postgres","provider":"libc","collate":"en_US.UTF-8","ctype":"en_US.UTF-8",
 *                           "icu_locale":null,"collation_version":"2.36"}]},
 *  "machine":{"architecture":"amd64","pg_version_num":150006,"glibc_version":"2.36","icu_version":"72.1"},
 *  "objects":[{"key":"blobs/ab/ab…","sha256":"ab…","length":16777216,"stored":5123456,
 *              "labels":{"kind":"wal","timeline":"…","start":"0/1000000","end":"0/2000000"}}, …]}
 * </pre>
 *
 * Decoding checks the frame, every field's type, the manifest's rules ({@link SnapshotManifest}),
 * that it is stored under its own name, and that {@code content_id} is what its content gives.
 */
public final class SnapshotManifestCodec {
    private static final int FORMAT = 1;
    private static final String KIND = "zenith-snapshot";
    private static final ObjectMapper JSON = new ObjectMapper();

    private SnapshotManifestCodec() {
    }

    public static byte[] encode(SnapshotManifest m) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("kind", KIND);
        root.put("snapshot", m.ref().toString());
        root.put("lsn", Lsns.format(m.lsn()));
        root.put("content_id", m.contentId());
        root.put("replaces", m.replaces().orElse(null));
        root.put("pushed_at", m.pushedAt().toString());
        root.put("pushed_by", m.pushedBy());
        writeLineage(root, m.lineage());
        writeCluster(root, m.cluster());
        ObjectNode machine = root.putObject("machine");
        machine.put("architecture", m.machine().architecture());
        machine.put("pg_version_num", m.machine().pgVersionNum());
        machine.put("glibc_version", m.machine().glibcVersion());
        machine.put("icu_version", m.machine().icuVersion().orElse(null));
        ArrayNode objects = root.putArray("objects");
        m.objects().forEach(e -> ManifestCodec.writeEntry(objects.addObject(), e));
        return ObjectFrame.encode(bytes(root)).bytes();
    }

    /** The version stored under {@code key} ({@link CatalogueNames}); a CorruptObjectException when it is not a valid one. */
    public static SnapshotManifest decode(String key, byte[] stored) {
        String what = "snapshot manifest " + key;
        CatalogueNames.Version version = CatalogueNames.parse(key)
                .orElseThrow(() -> new IllegalArgumentException("not a snapshot version key: " + key));
        byte[] json = ObjectFrame.decode(what, stored, null);
        try {
            JsonNode root = JSON.readTree(json);
            if (root == null || !root.isObject()) {
                throw new CorruptObjectException(what, "not a JSON object");
            }
            if (number(what, root, "format") != FORMAT || !KIND.equals(text(what, root, "kind"))) {
                throw new CorruptObjectException(what, "not a zenith snapshot manifest of format " + FORMAT);
            }
            SnapshotRef ref = SnapshotRef.parse(text(what, root, "snapshot"));
            if (!ref.equals(version.ref())) {
                throw new CorruptObjectException(what, "it holds " + ref + ", not " + version.ref());
            }
            List<TimelineStep> lineage = new ArrayList<>();
            for (JsonNode t : array(what, root, "lineage")) {
                lineage.add(new TimelineStep(text(what, t, "timeline"), Optional.ofNullable(textOrNull(what, t, "parent")),
                        Lsns.parse(text(what, t, "branch_lsn")), (int) number(what, t, "pg_timeline")));
            }
            JsonNode c = object(what, root, "cluster");
            List<ClusterFacts.DatabaseLocale> databases = new ArrayList<>();
            for (JsonNode d : array(what, c, "databases")) {
                databases.add(new ClusterFacts.DatabaseLocale(text(what, d, "name"), text(what, d, "provider"),
                        text(what, d, "collate"), text(what, d, "ctype"), Optional.ofNullable(textOrNull(what, d, "icu_locale")),
                        Optional.ofNullable(textOrNull(what, d, "collation_version"))));
            }
            ClusterFacts cluster = new ClusterFacts(text(what, c, "pg_version"), (int) number(what, c, "pg_version_num"),
                    text(what, c, "system_identifier"), bool(what, c, "data_checksums"), (int) number(what, c, "block_size"),
                    (int) number(what, c, "wal_segment_size"), databases);
            JsonNode mc = object(what, root, "machine");
            MachineFacts machine = new MachineFacts(text(what, mc, "architecture"), (int) number(what, mc, "pg_version_num"),
                    text(what, mc, "glibc_version"), Optional.ofNullable(textOrNull(what, mc, "icu_version")));
            List<Entry> objects = new ArrayList<>();
            for (JsonNode o : array(what, root, "objects")) {
                objects.add(ManifestCodec.readEntry(what, o));
            }
            SnapshotManifest m = new SnapshotManifest(ref, Lsns.parse(text(what, root, "lsn")), lineage, cluster, machine,
                    objects, Optional.ofNullable(textOrNull(what, root, "replaces")), Instant.parse(text(what, root, "pushed_at")),
                    text(what, root, "pushed_by"));
            if (!m.contentId().equals(text(what, root, "content_id"))) {
                throw new CorruptObjectException(what, "its content_id is not what its content gives (" + m.contentId() + ")");
            }
            return m;
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            throw new CorruptObjectException(what, "not a valid snapshot manifest (" + e.getMessage() + ")", e);
        }
    }

    /** SHA-256 of the canonical JSON of what the snapshot holds (objects sorted, provenance left out). */
    static String contentId(SnapshotManifest m) {
        ObjectNode root = JSON.createObjectNode();
        root.put("snapshot", m.ref().toString());
        root.put("lsn", Lsns.format(m.lsn()));
        writeLineage(root, m.lineage());
        writeCluster(root, m.cluster());
        ArrayNode objects = root.putArray("objects");
        m.objects().stream()
                .sorted(Comparator.comparing(Entry::key).thenComparing(e -> new TreeMap<>(e.labels()).toString()))
                .forEach(e -> {
                    ObjectNode n = objects.addObject();
                    n.put("key", e.key());
                    n.put("length", e.contentLength());
                    putStrings(n, "labels", e.labels());
                });
        return ContentHash.ofContent(bytes(root)).hex();
    }

    private static void writeLineage(ObjectNode root, List<TimelineStep> lineage) {
        ArrayNode a = root.putArray("lineage");
        for (TimelineStep t : lineage) {
            ObjectNode n = a.addObject();
            n.put("timeline", t.timeline());
            n.put("parent", t.parent().orElse(null));
            n.put("branch_lsn", Lsns.format(t.branchLsn()));
            n.put("pg_timeline", t.pgTimeline());
        }
    }

    private static void writeCluster(ObjectNode root, ClusterFacts c) {
        ObjectNode n = root.putObject("cluster");
        n.put("pg_version", c.pgVersion());
        n.put("pg_version_num", c.pgVersionNum());
        n.put("system_identifier", c.systemIdentifier());
        n.put("data_checksums", c.dataChecksums());
        n.put("block_size", c.blockSize());
        n.put("wal_segment_size", c.walSegmentSize());
        ArrayNode dbs = n.putArray("databases");
        for (ClusterFacts.DatabaseLocale d : c.databases()) {
            ObjectNode o = dbs.addObject();
            o.put("name", d.name());
            o.put("provider", d.provider());
            o.put("collate", d.collate());
            o.put("ctype", d.ctype());
            o.put("icu_locale", d.icuLocale().orElse(null));
            o.put("collation_version", d.collationVersion().orElse(null));
        }
    }

    private static byte[] bytes(ObjectNode root) {
        try {
            return JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always writes", e);
        }
    }

    /** For tools and tests: the JSON a stored version holds. */
    public static String toJson(byte[] stored) {
        return new String(ObjectFrame.decode("snapshot manifest", stored, null), StandardCharsets.UTF_8);
    }
}
