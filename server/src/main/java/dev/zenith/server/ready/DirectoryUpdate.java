package dev.zenith.server.ready;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.storage.Store;
import dev.zenith.storage.image.DataDirectoryLayout;
import dev.zenith.storage.image.FileEntry;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.image.VersionedDirectory;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Brings a ready directory written for another anchor of the same timeline and image (an earlier one; or a later
 * one, for a start at an older point) to what a full write of
 * {@code d} gives: files and directories a full write would not have are removed, the small files (pg_control,
 * status files, relation maps) written again, each fork cut or extended to its size, and only the blocks the page
 * index says changed between the two anchors (and the extended ones, and every block of a fork new on disk)
 * written from their newest version at {@code d}'s anchor; free-space maps written again as zeros. Blocks no record
 * changed have the same newest version at both anchors. Blocking; storage and files only.
 */
final class DirectoryUpdate {
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final int BLOCKS_PER_READ = 128;

    /** What the update wrote, for the log. */
    record Stats(long blocksWritten, int forksWritten, int removed, long indexMillis, long blocksMillis) {
        /** For the log: what was written and where the time went. */
        String written() {
            return blocksWritten + " blocks in " + forksWritten + " forks written, " + removed + " paths removed (the changed"
                    + " blocks from the index " + indexMillis + " ms, the forks' blocks " + blocksMillis + " ms)";
        }
    }

    private DirectoryUpdate() {
    }

    /** The blocks records changed between two anchors' redo points of one timeline, and how long the index took. */
    record Changes(Set<BlockRef> blocks, long indexMillis) {
    }

    /**
     * A reference read from the WAL's side of the index per page of the directory at most, times this: a block walked
     * costs about ten references read (ChangedBlocksListingTest), and the walk visits about every page changed since
     * the image.
     */
    private static final long REFERENCES_PER_PAGE = 10;

