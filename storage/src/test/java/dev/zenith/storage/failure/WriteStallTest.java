package dev.zenith.storage.failure;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A full disk is named as such, in whatever words the failing layer used. */
class WriteStallTest {
    @Test
    void aFullDiskIsNamedWhateverTheLayerSaid() {
        StoreException journal = new StoreException("cannot write WAL journal /s/wal-journal/x: No space left on device",
                new IOException("No space left on device"));
        assertEquals("no space left on device (cannot write WAL journal /s/wal-journal/x: No space left on device)",
                WriteStall.reasonOf(journal, 1L << 30));
        // LMDB turns a write the full disk cut short into EIO ("short write, filesystem full?")
        RuntimeException lmdb = new RuntimeException("Platform constant error code: EIO Input/output error (5)");
        assertEquals("no space left on device (4096 bytes free; Platform constant error code: EIO Input/output error (5))",
                WriteStall.reasonOf(lmdb, 4096));
        assertEquals("Platform constant error code: EIO Input/output error (5)", WriteStall.reasonOf(lmdb, 1L << 30),
                "with room left, an I/O error stays one");
    }

    @Test
    void onlyFailuresOfTheDiskStall() {
        assertTrue(WriteStall.isStall(new StoreException("cannot write", new IOException("EIO"))));
        assertFalse(WriteStall.isStall(new StoreException("WAL for timeline t must continue at 0/10, got 0/20")));
    }
}
