package dev.zenith.wal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
