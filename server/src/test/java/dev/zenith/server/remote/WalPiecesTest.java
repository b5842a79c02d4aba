package dev.zenith.server.remote;

import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Where a push cuts WAL: every 8 MiB, and exactly the pieces the remote lists already for the timeline. */
class WalPiecesTest {
    private static final long MIB = 1 << 20;
    private static final String TIMELINE = "8f3c0a1b2c3d4e5f8f3c0a1b2c3d4e5f";

    @Test
    void aFirstPushCutsEvery8MiB() {
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, List.of()).cut(lsn(16 * MIB), lsn(42 * MIB));
        assertEquals(List.of(piece(16, 24), piece(24, 32), piece(32, 40), piece(40, 42)), pieces);
    }

    @Test
    void aLaterPushReusesTheEarlierPiecesAndSendsOnlyWhatFollowsTheEarlierSnapshot() {
        // the first push ended at 42 MiB (its snapshot); another timeline's pieces and another kind do not count
        List<Manifest.Entry> listed = List.of(wal(TIMELINE, 16, 24), wal(TIMELINE, 24, 32), wal(TIMELINE, 32, 40),
                wal(TIMELINE, 40, 42), wal("0000000000000000000000000000000a", 42, 48),
                entry(Map.of("kind", "image", "start", lsn(42 * MIB).toString())));
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, listed).cut(lsn(16 * MIB), lsn(60 * MIB));
        assertEquals(List.of(piece(16, 24), piece(24, 32), piece(32, 40), piece(40, 42), piece(42, 48), piece(48, 56),
                piece(56, 60)), pieces);
    }

    @Test
    void listedPiecesOfOldPushesAreKeptWhateverTheirSizeAndOnesPastTheEndAreNot() {
        // 1 MiB pieces of an older push; a listed piece that ends past this push's end cannot be used
        List<Manifest.Entry> listed = List.of(wal(TIMELINE, 17, 18), wal(TIMELINE, 18, 19), wal(TIMELINE, 19, 40));
        List<WalPieces.Piece> pieces = WalPieces.listedFor(TIMELINE, listed).cut(lsn(16 * MIB), lsn(30 * MIB));
        assertEquals(List.of(piece(16, 17), piece(17, 18), piece(18, 19), piece(19, 24), piece(24, 30)), pieces);
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