    /**
     * What changed between the versions at {@code a} and at {@code d}'s, in either order (a ready directory may be
     * brought back to an earlier anchor too): the blocks with a change in between have other newest versions there.
     * Listed from the WAL's side of the index (a few records between two anchors, not a walk of every block the index
     * holds) unless the range holds more references than a walk would cost.
     */
    static Changes between(Store store, TimelineId timeline, Lsn a, VersionedDirectory d) {
        long began = System.nanoTime();
        Lsn b = d.versionsAt();
        long maxReferences = REFERENCES_PER_PAGE * (d.pageBytes() / WalGeometry.BLCKSZ);
        Map<BlockRef, Lsn> changed = a.isBefore(b) ? store.index().changedBlocksListed(timeline, a, b, maxReferences)
                : store.index().changedBlocksListed(timeline, b, a, maxReferences);
        return new Changes(changed.keySet(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    }

    static Stats apply(Store store, TimelineId timeline, VersionedDirectory d, Lsn fromVersionsAt, Path data)
            throws IOException {
        return apply(store, timeline, d, between(store, timeline, fromVersionsAt, d), data);
    }

    /** {@link #apply} with the changes from the directory's anchor to {@code d}'s known already. */
    static Stats apply(Store store, TimelineId timeline, VersionedDirectory d, Changes changes, Path data)
            throws IOException {
        Map<RelTag, TreeSet<Long>> changedByFork = new HashMap<>();
        changes.blocks().forEach(b -> changedByFork.computeIfAbsent(b.rel(), r -> new TreeSet<>())
                .add(Integer.toUnsignedLong(b.block())));

        Set<String> files = new HashSet<>();
        files.add(DataDirectoryLayout.PG_CONTROL);
        List<String> imageFiles = new ArrayList<>();
        for (FileEntry f : d.smallFiles().files()) {
            if (d.takesImageFile(f.path())) {
                imageFiles.add(f.path());
            }
        }
        files.addAll(imageFiles);
        files.addAll(d.files().keySet());
        for (RelationSize r : d.forks()) {
            files.addAll(segments(r));
        }
        for (RelationSize r : d.freeSpaceMaps()) {
            files.addAll(segments(r));
        }
        Set<String> directories = new HashSet<>();
        directories.add("global");
        directories.addAll(d.directories());
        files.forEach(f -> directories.add(parent(f)));
        for (String dir : new ArrayList<>(directories)) {
            for (String p = parent(dir); !p.isEmpty(); p = parent(p)) {
                directories.add(p);
            }
        }
        directories.remove("");

        // forks' sizes on disk before anything changes (a fork whose segment 0 is missing is new here)
        Map<RelTag, Long> onDisk = new HashMap<>();
        for (RelationSize r : d.forks()) {
            long blocks = -1;
            for (int segno = 0; Files.exists(data.resolve(DataDirectoryLayout.segmentPath(r.rel(), segno))); segno++) {
                blocks = Math.max(blocks, 0) + Files.size(data.resolve(DataDirectoryLayout.segmentPath(r.rel(), segno)))
                        / WalGeometry.BLCKSZ;
            }
            onDisk.put(r.rel(), blocks);
        }

        int removed = 0;
        List<Path> present;
        try (Stream<Path> s = Files.walk(data)) {
            present = s.filter(p -> !p.equals(data)).sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList();
        }
        for (Path p : present) {
            String rel = data.relativize(p).toString();
            if (Files.isDirectory(p) ? !directories.contains(rel) : !files.contains(rel)) {
                FileTrees.delete(p);
                removed++;
            }
        }
        for (String dir : new TreeSet<>(directories)) { // parents sort before their children
            Path p = data.resolve(dir);
            if (!Files.isDirectory(p)) {
                Files.createDirectory(p);
                Files.setPosixFilePermissions(p, DIR_MODE);
            }
        }

        write(data.resolve(DataDirectoryLayout.PG_CONTROL), d.pgControl());
        for (Map.Entry<String, byte[]> f : d.files().entrySet()) {
            write(data.resolve(f.getKey()), f.getValue());
        }
        for (String path : imageFiles) { // the same image: only those a dropped directory took with it come back
            if (!Files.exists(data.resolve(path))) {
                write(data.resolve(path), store.images().imageFile(d.smallFiles(), path)
                        .orElseThrow(() -> new IOException("the image at " + d.smallFiles().lsn() + " has no " + path)));
            }
        }

        boolean checksums = d.smallFiles().dataChecksumVersion() != 0;
        long blocksBegan = System.nanoTime();
        List<BlockWrites> writes = new ArrayList<>();
        int forksWritten = 0;
        for (RelationSize r : d.forks()) {
            long old = onDisk.get(r.rel());
            TreeSet<Long> wanted = new TreeSet<>();
            if (old < 0) {
                for (long b = 0; b < r.blocks(); b++) {
                    wanted.add(b);
                }
            } else {
                wanted.addAll(changedByFork.getOrDefault(r.rel(), new TreeSet<>()).headSet(r.blocks()));
                // past its size on disk: extended since that anchor (or cut since, for a directory brought back)
                for (long b = old; b < r.blocks(); b++) {
                    wanted.add(b);
                }
            }
            sizeSegments(data, r);
            if (!wanted.isEmpty()) {
                writes.addAll(BlockWrites.of(r.rel(), wanted));
                forksWritten++;
            }
        }
        long blocksWritten = writeAll(store, timeline, d.versionsAt(), writes, checksums, data);
        long blocksEnded = System.nanoTime();
        for (RelationSize fsm : d.freeSpaceMaps()) {
            zeros(data, fsm);
        }
        return new Stats(blocksWritten, forksWritten, removed, changes.indexMillis(),
                TimeUnit.NANOSECONDS.toMillis(blocksEnded - blocksBegan));
    }

    /** The segment files a full write gives a fork: at least segment 0 (empty for an empty fork). */
    static List<String> segments(RelationSize r) {
        int count = (int) Math.max(1, (r.blocks() + WalGeometry.RELSEG_SIZE - 1) / WalGeometry.RELSEG_SIZE);
        List<String> out = new ArrayList<>();
        for (int segno = 0; segno < count; segno++) {
            out.add(DataDirectoryLayout.segmentPath(r.rel(), segno));
        }
        return out;
    }

    private static long segmentBlocks(RelationSize r, int segno) {
        return Math.max(0, Math.min(r.blocks() - (long) segno * WalGeometry.RELSEG_SIZE, WalGeometry.RELSEG_SIZE));
    }

    /**
     * Each segment cut to or extended (a hole, written over by the extended blocks) to the fork's size there. A segment
     * already at its size is left alone (one stat): its mode is this class's or the full write's.
     */
    private static void sizeSegments(Path data, RelationSize r) throws IOException {
        List<String> segs = segments(r);
        for (int segno = 0; segno < segs.size(); segno++) {
            Path file = data.resolve(segs.get(segno));
            long length = segmentBlocks(r, segno) * WalGeometry.BLCKSZ;
            if (sizeOf(file) == length) {
                continue;
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                if (ch.size() > length) {
                    ch.truncate(length);
                } else if (ch.size() < length) {
                    ch.write(ByteBuffer.allocate(1), length - 1);
                }
            }
            Files.setPosixFilePermissions(file, FILE_MODE);
        }
    }

    /** The file's size, or -1 when there is none. */
    private static long sizeOf(Path file) throws IOException {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class).size();
        } catch (NoSuchFileException e) {
            return -1;
        }
    }

    /** Wanted blocks of one fork, in block order: a share of an update's writes that one thread does. */
    private record BlockWrites(RelTag rel, TreeSet<Long> blocks) {
        /** Shares of at most {@link #SHARE_BLOCKS}: pgbench's changed blocks are mostly in one fork. */
        static List<BlockWrites> of(RelTag rel, TreeSet<Long> wanted) {
            List<BlockWrites> out = new ArrayList<>();
            TreeSet<Long> share = new TreeSet<>();
            for (Long b : wanted) {
                share.add(b);
                if (share.size() == SHARE_BLOCKS) {
                    out.add(new BlockWrites(rel, share));
                    share = new TreeSet<>();
                }
            }
            if (!share.isEmpty()) {
                out.add(new BlockWrites(rel, share));
            }
            return out;
        }
    }

