package dev.zenith.storage.image;

import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.control.RelationMapFile;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.record.ResourceManager;
import dev.zenith.wal.rmgr.DbaseCreate;
import dev.zenith.wal.rmgr.MainDataDecoder;
import dev.zenith.wal.rmgr.SmgrCreate;
import dev.zenith.wal.rmgr.SmgrTruncate;
import dev.zenith.wal.rmgr.WalPayload;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Which relation files of a staged base backup PostgreSQL reads before the image is taken: the recovery of
 * the backup (every relation its WAL names, all forks: redo reads a heap's visibility map and free space map
 * without a block reference) and the single-user run that sets a password in database template1 (its
 * catalogs; shared catalogs are in {@code global/}, which is never left out). Conservative: WAL it cannot
 * follow (a gap between segments, another timeline, a record copying a database directory, a tablespace,
 * a custom resource manager) or a pg_database it cannot read means every file.
 */
final class RecoveryReads {
    /** pg_database's OID: a mapped catalog, its file named in global/pg_filenode.map. */
    private static final int PG_DATABASE = 1262;
    /** template1's OID as initdb makes it. */
    private static final int TEMPLATE1 = 1;

    private final boolean all;
    private final Set<RelFileNode> relations;
    private final Set<Integer> databases;

    private RecoveryReads(boolean all, Set<RelFileNode> relations, Set<Integer> databases) {
        this.all = all;
        this.relations = relations;
        this.databases = databases;
    }

    static RecoveryReads everything() {
        return new RecoveryReads(true, Set.of(), Set.of());
    }

    /**
     * Reads the staged directory's pg_wal and pg_database; a directory shut down cleanly (its pg_control says so, and
     * it has no backup_label) replays no WAL, so its pg_wal is not read (a stopped cluster's may hold many recycled
     * segments after the valid WAL).
     */
    static RecoveryReads of(Path dataDir) throws IOException {
        Set<RelFileNode> relations = new HashSet<>();
        if (!shutDownCleanly(dataDir) && !walRelations(dataDir.resolve("pg_wal"), relations)) {
            return everything();
        }
        Set<Integer> databases = template1(dataDir.resolve("global"));
        return databases == null ? everything() : new RecoveryReads(false, relations, databases);
    }

    /** Whether PostgreSQL starts on the directory without replaying WAL; false when its pg_control does not read. */
    private static boolean shutDownCleanly(Path dataDir) throws IOException {
        if (Files.exists(dataDir.resolve("backup_label"))) {
            return false;
        }
        try {
            return ControlFile.parse(Files.readAllBytes(dataDir.resolve(DataDirectoryLayout.PG_CONTROL))).state()
                    == DbState.SHUTDOWNED;
        } catch (NoSuchFileException | IllegalArgumentException e) {
            return false;
        }
    }

    /** Whether PostgreSQL may read the relation's files before the image is taken. */
    boolean reads(RelFileNode rel) {
        return all || relations.contains(rel)
                || rel.spcOid() == RelFileNode.DEFAULT_TABLESPACE && databases.contains(rel.dbOid());
    }

    /** Adds every relation the WAL names; false when it cannot be followed. */
    private static boolean walRelations(Path pgWal, Set<RelFileNode> into) throws IOException {
        List<Path> segments;
        try (var s = Files.list(pgWal)) {
            segments = s.filter(p -> WalSegments.isSegmentFileName(p.getFileName().toString())).sorted().toList();
        } catch (NoSuchFileException e) {
            return true; // no WAL: recovery replays nothing
        }
        if (segments.isEmpty()) {
            return true;
        }
        WalSegments.SegmentName first = WalSegments.parseFileName(segments.get(0).getFileName().toString());
        WalStreamDecoder decoder = WalStreamDecoder.startingAt(dev.zenith.wal.Lsn.of(first.startLsn()));
        for (int i = 0; i < segments.size(); i++) {
            WalSegments.SegmentName name = WalSegments.parseFileName(segments.get(i).getFileName().toString());
            if (name.timeline() != first.timeline() || name.segno() != first.segno() + i
                    || Files.size(segments.get(i)) != WalGeometry.WAL_SEGMENT_SIZE) {
                return false;
            }
            decoder.feed(Files.readAllBytes(segments.get(i)));
            DecodeResult r = decoder.poll();
            for (; r instanceof DecodedRecord rec; r = decoder.poll()) {
                if (!add(rec, into)) {
                    return false;
                }
            }
            if (r instanceof EndOfWal && i < segments.size() - 1) {
                return false; // valid WAL ends before the last segment: where recovery stops is not known here
            }
        }
        return true;
    }

