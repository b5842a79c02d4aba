package dev.zenith.storage.meta;

import dev.zenith.storage.failure.StoreFormatException;
import dev.zenith.storage.image.FileEntry;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ManifestCodec;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineCodec;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stored documents are written in snake_case, and the camelCase ones older stores hold still read. */
class StoredJsonTest {
    private static final Instant CREATED = Instant.parse("2026-01-02T03:04:05.123456Z");

    @Test
    void timelinesAreWrittenInSnakeCaseAndReadInEitherCasing() {
        Timeline t = new Timeline(TimelineId.random(), TimelineId.random(), Lsn.parse("0/3000028"), 7, CREATED);
        String json = new String(TimelineCodec.encode(t), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"branch_lsn\"") && json.contains("\"pg_timeline\"") && json.contains("\"created_at\""), json);
        assertFalse(json.matches(".*\"[a-z]+[A-Z].*"), "no camelCase name: " + json);
        assertEquals(t, TimelineCodec.decode(TimelineCodec.encode(t)));

        String old = "{\"id\":\"" + t.id() + "\",\"parent\":\"" + t.parent() + "\",\"branchLsn\":\"0/3000028\","
                + "\"pgTimeline\":7,\"createdAt\":\"" + CREATED + "\"}";
        assertEquals(t, TimelineCodec.decode(old.getBytes(StandardCharsets.UTF_8)), "a record of an older store");
    }

    @Test
    void imageManifestsAreWrittenInSnakeCaseAndReadInEitherCasing() {
        TimelineId tl = TimelineId.random();
        ImageManifest m = new ImageManifest(tl, Lsn.parse("0/2000060"), Lsn.parse("0/2000028"), CREATED, 1, "ab12",
                List.of(new RelationSize(RelTag.of(1663, 5, 1259, ForkNumber.MAIN), 3)),
                List.of(new FileEntry("PG_VERSION", "cd34", 3)), List.of("base/5"));
        String json = new String(ManifestCodec.encode(m), StandardCharsets.UTF_8);
        assertFalse(json.matches(".*\"[a-z]+[A-Z].*"), "no camelCase name: " + json);
        assertEquals(m, ManifestCodec.decode(ManifestCodec.encode(m)));

        String old = "{\"timeline\":\"" + tl + "\",\"lsn\":\"0/2000060\",\"redoLsn\":\"0/2000028\",\"createdAt\":\""
                + CREATED + "\",\"dataChecksumVersion\":1,\"pgControl\":\"ab12\",\"relations\":[[1663,5,1259,0,3]],"
                + "\"files\":[{\"path\":\"PG_VERSION\",\"sha256\":\"cd34\",\"size\":3}],\"directories\":[\"base/5\"]}";
        assertEquals(m, ManifestCodec.decode(old.getBytes(StandardCharsets.UTF_8)), "a manifest of an older store");
    }

    @Test
    void aDocumentMissingAFieldIsAFormatError() {
        String json = "{\"id\":\"" + TimelineId.random() + "\",\"parent\":null,\"pg_timeline\":1,\"created_at\":\"" + CREATED + "\"}";
        StoreFormatException e = assertThrows(StoreFormatException.class,
                () -> TimelineCodec.decode(json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("branch_lsn"), e.getMessage());
    }
}
