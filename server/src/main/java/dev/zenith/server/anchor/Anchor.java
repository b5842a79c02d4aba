package dev.zenith.server.anchor;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.rmgr.CheckPoint;
import dev.zenith.wal.segment.WalGeometry;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a redo run needs to start at a checkpoint C besides pages and WAL: the pg_control that names
 * C and the transaction-status files (SLRUs, two-phase state) at least as new as C's redo point.
 * PostgreSQL wrote all of them itself; {@link #of} checks what can be checked.
 */
public final class Anchor {
    /** Directories whose files an anchor carries (relative to the data directory). */
    public static final List<String> DIRECTORIES = List.of("pg_xact", "pg_multixact/offsets", "pg_multixact/members",
            "pg_commit_ts", "pg_twophase");
    /** CLOG: 2 status bits per transaction, 8 KiB pages, 32 pages per segment file (clog.c, slru.h). */
    private static final long XACTS_PER_CLOG_SEGMENT = (long) WalGeometry.BLCKSZ * 4 * 32;
    /** pg_multixact/offsets: one 4-byte offset per multixact. */
    private static final long MULTIXACTS_PER_OFFSETS_SEGMENT = (long) WalGeometry.BLCKSZ / 4 * 32;
    private static final long FIRST_NORMAL_XID = 3;

    private final byte[] pgControl;
    private final ControlFile control;
    private final Map<String, byte[]> files;

    private Anchor(byte[] pgControl, ControlFile control, Map<String, byte[]> files) {
        this.pgControl = pgControl;
        this.control = control;
        this.files = files;
    }

    /**
     * @param pgControl the 8 KiB global/pg_control
     * @param files     path relative to the data directory (inside {@link #DIRECTORIES}) -> contents
     * @throws IllegalArgumentException if pg_control is not a valid PostgreSQL 15 control file (CRC, version),
     *                                  a path lies outside the anchor's directories, or the status files do not
     *                                  reach the checkpoint's newest transaction and multixact
     */
    public static Anchor of(byte[] pgControl, Map<String, byte[]> files) {
        ControlFile control = ControlFile.parse(pgControl);
        Map<String, byte[]> copy = new TreeMap<>();
        files.forEach((path, bytes) -> {
            if (!isAnchorFile(path)) {
                throw new IllegalArgumentException("an anchor holds no file '" + path + "'");
            }
            copy.put(path, bytes.clone());
        });
        CheckPoint cp = control.checkPointCopy();
        long newestXid = cp.nextXid().xid() - 1;
        if (newestXid >= FIRST_NORMAL_XID) {
            requireSegment(copy, "pg_xact", newestXid / XACTS_PER_CLOG_SEGMENT, "transaction " + newestXid);
        }
        if (cp.nextMulti() > 1) {
            long newestMulti = cp.nextMulti() - 1;
            requireSegment(copy, "pg_multixact/offsets", newestMulti / MULTIXACTS_PER_OFFSETS_SEGMENT,
                    "multixact " + newestMulti);
        }
        return new Anchor(pgControl.clone(), control, Collections.unmodifiableMap(copy));
    }

    static boolean isAnchorFile(String path) {
        int slash = path.lastIndexOf('/');
        if (slash <= 0 || path.contains("..") || path.contains("\\")) {
            return false;
        }
        String name = path.substring(slash + 1);
        return DIRECTORIES.contains(path.substring(0, slash)) && !name.isEmpty() && !name.startsWith(".");
    }

    private static void requireSegment(Map<String, byte[]> files, String dir, long segment, String what) {
        String name = String.format("%s/%04X", dir, segment);
        if (!files.containsKey(name)) {
            throw new IllegalArgumentException("the anchor's " + dir + " lacks " + name + ", which holds " + what
                    + " of the checkpoint: the files are older than their pg_control");
        }
    }

    /** Where checkpoint C's record starts (pg_control's checkPoint). */
    public Lsn checkpointLsn() {
        return control.checkPoint();
    }

    /** C's redo point: where replay from this anchor starts. */
    public Lsn redoLsn() {
        return control.checkPointCopy().redo();
    }

    /** The PostgreSQL timeline C was written on; a run from here cannot cross onto another. */
    public int pgTimeline() {
        return control.checkPointCopy().thisTimeLineId();
    }

    public ControlFile controlFile() {
        return control;
    }

    public byte[] pgControl() {
        return pgControl.clone();
    }

    /** Path relative to the data directory -> contents (read-only; do not modify the arrays). */
    public Map<String, byte[]> files() {
        return files;
    }
}
