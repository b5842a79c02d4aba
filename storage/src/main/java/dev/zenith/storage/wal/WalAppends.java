package dev.zenith.storage.wal;

import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.List;

/** Joins consecutive appends of one timeline into one, so they cost one LMDB commit. */
public final class WalAppends {
    private WalAppends() {
    }

    /** One append covering {@code appends}, which must be non-empty, of one timeline, and each start where the previous ends. */
    public static WalAppend concat(List<WalAppend> appends) {
        if (appends.isEmpty()) {
            throw new IllegalArgumentException("nothing to join");
        }
        if (appends.size() == 1) {
            return appends.get(0);
        }
        WalAppend first = appends.get(0);
        int length = 0;
        Lsn expected = first.start();
        for (WalAppend a : appends) {
            if (!a.timeline().equals(first.timeline()) || !a.start().equals(expected)) {
                throw new IllegalArgumentException("appends do not follow each other: expected " + first.timeline()
                        + " at " + expected + ", got " + a.timeline() + " at " + a.start());
            }
            expected = a.end();
            length = Math.addExact(length, a.bytes().length);
        }
        byte[] bytes = new byte[length];
        List<BlockChange> blocks = new ArrayList<>();
        List<CommitRecord> commits = new ArrayList<>();
        List<Lsn> checkpoints = new ArrayList<>();
        Lsn lastRecordEnd = null;
        int at = 0;
        for (WalAppend a : appends) {
            System.arraycopy(a.bytes(), 0, bytes, at, a.bytes().length);
            at += a.bytes().length;
            blocks.addAll(a.blockChanges());
            commits.addAll(a.commits());
            checkpoints.addAll(a.checkpoints());
            if (a.lastRecordEnd() != null) {
                lastRecordEnd = a.lastRecordEnd();
            }
        }
        return new WalAppend(first.timeline(), first.start(), bytes, blocks, commits, checkpoints, lastRecordEnd);
    }
}
