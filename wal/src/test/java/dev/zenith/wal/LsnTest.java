package dev.zenith.wal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LsnTest {
    @Test
    void parsesWhatPostgresPrints() {
        assertEquals(0x16B3748L, Lsn.parse("0/16B3748").value());
        assertEquals(0xFFFFFFFFFFFFFFFFL, Lsn.parse("FFFFFFFF/ffffffff").value());
        assertEquals("3/FF000010", Lsn.parse("3/ff000010").toString());
    }

    @Test
    void refusesAnythingElse() {
        for (String bad : new String[] {"-1/5", "0/-1", "+0/1754C70", "0/+1754C70", "0x0/1", "0/", "/1", "0/1/2",
                " 0/1", "0/1 ", "123456789/0", "0/123456789", "0/G", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Lsn.parse(bad), bad);
            assertEquals("not an LSN (expected X/Y in hex): '" + bad + "'", e.getMessage());
        }
    }
}
