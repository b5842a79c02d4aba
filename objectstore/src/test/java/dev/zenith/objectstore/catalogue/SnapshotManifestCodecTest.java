package dev.zenith.objectstore.catalogue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectFrame;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.zenith.objectstore.catalogue.Snapshots.BRANCH;
import static dev.zenith.objectstore.catalogue.Snapshots.CLUSTER;
import static dev.zenith.objectstore.catalogue.Snapshots.LAPTOP;
import static dev.zenith.objectstore.catalogue.Snapshots.ROOT;
import static dev.zenith.objectstore.catalogue.Snapshots.entry;
import static dev.zenith.objectstore.catalogue.Snapshots.lineage;
import static dev.zenith.objectstore.catalogue.Snapshots.manifest;
import static dev.zenith.objectstore.catalogue.Snapshots.objects;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SnapshotManifestCodecTest {
    private static final String KEY = CatalogueNames.key(SnapshotRef.parse("main@before"), 1, "00000000000000aa");

    @Test
    void roundTripsEverythingAPulledBranchNeeds() throws Exception {
        SnapshotManifest m = manifest("main@before", objects("x"), "alice@laptop");
        byte[] stored = SnapshotManifestCodec.encode(m);
        assertEquals(m, SnapshotManifestCodec.decode(KEY, stored));
        var json = new ObjectMapper().readTree(SnapshotManifestCodec.toJson(stored));
        assertEquals("main@before", json.get("snapshot").asText());
        assertEquals("0/3000060", json.get("lsn").asText());
        assertEquals("0/2000028", json.get("lineage").get(1).get("branch_lsn").asText());
        assertEquals("7312345678901234567", json.get("cluster").get("system_identifier").asText());
        assertEquals("2.36", json.get("cluster").get("databases").get(1).get("collation_version").asText());
        assertEquals("amd64", json.get("machine").get("architecture").asText());
        assertEquals(m.contentId(), json.get("content_id").asText());
        assertEquals(BRANCH, m.timeline());

        SnapshotManifest forced = m.replacing(Optional.of(CatalogueNames.key(m.ref(), 0, "0000000000000001")));
        assertEquals(forced, SnapshotManifestCodec.decode(KEY, SnapshotManifestCodec.encode(forced)));
    }

    @Test
    void theContentIdIsTheSnapshotNotItsPush() {
        SnapshotManifest m = manifest("main@before", objects("x"), "alice@laptop");
        List<Entry> shuffled = new ArrayList<>(objects("x"));
        Collections.reverse(shuffled);
        List<Entry> recompressed = shuffled.stream().map(e -> new Entry(e.key(), e.hash(), e.contentLength(),
                e.storedLength() + 7, e.labels())).toList();
        SnapshotManifest samePushedElsewhere = new SnapshotManifest(m.ref(), m.lsn(), m.lineage(), m.cluster(),
                new MachineFacts("amd64", 150008, "2.39", Optional.empty()), recompressed,
                Optional.of(CatalogueNames.key(m.ref(), 1, "0000000000000001")), Instant.now(), "bob@desktop");
        assertEquals(m.contentId(), samePushedElsewhere.contentId());

        assertNotEquals(m.contentId(), manifest("main@before", objects("y"), "alice@laptop").contentId(), "other WAL");
        assertNotEquals(m.contentId(), manifest("main@after", objects("x"), "alice@laptop").contentId(), "other name");
        List<Entry> relabelled = new ArrayList<>(objects("x"));
        Entry image = relabelled.get(3);
        relabelled.set(3, new Entry(image.key(), image.hash(), image.contentLength(), image.storedLength(),
                Map.of("kind", "image", "timeline", ROOT, "lsn", "0/1700000")));
        assertNotEquals(m.contentId(), manifest("main@before", relabelled, "alice@laptop").contentId(), "other labels");
    }

    @Test
    void anyFlippedByteAnotherNameOrAForgedContentIdIsRefused() throws Exception {
        byte[] stored = SnapshotManifestCodec.encode(manifest("main@before", objects("x"), "alice@laptop"));
        SnapshotManifest original = SnapshotManifestCodec.decode(KEY, stored);
        int refused = 0;
        for (int i = 0; i < stored.length; i++) {
            byte[] bad = stored.clone();
            bad[i] ^= 0x20;
            try {
                // a flip in bits zstd does not read (seen: one byte of 1141) decodes to the same, verified content
                assertEquals(original, SnapshotManifestCodec.decode(KEY, bad), "byte " + i + " changed what is read");
            } catch (CorruptObjectException e) {
                assertTrue(e.getMessage().startsWith("snapshot manifest " + KEY + " is corrupt: "), e.getMessage());
                refused++;
            }
        }
        assertTrue(refused > stored.length * 99 / 100, refused + " of " + stored.length);
        String other = CatalogueNames.key(SnapshotRef.parse("main@after"), 1, "00000000000000aa");
        CorruptObjectException renamed = assertThrows(CorruptObjectException.class, () -> SnapshotManifestCodec.decode(other, stored));
        assertTrue(renamed.getMessage().contains("it holds main@before, not main@after"), renamed.getMessage());

        ObjectMapper json = new ObjectMapper();
        ObjectNode forged = (ObjectNode) json.readTree(SnapshotManifestCodec.toJson(stored));
        forged.put("lsn", "0/3000070"); // the snapshot moved, the id did not
        CorruptObjectException e = assertThrows(CorruptObjectException.class,
                () -> SnapshotManifestCodec.decode(KEY, ObjectFrame.encode(json.writeValueAsBytes(forged)).bytes()));
        assertTrue(e.getMessage().contains("content_id is not what its content gives"), e.getMessage());

        ObjectNode mistyped = (ObjectNode) json.readTree(SnapshotManifestCodec.toJson(stored));
        ((ObjectNode) mistyped.get("cluster")).put("data_checksums", "yes");
        e = assertThrows(CorruptObjectException.class,
                () -> SnapshotManifestCodec.decode(KEY, ObjectFrame.encode(json.writeValueAsBytes(mistyped)).bytes()));
        assertTrue(e.getMessage().contains("'data_checksums' is not true or false"), e.getMessage());
    }

    @Test
    void aManifestThatCouldNotBranchIsRefusedNamingWhy() {
        List<TimelineStep> orphan = List.of(new TimelineStep(ROOT, Optional.empty(), 0, 1),
                new TimelineStep(BRANCH, Optional.of("11111111111111111111111111111111"), 0x2000028L, 1));
        assertRefused("follows " + ROOT + " in the lineage but names 1111", () -> new SnapshotManifest(
                SnapshotRef.parse("a@b"), 0x3000060L, orphan, CLUSTER, LAPTOP, objects("x"), Optional.empty(), Instant.now(), "t"));
        assertRefused("below its timeline's branch point", () -> new SnapshotManifest(SnapshotRef.parse("a@b"), 0x2000000L,
                lineage(), CLUSTER, LAPTOP, objects("x"), Optional.empty(), Instant.now(), "t"));
        assertRefused("not in the lineage", () -> withObject(entry("stray", Map.of("kind", "image",
                "timeline", "22222222222222222222222222222222", "lsn", "0/1000000"))));
        assertRefused("past what the snapshot sees of its timeline (0/2000028)", () -> withObject(entry("late image",
                Map.of("kind", "image", "timeline", ROOT, "lsn", "0/2800000")))); // the root after the branch point
        assertRefused("not a range the snapshot needs", () -> withObject(entry("later wal",
                Map.of("kind", "wal", "timeline", BRANCH, "start", "0/3000060", "end", "0/4000000"))));
        assertRefused("has kind 'pages'", () -> withObject(entry("x", Map.of("kind", "pages", "timeline", ROOT))));
        assertRefused("not an LSN", () -> withObject(entry("x", Map.of("kind", "anchor", "timeline", ROOT, "lsn", "zz"))));
        List<Entry> noAnchor = objects("x").stream().filter(e -> !e.labels().get("kind").equals("anchor")).toList();
        assertRefused("at least one image and one anchor", () -> manifest("a@b", noAnchor, "t"));
        assertRefused("not a snapshot name", () -> SnapshotRef.parse("Main@x"));
        assertRefused("replaces another version of it", () -> manifest("a@b", objects("x"), "t")
                .replacing(Optional.of(CatalogueNames.key(SnapshotRef.parse("a@c"), 1, "0000000000000001"))));
    }

    private static SnapshotManifest withObject(Entry e) {
        List<Entry> objects = new ArrayList<>(objects("x"));
        objects.add(e);
        return manifest("a@b", objects, "t");
    }

    private static void assertRefused(String why, org.junit.jupiter.api.function.Executable make) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }
}
