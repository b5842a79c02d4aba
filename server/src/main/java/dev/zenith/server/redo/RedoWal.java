package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.change.DatabaseDir;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalDecoderBuilder;
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

    /**
     * A check's facts up to the target it checked, and where its last record starts: a later run given the same WAL up
     * to that target ({@link WalSource#growsOnly}) from the same anchor checks only what follows. Null
     * {@code lastStart} when the check cannot be gone on from (its last record is an XLOG_SWITCH: the next record is
     * at the next segment's start, and nothing between is WAL).
     */
    record Checked(Lsn target, Lsn lastStart, Facts facts) {
        boolean continuesTo(Lsn later) {
            return lastStart != null && !target.isAfter(later);
        }
    }

    private RedoWal() {
    }

    static Facts check(Path walDir, Anchor anchor, Lsn target) throws IOException {
        return check(walDir, anchor, target, anchor.pgTimeline(), false);
    }

    /** As {@link #check(Path, Anchor, Lsn, int, boolean, Checked)}, the whole range. */
    static Facts check(Path walDir, Anchor anchor, Lsn target, int targetTli, boolean lineage) throws IOException {
        return check(walDir, anchor, target, targetTli, lineage, null).facts();
    }

    /**
     * As above, for a target on PostgreSQL timeline {@code targetTli}: a later one than the anchor's is
     * reached across the switches in between; {@code lineage}: the WAL has several timelines' pages (the
     * history files are given), each segment read under the newest timeline it is named for, page headers'
     * timelines only growing.
     */
    static Checked check(Path walDir, Anchor anchor, Lsn target, int targetTli, boolean lineage, Checked before)
            throws IOException {
        Lsn redo = anchor.redoLsn();
        Lsn checkpoint = anchor.checkpointLsn();
        if (target.isBefore(checkpoint)) {
            throw new RedoException("target " + target + " is before the anchor's checkpoint record at " + checkpoint
                    + ": replay from an anchor starts by reading that record");
        }
        boolean oneTimeline = !lineage && targetTli == anchor.pgTimeline();
        boolean goOn = before != null && before.continuesTo(target);
        // going on: the next record starts at the previous target MAXALIGNed, and must point back at its last one
        Lsn start = goOn ? Lsn.of(WalGeometry.maxAlign(before.target().value())) : redo;
        WalDecoderBuilder builder = WalStreamDecoder.builder(start).timeline(oneTimeline ? anchor.pgTimeline() : 0)
                .systemId(anchor.controlFile().systemIdentifier());
        WalStreamDecoder decoder = (goOn ? builder.previousRecord(before.lastStart()) : builder).build();
        List<FileCopy> copies = new ArrayList<>(goOn ? before.facts().fileCopies() : List.of());
        Set<BlockRef> checked = new HashSet<>(goOn ? before.facts().checkedBlocks() : Set.of());
        boolean sawCheckpoint = goOn;
        long records = goOn ? before.facts().records() : 0;
        Lsn lastEnd = goOn ? before.target() : null;
        Lsn lastStart = goOn ? before.lastStart() : null;
        boolean lastSwitches = false;
        long segno = WalSegments.segmentNumber(start.value());
        int offset = WalSegments.segmentOffset(start.value());
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
            byte[] piece;
            // from where the check starts, not the segment's start: a run's check read and allocated megabytes it skipped
            try (FileInputStream in = new FileInputStream(file.toFile())) { // not NIO: no 16 MiB direct buffer kept per thread
                in.skipNBytes(offset);
                piece = in.readNBytes((int) length - offset);
            } catch (java.io.EOFException e) {
                break; // shorter than where the check starts
            }
            if (piece.length == 0) {
                break;
            }
            decoder.feed(piece, 0, piece.length);
            offset = 0;
            segno++;
            for (DecodeResult r = decoder.poll(); ; r = decoder.poll()) {
                if (r instanceof DecodedRecord rec) {
                    records++;
                    lastEnd = rec.endLsn();
                    lastStart = rec.startLsn();
                    lastSwitches = rec.isSwitch();
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
        return new Checked(target, lastSwitches ? null : lastStart,
                new Facts(records, target.minus(redo), List.copyOf(copies), Set.copyOf(checked)));
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
