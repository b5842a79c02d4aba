package dev.zenith.storage.image;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.storage.wal.BlockChange;
import dev.zenith.storage.wal.CommitRecord;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test stand-in for the WAL receiver and decoder: takes WAL bytes from a stopped cluster's pg_wal
 * and the per-record metadata from pg_waldump (the real oracle), as the server will hand them over.
 */
public final class SourceWal {
    private static final int SEGMENT = WalGeometry.WAL_SEGMENT_SIZE;
    private static final int PAGE = 8192;
    private static final Pattern LSN = Pattern.compile("lsn: ([0-9A-F]+/[0-9A-F]+)");
    private static final Pattern BLKREF = Pattern.compile("blkref #\\d+: rel (\\d+)/(\\d+)/(\\d+)(?: fork (\\w+))? blk (\\d+)");
    private static final Pattern COMMIT = Pattern.compile("desc: COMMIT (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) UTC");
    private static final DateTimeFormatter PG_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss[.SSSSSS]");

    private SourceWal() {
    }

    public record Checkpoint(Lsn lsn, Lsn redo, Lsn end) {
    }

    /** The last checkpoint of a stopped cluster, from pg_controldata, and where its record ends. */
    public static Checkpoint lastCheckpoint(PgCluster c) throws IOException {
        return lastCheckpoint(c, c.dataDir());
    }

    /** The same for another stopped data directory (run with the cluster's binaries and user). */
    static Checkpoint lastCheckpoint(PgCluster c, Path dataDir) throws IOException {
        String out = c.exec("pg_controldata", "-D", dataDir.toString());
        Lsn lsn = field(out, "Latest checkpoint location:");
        Lsn redo = field(out, "Latest checkpoint's REDO location:");
        return new Checkpoint(lsn, redo, recordEnd(dataDir.resolve("pg_wal"), lsn));
    }

    private static Lsn field(String controldata, String label) {
        for (String line : controldata.split("\n")) {
            if (line.startsWith(label)) {
                return Lsn.parse(line.substring(label.length()).trim());
            }
        }
        throw new IllegalStateException("pg_controldata has no '" + label + "'");
    }

    /** MAXALIGNed end of the record at {@code lsn}, skipping page headers it spans. */
    static Lsn recordEnd(Path walDir, Lsn lsn) throws IOException {
        byte[] head = read(walDir, lsn, 4);
        long remaining = Integer.toUnsignedLong(ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt());
        long pos = lsn.value();
        while (true) {
            long pageEnd = (pos / PAGE + 1) * PAGE;
            long take = Math.min(remaining, pageEnd - pos);
            remaining -= take;
            pos += take;
            if (remaining == 0) {
                return Lsn.of((pos + 7) & ~7L);
            }
            pos += pos % SEGMENT == 0 ? 40 : 24; // long or short page header
        }
    }

    /** Bytes [from, from+length) of the WAL stream, from the segment files. */
    static byte[] read(Path walDir, Lsn from, int length) throws IOException {
        byte[] out = new byte[length];
        int filled = 0;
        while (filled < length) {
            long pos = from.value() + filled;
            long seg = pos / SEGMENT;
            int off = (int) (pos % SEGMENT);
            byte[] file = Files.readAllBytes(walDir.resolve(WalSegments.fileName(1, seg)));
            int n = Math.min(length - filled, SEGMENT - off);
            System.arraycopy(file, off, out, filled, n);
            filled += n;
        }
        return out;
    }

    /**
     * The WAL [from, to) as one append, with block changes, commits and checkpoints from
     * pg_waldump (records starting at or after {@code firstRecord}).
     */
    public static WalAppend append(PgCluster c, TimelineId tl, Lsn from, Lsn firstRecord, Lsn to) throws IOException {
        return append(c, c.dataDir(), tl, from, firstRecord, to);
    }

    static WalAppend append(PgCluster c, Path dataDir, TimelineId tl, Lsn from, Lsn firstRecord, Lsn to)
            throws IOException {
        Path walDir = dataDir.resolve("pg_wal");
        String dump = c.exec("pg_waldump", "-p", walDir.toString(), "-s", firstRecord.toString(), "-e",
                to.toString());
        List<BlockChange> blocks = new ArrayList<>();
        List<CommitRecord> commits = new ArrayList<>();
        List<Lsn> checkpoints = new ArrayList<>();
        for (String line : dump.split("\n")) {
            Matcher lm = LSN.matcher(line);
            if (!lm.find()) {
                continue;
            }
            Lsn lsn = Lsn.parse(lm.group(1));
            Matcher b = BLKREF.matcher(line);
            while (b.find()) {
                blocks.add(new BlockChange(RelTag.of(Integer.parseUnsignedInt(b.group(1)),
                        Integer.parseUnsignedInt(b.group(2)), Integer.parseUnsignedInt(b.group(3)), fork(b.group(4))),
                        Integer.parseUnsignedInt(b.group(5)), lsn));
            }
            Matcher cm = COMMIT.matcher(line);
            if (cm.find()) {
                commits.add(CommitRecord.of(lsn, LocalDateTime.parse(cm.group(1), PG_TIME).toInstant(ZoneOffset.UTC)));
            }
            if (line.contains("CHECKPOINT_SHUTDOWN") || line.contains("CHECKPOINT_ONLINE")) {
                checkpoints.add(lsn);
            }
        }
        return new WalAppend(tl, from, read(walDir, from, (int) to.minus(from)), blocks, commits, checkpoints, to);
    }

    private static ForkNumber fork(String name) {
        if (name == null) {
            return ForkNumber.MAIN;
        }
        for (ForkNumber f : ForkNumber.values()) {
            if (f.displayName().equals(name)) {
                return f;
            }
        }
        throw new IllegalArgumentException(name);
    }

    public static Lsn segmentStart(Lsn lsn) {
        return Lsn.of(lsn.value() / SEGMENT * SEGMENT);
    }
}
