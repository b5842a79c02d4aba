package dev.zenith.wal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RelTagTest {
    @Test
    void theOrderIsTablespaceDatabaseRelationThenForkWithOidsUnsigned() {
        RelTag big = RelTag.of(1663, 5, 0xF000_0000, ForkNumber.MAIN); // negative as a Java int
        RelTag fsm = RelTag.of(1663, 5, 16384, ForkNumber.FSM);
        RelTag main = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
        RelTag otherDb = RelTag.of(1663, 4, 99999, ForkNumber.MAIN);
        RelTag global = RelTag.of(1664, 0, 1262, ForkNumber.MAIN);
        List<RelTag> sorted = new ArrayList<>(List.of(global, big, fsm, main, otherDb));
        sorted.sort(RelTag.ORDER);
        assertEquals(List.of(otherDb, main, fsm, big, global), sorted);
    }

    @Test
    void equalTagsHashAlikeAndEachFieldTellsTagsApart() {
        RelTag a = RelTag.of(1663, 5, 16384, ForkNumber.MAIN);
        assertEquals(a, RelTag.of(1663, 5, 16384, ForkNumber.MAIN));
        assertEquals(a.hashCode(), RelTag.of(1663, 5, 16384, ForkNumber.MAIN).hashCode());
        assertNotEquals(a, RelTag.of(1664, 5, 16384, ForkNumber.MAIN));
        assertNotEquals(a, RelTag.of(1663, 4, 16384, ForkNumber.MAIN));
        assertNotEquals(a, RelTag.of(1663, 5, 16385, ForkNumber.MAIN));
        assertNotEquals(a, RelTag.of(1663, 5, 16384, ForkNumber.FSM));
        assertNotEquals(a, null);
    }

    @Test
    void consecutiveRelationsDoNotGetConsecutiveHashes() {
        // Map.copyOf's table probes linearly: a run of consecutive hash codes made a window's size lookup
        // walk long chains (a third of the page service's CPU at rest)
        int runs = 0;
        for (int rel = 16384; rel < 16384 + 1000; rel++) {
            int h1 = RelTag.of(1663, 5, rel, ForkNumber.MAIN).hashCode();
            int h2 = RelTag.of(1663, 5, rel + 1, ForkNumber.MAIN).hashCode();
            if (Math.abs((long) h2 - h1) < 64) {
                runs++;
            }
        }
        assertTrue(runs < 10, runs + " of 1000 neighbours hash within 64 of each other");
    }
}