    private static boolean add(DecodedRecord rec, Set<RelFileNode> into) {
        if (rec.rmid() > ResourceManager.MAX_BUILTIN_ID || rec.rmid() == ResourceManager.TBLSPC) {
            return false;
        }
        for (BlockReference b : rec.blocks()) {
            into.add(b.rel().node());
        }
        if (rec.rmid() == ResourceManager.SMGR || rec.rmid() == ResourceManager.DBASE) {
            Optional<WalPayload> p;
            try {
                p = MainDataDecoder.decode(rec);
            } catch (IllegalArgumentException e) {
                return false;
            }
            if (p.isEmpty()) {
                return rec.rmid() != ResourceManager.DBASE || rec.rmgrInfo() == MainDataDecoder.XLOG_DBASE_DROP;
            }
            if (p.get() instanceof SmgrCreate c) {
                into.add(c.rel().node());
            } else if (p.get() instanceof SmgrTruncate t) {
                into.add(t.rel());
            } else if (p.get() instanceof DbaseCreate d && d.fileCopy()) {
                return false; // copies a whole database directory
            }
        }
        return true;
    }

    /**
     * The OIDs of every pg_database row named template1 (with initdb's 1), read from the staged file as it came
     * (a row's OID never changes; a database made again under that name is another row); null when a page does
     * not read as a heap page, or pg_database's file is not found.
     */
    private static Set<Integer> template1(Path global) throws IOException {
        byte[] file;
        try {
            Integer filenode = RelationMapFile.mappings(Files.readAllBytes(global.resolve("pg_filenode.map"))).get(PG_DATABASE);
            if (filenode == null) {
                return null;
            }
            file = Files.readAllBytes(global.resolve(Integer.toUnsignedString(filenode)));
        } catch (NoSuchFileException | IllegalArgumentException e) {
            return null;
        }
        if (file.length % WalGeometry.BLCKSZ != 0) {
            return null;
        }
        Set<Integer> oids = new HashSet<>();
        oids.add(TEMPLATE1);
        byte[] name = "template1\0".getBytes(StandardCharsets.US_ASCII);
        for (int page = 0; page < file.length; page += WalGeometry.BLCKSZ) {
            int lower = LittleEndian.u16(file, page + 12);
            int upper = LittleEndian.u16(file, page + 14);
            if (lower == 0 && upper == 0) {
                continue; // a new page
            }
            if (lower < 24 || lower > upper || upper > WalGeometry.BLCKSZ) {
                return null;
            }
            for (int lp = page + 24; lp < page + lower; lp += 4) {
                long item = LittleEndian.u32(file, lp);
                int off = (int) (item & 0x7FFF);
                int flags = (int) ((item >> 15) & 3);
                int len = (int) (item >> 17);
                if (flags != 1) { // LP_NORMAL only: a tuple's data
                    continue;
                }
                if (off + len > WalGeometry.BLCKSZ || len < 24) {
                    return null;
                }
                int hoff = file[page + off + 22] & 0xFF;
                int data = page + off + hoff;
                if (hoff < 24 || hoff + 4 + name.length > len) {
                    return null;
                }
                if (java.util.Arrays.equals(file, data + 4, data + 4 + name.length, name, 0, name.length)) {
                    oids.add((int) LittleEndian.u32(file, data));
                }
            }
        }
        return oids;
    }
}
