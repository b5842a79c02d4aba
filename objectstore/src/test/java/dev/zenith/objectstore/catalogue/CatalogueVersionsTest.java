package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.catalogue.CatalogueVersions.Listed;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CatalogueVersionsTest {
    private static final SnapshotRef REF = SnapshotRef.parse("main@s");

    private static String key(long seq, String nonce) {
        return CatalogueNames.key(REF, seq, nonce);
    }

    private static Listed v(long seq, String nonce, Listed replaces) {
        return new Listed(key(seq, nonce), Optional.ofNullable(replaces).map(Listed::key), "c" + seq + nonce);
    }

    @Test
    void theSmallestRootThenTheSmallestReplacementEachTime() {
        assertEquals(Optional.empty(), CatalogueVersions.current(List.of()));
        Listed a = v(1, "00000000000000bb", null);
        Listed racedA = v(1, "00000000000000cc", null); // a pusher that lost to a (same sequence, greater nonce)
        Listed late = v(2, "0000000000000001", null);   // one that listed after a was there and lost
        assertEquals(Optional.of(a), CatalogueVersions.current(List.of(late, racedA, a)));

        Listed forced = v(2, "00000000000000ff", a);
        Listed forcedToo = v(3, "0000000000000001", a);  // a second forced push over a, that lost to the first
        Listed forcedAgain = v(4, "0000000000000001", forced);
        assertEquals(Optional.of(forced), CatalogueVersions.current(List.of(a, forced, forcedToo, late)));
        assertEquals(Optional.of(forcedAgain), CatalogueVersions.current(List.of(forcedAgain, a, forced, forcedToo)));
        assertEquals(Optional.of(forcedToo), CatalogueVersions.current(List.of(forcedToo)),
                "a version whose replaced one is gone is a root");
        assertEquals(Optional.of(late), CatalogueVersions.current(List.of(forcedToo, late)), "the smaller of two roots");
        assertEquals(Optional.of(forcedAgain), CatalogueVersions.current(List.of(forcedAgain, forced, forcedToo)),
                "with a gone, forced (the smaller of the two that replaced it) is the root, and forcedAgain follows it");
    }
}
