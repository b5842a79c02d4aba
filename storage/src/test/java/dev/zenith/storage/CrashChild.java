package dev.zenith.storage;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Run in a separate JVM by {@link CrashSafetyTest} and {@link StoreLockTest}: appends deterministic WAL
 * to a store forever, printing each end LSN only after its commit returned (what a WAL receiver would
 * acknowledge).
 */
public final class CrashChild {
    static final int CHUNK = 64 * 1024;

    /** A new store in {@code dir} with one root timeline for the child to write, closed again. */
    static TimelineId newStore(Path dir) {
        try (Store s = Store.open(dir)) {
            return s.timelines().create(null, Lsn.INVALID, 1).id();
        }
    }

    /** Starts the child on the store (output and errors on its stdout); the caller kills it. */
    static Process start(Path dir, TimelineId tl) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(List.of(java, "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens",
                "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                CrashChild.class.getName(), dir.toString(), tl.toString())).redirectErrorStream(true).start();
    }

    public static void main(String[] args) {
        try (Store store = Store.open(Path.of(args[0]))) {
            TimelineId tl = TimelineId.parse(args[1]);
            Lsn end = store.wal().end(tl).orElse(Lsn.parse("0/1000000"));
            while (true) {
                long index = (end.value() - Lsn.parse("0/1000000").value()) / CHUNK;
                store.wal().append(List.of(WalAppend.raw(tl, end, chunk(index))));
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
