package dev.zenith.wal.rewrite;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.RecordCrc;
import dev.zenith.wal.record.RecordHeader;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Tablespace/CREATE records (XLOG_TBLSPC_CREATE: {@code Oid ts_id; char ts_path[]}) turned into the
 * creation of an in-place tablespace. A location outside the data directory is not in the store, and
 * redo of the record makes {@code pg_tblspc/OID} a symbolic link to it, so every compute replaying the
 * record would share the one directory. With {@code ts_path} empty (all its bytes zeroed, so the record
 * keeps its length and every later LSN stays where it is), redo makes {@code pg_tblspc/OID} a directory
 * of the compute's own, as {@code allow_in_place_tablespaces} does. The record's CRC is recomputed.
 */
public final class InPlaceTablespaces {
    /** XLOG_TBLSPC_CREATE. */
    public static final int XLOG_TBLSPC_CREATE = 0x00;
    /**
     * No Tablespace/CREATE record is longer: header, main-data header and {@code ts_id} plus a path of at
     * most MAXPGPATH (1024) bytes. Longer records of that resource manager need not be held back.
     */
    public static final int MAX_CREATE_RECORD_LENGTH = WalGeometry.RECORD_HEADER_SIZE + 5 + 4 + 1024;

    private InPlaceTablespaces() {
    }

    /** Whether a record whose header says this may be a Tablespace/CREATE record needing a rewrite. */
    public static boolean mayNeedRewrite(int rmid, int totalLength) {
        return rmid == ResourceManager.TBLSPC && Integer.compareUnsigned(totalLength, MAX_CREATE_RECORD_LENGTH) <= 0;
    }

    /**
     * The patches that make {@code r} create an in-place tablespace, in LSN order; empty when it is no
     * Tablespace/CREATE record or its location is already empty.
     */
    public static List<WalPatch> patches(DecodedRecord r) {
        return rewritten(r).map(bytes -> diff(r, bytes)).orElse(List.of());
    }

    /** The record's bytes (header included, page headers not) with an empty location, if it needs one. */
    public static Optional<byte[]> rewritten(DecodedRecord r) {
        if (r.rmid() != ResourceManager.TBLSPC || r.rmgrInfo() != XLOG_TBLSPC_CREATE || r.mainDataLength() <= 4) {
            return Optional.empty();
        }
        byte[] original = r.rawBytes();
        int pathStart = r.mainDataOffset() + 4;
        if (original[pathStart] == 0) {
            return Optional.empty(); // in place already
        }
        byte[] bytes = original.clone();
        java.util.Arrays.fill(bytes, pathStart, r.mainDataOffset() + r.mainDataLength(), (byte) 0);
        LittleEndian.put32(bytes, RecordHeader.CRC, RecordCrc.compute(bytes, 0, bytes.length));
        return Optional.of(bytes);
    }

    /** The changed bytes, as runs at their WAL positions (skipping the page headers the record crosses). */
    private static List<WalPatch> diff(DecodedRecord r, byte[] rewritten) {
        byte[] original = r.rawBytes();
        List<WalPatch> out = new ArrayList<>();
        long lsn = r.startLsn().value();
        int runStart = -1;
        long runLsn = 0;
        for (int i = 0; i <= original.length; i++) {
            if (i < original.length && WalSegments.isPageBoundary(lsn)) {
                runStart = flush(out, rewritten, runStart, i, runLsn);
                lsn += WalSegments.pageHeaderSize(lsn);
            }
            boolean changed = i < original.length && original[i] != rewritten[i];
            if (changed && runStart < 0) {
                runStart = i;
                runLsn = lsn;
            } else if (!changed) {
                runStart = flush(out, rewritten, runStart, i, runLsn);
            }
            lsn++;
        }
        return out;
    }

    private static int flush(List<WalPatch> out, byte[] rewritten, int runStart, int runEnd, long runLsn) {
        if (runStart >= 0) {
            out.add(new WalPatch(Lsn.of(runLsn), java.util.Arrays.copyOfRange(rewritten, runStart, runEnd)));
        }
        return -1;
    }
}