    /** Blocks per share of an update's writes. */
    private static final int SHARE_BLOCKS = 1024;

    /**
     * Writes the shares on this thread and a second one ({@link TwoThreads}): a start that arrives while an update
     * runs waits for it (right after a step commits; at the end of a pgbench run the machine is otherwise idle), and
     * the writes are CPU (LMDB reads, lz4, checksums, copies to the page cache).
     */
    private static long writeAll(Store store, TimelineId timeline, Lsn at, List<BlockWrites> writes, boolean checksums,
                                 Path data) throws IOException {
        AtomicLong written = new AtomicLong();
        TwoThreads.run("zenith-ready-dirs-helper", writes,
                w -> written.addAndGet(writeBlocks(store, timeline, at, w.rel(), w.blocks(), checksums, data)));
        return written.get();
    }

    /**
     * The wanted blocks read {@link #BLOCKS_PER_READ} at a time, each batch in one read transaction with a seek per
     * block (pgbench's changed blocks are scattered: nearly every run of consecutive ones is one block, and a
     * transaction, lineage and ordered scan per run cost more than its page), then written in place a run of
     * consecutive blocks at a time; a segment's file stays open while its runs are written.
     */
    private static long writeBlocks(Store store, TimelineId timeline, Lsn at, RelTag rel, TreeSet<Long> wanted,
                                    boolean checksums, Path data) throws IOException {
        byte[] buffer = new byte[BLOCKS_PER_READ * WalGeometry.BLCKSZ];
        long[] blocks = wanted.stream().mapToLong(Long::longValue).toArray();
        long[] batch = new long[BLOCKS_PER_READ];
        try (SegmentFile segment = new SegmentFile(data, rel)) {
            for (int from = 0; from < blocks.length; from += BLOCKS_PER_READ) {
                int count = Math.min(BLOCKS_PER_READ, blocks.length - from);
                System.arraycopy(blocks, from, batch, 0, count);
                store.pages().readListed(timeline, rel, at, batch, count, checksums, true, buffer, 0);
                for (int i = 0, end; i < count; i = end) {
                    end = i + 1;
                    while (end < count && batch[end] == batch[end - 1] + 1
                            && batch[end] / WalGeometry.RELSEG_SIZE == batch[i] / WalGeometry.RELSEG_SIZE) {
                        end++;
                    }
                    writeRun(batch[i], buffer, i, end - i, segment);
                }
            }
        }
        return blocks.length;
    }

    /** Blocks [first, first + count) from {@code buffer}'s {@code index}-th page on, written in place. */
    private static void writeRun(long first, byte[] buffer, int index, int count, SegmentFile segment) throws IOException {
        FileChannel ch = segment.open((int) (first / WalGeometry.RELSEG_SIZE));
        long offset = (first % WalGeometry.RELSEG_SIZE) * WalGeometry.BLCKSZ;
        ByteBuffer b = ByteBuffer.wrap(buffer, index * WalGeometry.BLCKSZ, count * WalGeometry.BLCKSZ);
        while (b.hasRemaining()) {
            offset += ch.write(b, offset);
        }
    }

    /** The open segment file of a fork being written: one at a time, runs come in block order. */
    private static final class SegmentFile implements AutoCloseable {
        private final Path data;
        private final RelTag rel;
        private FileChannel channel;
        private int segno = -1;

        SegmentFile(Path data, RelTag rel) {
            this.data = data;
            this.rel = rel;
        }

        FileChannel open(int wanted) throws IOException {
            if (wanted != segno) {
                close();
                channel = FileChannel.open(data.resolve(DataDirectoryLayout.segmentPath(rel, wanted)), StandardOpenOption.WRITE);
                segno = wanted;
            }
            return channel;
        }

        @Override
        public void close() throws IOException {
            FileChannel c = channel;
            channel = null;
            segno = -1;
            if (c != null) {
                c.close();
            }
        }
    }

    /**
     * A free-space map as a full write leaves it: all zeros (holes), at its size. One already at its size is left
     * alone: nothing but this class and the full write, both writing zeros, writes a ready directory's FSM files.
     */
    private static void zeros(Path data, RelationSize r) throws IOException {
        List<String> segs = segments(r);
        for (int segno = 0; segno < segs.size(); segno++) {
            Path file = data.resolve(segs.get(segno));
            long length = segmentBlocks(r, segno) * WalGeometry.BLCKSZ;
            if (sizeOf(file) == length) {
                continue;
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                if (length > 0) {
                    ch.write(ByteBuffer.allocate(1), length - 1);
                }
            }
            Files.setPosixFilePermissions(file, FILE_MODE);
        }
    }

    private static void write(Path file, byte[] content) throws IOException {
        Files.write(file, content, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        Files.setPosixFilePermissions(file, FILE_MODE);
    }

    private static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(0, slash);
    }
}
