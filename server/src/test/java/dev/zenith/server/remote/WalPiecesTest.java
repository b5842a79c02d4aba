package dev.zenith.server.remote;

import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Where a push cuts WAL: segments, and exactly the pieces the remote lists already for the timeline. */
class WalPiecesTest {
    private static final long MIB = 1 << 20;
    private static final String TIMELINE = "8f3c0a1b2c3d4e5f8f3c0a1b2c3d4e5f";

    @Test
    void aFirstPushCutsSegments() {
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, List.of()).cut(lsn(16 * MIB), lsn(50 * MIB));
        assertEquals(List.of(piece(16, 32), piece(32, 48), piece(48, 50)), pieces);
    }

    @Test
    void aLaterPushReusesTheEarlierPiecesAndSendsOnlyWhatFollowsTheEarlierSnapshot() {
        // the first push ended at 50 MiB (its snapshot); another timeline's pieces and another kind do not count
        List<Manifest.Entry> listed = List.of(wal(TIMELINE, 16, 32), wal(TIMELINE, 32, 48), wal(TIMELINE, 48, 50),
                wal("0000000000000000000000000000000a", 50, 64), entry(Map.of("kind", "image", "start", lsn(50 * MIB).toString())));
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, listed).cut(lsn(16 * MIB), lsn(90 * MIB));
        assertEquals(List.of(piece(16, 32), piece(32, 48), piece(48, 50), piece(50, 64), piece(64, 80), piece(80, 90)), pieces);
    }

    @Test
    void listedPiecesOfOldPushesAreKeptWhateverTheirSizeAndOnesPastTheEndAreNot() {
        // 1 MiB pieces of an older push; a listed piece that ends past this push's end cannot be used
        List<Manifest.Entry> listed = List.of(wal(TIMELINE, 17, 18), wal(TIMELINE, 18, 19), wal(TIMELINE, 19, 40));
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, listed).cut(lsn(16 * MIB), lsn(30 * MIB));
        assertEquals(List.of(piece(16, 17), piece(17, 18), piece(18, 19), piece(19, 30)), pieces);
    }

    private static WalPieces.Piece piece(long fromMib, long toMib) {
        return new WalPieces.Piece(lsn(fromMib * MIB), lsn(toMib * MIB));
    }

    private static Lsn lsn(long value) {
        return Lsn.of(value);
    }

    private static Manifest.Entry wal(String timeline, long fromMib, long toMib) {
        return entry(Map.of("kind", "wal", "timeline", timeline, "start", lsn(fromMib * MIB).toString(),
                "end", lsn(toMib * MIB).toString()));
    }

    private static Manifest.Entry entry(Map<String, String> labels) {
        ContentHash hash = ContentHash.ofContent(labels.toString().getBytes());
        return new Manifest.Entry(ObjectNames.blob(hash), hash, 1, 1 << 10, labels);
    }
}
