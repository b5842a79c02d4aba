package dev.zenith.wal.rmgr;

import dev.zenith.wal.RelFileNode;

/** XLOG_SMGR_TRUNCATE: forks named by {@code flags} (SMGR_TRUNCATE_*) cut to {@code blocks} blocks. */
public record SmgrTruncate(RelFileNode rel, long blocks, int flags) implements WalPayload {
    public static final int SMGR_TRUNCATE_HEAP = 0x0001;
    public static final int SMGR_TRUNCATE_VM = 0x0002;
    public static final int SMGR_TRUNCATE_FSM = 0x0004;

    public boolean truncatesMain() {
        return (flags & SMGR_TRUNCATE_HEAP) != 0;
    }

    public boolean truncatesVisibilityMap() {
        return (flags & SMGR_TRUNCATE_VM) != 0;
    }

    public boolean truncatesFreeSpaceMap() {
        return (flags & SMGR_TRUNCATE_FSM) != 0;
    }
}
