package dev.zenith.storage;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Run in a separate JVM by {@link CrashSafetyTest}: appends deterministic WAL to a store forever,
 * printing each end LSN only after its commit returned (what a WAL receiver would acknowledge).
 */
public final class CrashChild {
    static final int CHUNK = 64 * 1024;

    public static void main(String[] args) {
        try (Store store = Store.open(Path.of(args[0]))) {
            TimelineId tl = TimelineId.parse(args[1]);
            Lsn end = store.walEnd(tl).orElse(Lsn.parse("0/1000000"));
            while (true) {
                long index = (end.value() - Lsn.parse("0/1000000").value()) / CHUNK;
                store.appendWal(List.of(WalAppend.raw(tl, end, chunk(index))));
                end = end.plus(CHUNK);
                System.out.println(end);
                System.out.flush();
            }
        }
    }

    static byte[] chunk(long index) {
        byte[] b = new byte[CHUNK];
        new Random(index).nextBytes(b);
        return b;
    }
}
