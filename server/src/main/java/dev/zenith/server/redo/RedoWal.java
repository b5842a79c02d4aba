package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.rmgr.CheckpointRecord;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads the WAL a run was given before PostgreSQL does, so a run that cannot work fails with a
 * clear reason instead of a PANIC in a log: the WAL must lead from the anchor's PostgreSQL timeline
 * to the target's (crash recovery follows the switches in between when pg_control's minRecoveryPoint
 * names the target's timeline and the history files are there), hold the anchor's checkpoint record with the
 * contents its pg_control names, and end exactly at the target, at or after that record.
 */
final class RedoWal {
    /** A CREATE DATABASE by FILE_COPY in the replayed range: replay copies {@code from}'s files into {@code to}. */
    record FileCopy(DatabaseDir from, DatabaseDir to) {
    }

    /**
     * What the replayed range holds. {@code checkedBlocks}: main and init fork blocks of records with
     * wal_consistency_checking images, which replay reads again after redo (map pages are never
     * checked that way: the only record referencing them initializes a zero page).
     */
    record Facts(long records, long bytes, List<FileCopy> fileCopies, Set<BlockRef> checkedBlocks) {
    }

    private RedoWal() {
    }

    static Facts check(Path walDir, Anchor anchor, Lsn target) throws IOException {
        return check(walDir, anchor, target, anchor.pgTimeline(), false);
    }

    /**
     * As above, for a target on PostgreSQL timeline {@code targetTli}: a later one than the anchor's is
     * reached across the switches in between; {@code lineage}: the WAL has several timelines' pages (the
     * history files are given), each segment read under the newest timeline it is named for, page headers'
     * timelines only growing.
     */
    static Facts check(Path walDir, Anchor anchor, Lsn target, int targetTli, boolean lineage) throws IOException {
        Lsn redo = anchor.redoLsn();
        Lsn checkpoint = anchor.checkpointLsn();
        if (target.isBefore(checkpoint)) {
            throw new RedoException("target " + target + " is before the anchor's checkpoint record at " + checkpoint
                    + ": replay from an anchor starts by reading that record");
        }
        boolean oneTimeline = !lineage && targetTli == anchor.pgTimeline();
        WalStreamDecoder decoder = WalStreamDecoder.builder(redo).timeline(oneTimeline ? anchor.pgTimeline() : 0)
                .systemId(anchor.controlFile().systemIdentifier()).build();
        List<FileCopy> copies = new ArrayList<>();
        Set<BlockRef> checked = new HashSet<>();
        boolean sawCheckpoint = false;
        long records = 0;
        Lsn lastEnd = null;
        long segno = WalSegments.segmentNumber(redo.value());
        int offset = WalSegments.segmentOffset(redo.value());
        // The segments are written up to the target and are holes after it: reading them whole cost 16 MiB read and
        // allocated per segment per run. The page after the target's is enough to see the WAL end there.
        long readEnd = WalSegments.pageStart(target.value()) + WalGeometry.XLOG_BLCKSZ;
        EndOfWal end = null;
        while (end == null) {
            Path file = oneTimeline ? walDir.resolve(WalSegments.fileName(anchor.pgTimeline(), segno))
                    : newestNamed(walDir, segno, anchor.pgTimeline(), targetTli);
            if (file == null || !Files.exists(file)) {
                break;
            }
            long length = Math.min(WalGeometry.WAL_SEGMENT_SIZE, readEnd - WalSegments.segmentStart(segno));
            if (length <= offset) {
                break; // a segment after the target's
            }
            byte[] segment;
            try (FileInputStream in = new FileInputStream(file.toFile())) { // not NIO: no 16 MiB direct buffer kept per thread
                segment = in.readNBytes((int) length);
            }
            if (segment.length <= offset) {
                break;
            }
            decoder.feed(segment, offset, segment.length - offset);
            offset = 0;
            segno++;
            for (DecodeResult r = decoder.poll(); ; r = decoder.poll()) {
                if (r instanceof DecodedRecord rec) {
                    records++;
                    lastEnd = rec.endLsn();
                    if ((rec.info() & DecodedRecord.XLR_CHECK_CONSISTENCY) != 0) {
                        for (BlockReference b : rec.blocks()) {
                            if (b.rel().fork() == ForkNumber.MAIN || b.rel().fork() == ForkNumber.INIT) {
                                checked.add(new BlockRef(b.rel(), (int) b.blockNumber()));
                            }
                        }
                    }
                    Optional<WalPayload> p = MainDataDecoder.decode(rec);
                    if (rec.startLsn().equals(checkpoint)) {
                        if (p.isEmpty() || !(p.get() instanceof CheckpointRecord c)
                                || !c.checkpoint().equals(anchor.controlFile().checkPointCopy())) {
                            throw new RedoException("the WAL record at " + checkpoint + " is not the checkpoint the"
                                    + " anchor's pg_control names: " + rec);
                        }
                        sawCheckpoint = true;
                    }
                    if (p.isPresent() && p.get() instanceof DbaseCreate d && d.fileCopy()) {
                        copies.add(new FileCopy(new DatabaseDir((int) d.srcTablespaceId(), (int) d.srcDbId()),
                                new DatabaseDir((int) d.tablespaceId(), (int) d.dbId())));
                    }
                } else if (r instanceof EndOfWal e) {
                    end = e;
                    break;
                } else {
                    break;
                }
            }
        }
        if (!sawCheckpoint) {
            throw new RedoException("the WAL from " + redo + " to " + target + " does not hold the anchor's checkpoint"
                    + " record at " + checkpoint + (end != null ? " (" + end + ")" : ""));
        }
        if (lastEnd == null || !lastEnd.equals(target)) {
            throw new RedoException("the WAL given ends at " + lastEnd + ", not at the target " + target
                    + (end != null ? " (" + end + ")" : "") + ": a target is the end of a record, and the WAL must"
                    + " lead from PostgreSQL timeline " + anchor.pgTimeline() + " to " + targetTli
                    + ", with nothing after the target");
        }
        return new Facts(records, target.minus(redo), List.copyOf(copies), checked);
    }

    /** The segment's file under the newest timeline in [{@code from}, {@code to}] it is named for, or null. */
    private static Path newestNamed(Path walDir, long segno, int from, int to) {
        for (int tli = to; tli >= from; tli--) {
            Path file = walDir.resolve(WalSegments.fileName(tli, segno));
            if (Files.exists(file)) {
                return file;
            }
        }
        return null;
    }
}
