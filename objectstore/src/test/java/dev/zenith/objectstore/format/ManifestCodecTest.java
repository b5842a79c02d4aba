package dev.zenith.objectstore.format;

import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestCodecTest {
    private static final ContentHash H = ContentHash.ofContent(new byte[]{1, 2, 3});

    @Test
    void roundTripsAFullAndADeltaManifest() {
        Entry wal = new Entry(ObjectNames.blob(H), H, 3, 60, Map.of("kind", "wal", "timeline", "ab", "start", "0/1000000"));
        Manifest full = new Manifest(new ManifestName(2, 1), Optional.empty(), true, Instant.parse("2026-12-06T04:30:00Z"),
                List.of(wal), List.of(), Map.of("timeline.ab.remote_lsn", "0/1000028"));
        String key = full.name().key();
        assertEquals("manifests/0000000000000002-0000000000000001", key);
        assertEquals(full, ManifestCodec.decode(key, ManifestCodec.encode(full)));

        Manifest delta = new Manifest(new ManifestName(2, 2), Optional.of(full.name()), false, Instant.now(),
                List.of(), List.of(wal.key()), Map.of("timeline.ab.remote_lsn", ""));
        assertEquals(delta, ManifestCodec.decode(delta.name().key(), ManifestCodec.encode(delta)));
    }

    @Test
    void aManifestUnderAnotherNameOrWithAFlippedByteIsRefused() {
        Manifest m = new Manifest(new ManifestName(1, 7), Optional.empty(), true, Instant.now(), List.of(), List.of(), Map.of());
        byte[] stored = ManifestCodec.encode(m);
        CorruptObjectException renamed = assertThrows(CorruptObjectException.class,
                () -> ManifestCodec.decode(new ManifestName(1, 8).key(), stored));
        assertTrue(renamed.getMessage().contains("names itself"), renamed.getMessage());
        byte[] bad = stored.clone();
        bad[bad.length / 2] ^= 0x40;
        CorruptObjectException flipped = assertThrows(CorruptObjectException.class, () -> ManifestCodec.decode(m.name().key(), bad));
        assertTrue(flipped.getMessage().startsWith("manifest manifests/0000000000000001-0000000000000007 is corrupt"),
                flipped.getMessage());
    }

    @Test
    void namesParseBackAndSortNumerically() {
        assertEquals(Optional.of(H), ObjectNames.blobHash(ObjectNames.blob(H)));
        assertEquals(Optional.empty(), ObjectNames.blobHash("blobs/00/" + H.hex()), "the shard must be the hash's first byte");
        assertEquals(Optional.empty(), ObjectNames.blobHash("lease"));
        ManifestName a = new ManifestName(1, 0xff);
        ManifestName b = new ManifestName(2, 1);
        assertTrue(a.key().compareTo(b.key()) < 0 && a.compareTo(b) < 0);
        assertEquals(Optional.of(b), ObjectNames.manifestName(b.key()));
        assertEquals(Optional.empty(), ObjectNames.manifestName("manifests/ffffffffffffffff-0000000000000000"));
        assertThrows(IllegalArgumentException.class, () -> new Entry("blobs/00/" + "1".repeat(64), H, 3, 60, Map.of()));
    }
}
