package dev.zenith.storage.journal;

import dev.zenith.storage.failure.StoreException;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The durable head of one timeline's WAL, ahead of LMDB. The WAL receiver appends what a compute
 * streamed here and acknowledges it once one synchronous write returns; the same bytes reach LMDB
 * afterwards in bigger batches, off the acknowledgement path. When the store opens, whatever the
 * journal holds beyond LMDB's end is replayed into LMDB, so nothing acknowledged is lost.
 *
 * <p>A write is one {@code O_DIRECT | O_DSYNC} write of whole blocks into a pre-filled file: on this
 * kind of disk that is PostgreSQL's {@code open_datasync} method, measured by {@code pg_test_fsync} at
 * 284 µs against 401 µs for {@code fdatasync}, PostgreSQL's default (where the file system refuses
 * {@code O_DIRECT}, a plain {@code O_DSYNC} write). Files are zero-filled when created so that a write
 * changes data blocks only (PostgreSQL pre-fills its WAL segments for the same reason).
 *
 * <p>Files are {@code <generation as 16 hex digits>.journal}, holding frames at block boundaries. A
 * frame is a 32-byte header (magic, generation, start LSN, length, CRC-32C of the payload, CRC-32C of
 * the header), the WAL bytes, and zeros to the next block. A file's frames follow each other from its
 * start; what follows them (zeros, or frames of an earlier generation: a file is reused simply by
 * renaming it to a new generation once LMDB holds everything in it) is not read.
 *
 * <p>Torn or damaged? Only the last write can be torn: every earlier one returned, was acknowledged,
 * and must read back. The header's own checksum tells a write that happened from whatever else lies
 * in a file, so {@link #readAll} can tell them apart: a frame that fails its checksum is the torn last
 * write only when no frame of its generation follows it in its file and no later file exists (a file
 * is begun only after the previous write returned, and never after a failed one). Anything else that
 * fails to read back, or WAL missing between two frames, is {@link Damage}. One thread appends; another
 * may tell what LMDB holds and prepare a spare file.
 *
 * <p>Over 400 lines on purpose: the file format's writer and its reader stay in one class, because the
 * reader's rule for a torn write versus damage holds only for the order in which this writer writes
 * (frames in order, a new file only after the previous write returned, files reused by renaming).
 */
public final class WalJournal implements AutoCloseable {
    /** Frames of a new generation fill at most this much of a file before the next file starts. */
    public static final int DEFAULT_FILE_BYTES = 16 << 20; // a new file is zero-filled on the acknowledgement path: keep it small
    static final int MAGIC = 0x5a574a32; // "ZWJ2"
    /** Frames of the first format: one CRC over header and payload, so a torn write and a damaged one look alike. */
    private static final int LEGACY_MAGIC = 0x5a574a31; // "ZWJ1"
    private static final int LEGACY_HEADER_BYTES = 28;
    static final int HEADER_BYTES = 32;
    private static final String SUFFIX = ".journal";
    /** A zero-filled file waiting to become the next one (not a journal file: never read back). */
    static final String SPARE = "spare.tmp";

    private final Path dir;
    private final int fileBytes;
    private final int blockSize;
    private boolean direct = true;
    /** Frames are built here: block-aligned native memory, as O_DIRECT requires. */
    private ByteBuffer staging;
    private final Deque<JournalFile> sealed = new ArrayDeque<>();
    private JournalFile current;
    private long nextGeneration;
    /** End of the journaled WAL, or null while the journal holds nothing. */
    private Lsn end;
    /** LMDB holds the WAL below this; files ending at or below it may be reused. */
    private volatile Lsn indexed = Lsn.INVALID;
    private boolean spareReady;
    private boolean preparingSpare;
    /** Set by a failed write: no later write may follow it (see the class comment); replay the journal instead. */
    private String failed;

    private WalJournal(Path dir, int fileBytes, int blockSize) {
        this.dir = dir;
        this.blockSize = blockSize;
        this.fileBytes = align(fileBytes, blockSize);
    }

    /** A journal writing into {@code dir}, which must hold no journal files (recover and clear first). */
    public static WalJournal create(Path dir, int fileBytes) {
        try {
            Files.createDirectories(dir);
            if (!listFiles(dir).isEmpty()) {
                throw new StoreException("WAL journal " + dir + " still holds files; replay it first");
            }
            return new WalJournal(dir, fileBytes, blockSize(dir));
        } catch (IOException e) {
            throw new StoreException("cannot create WAL journal " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The unit of a journal write in {@code dir}: the file system's block size, at least 512 bytes. */
    public static int blockSize(Path dir) throws IOException {
        long b = Files.getFileStore(dir).getBlockSize();
        return b >= 512 && b <= (1 << 16) && Long.bitCount(b) == 1 ? (int) b : 4096;
    }

    /** Bytes a frame of {@code payload} WAL bytes occupies in a file. */
    public static int frameSpan(int payload, int blockSize) {
        return align(HEADER_BYTES + payload, blockSize);
    }

    private static int align(int n, int blockSize) {
        return Math.addExact(n, blockSize - 1) & -blockSize;
    }

    /** End of the journaled WAL, or null when nothing was journaled since the journal was created. */
    public Lsn end() {
        return end;
    }

    /**
     * Appends WAL bytes starting at {@code start} (where the previous append ended, unless the journal
     * is empty) and syncs them to disk before returning.
     */
    public synchronized void append(Lsn start, byte[] bytes) {
        if (failed != null) {
            throw new StoreException("WAL journal " + dir + " failed a write (" + failed + "); replay it before writing again");
        }
        if (end != null && !start.equals(end)) {
            throw new StoreException("WAL journal " + dir + " ends at " + end + ", not at " + start);
        }
        int frameBytes = frameSpan(bytes.length, blockSize);
        try {
            if (current == null || current.used + frameBytes > current.size) {
                nextFile(frameBytes);
            }
            ByteBuffer frame = staging(frameBytes);
            encodeFrame(frame, current.generation, start, bytes);
            while (frame.position() < frameBytes) {
                frame.put((byte) 0);
            }
            frame.flip();
            long at = current.used;
            while (frame.hasRemaining()) { // O_DSYNC: durable when the write returns
                at += current.channel.write(frame, at);
            }
            current.used += frameBytes;
            current.end = start.plus(bytes.length);
            end = current.end;
        } catch (IOException e) {
            // Nothing about this write can be trusted, and nothing may follow it: replay tells a torn last
            // write from damage by there being no later write.
            failed = e.getMessage();
            sealCurrent();
            throw new StoreException("cannot write WAL journal " + dir + ": " + e.getMessage(), e);
        }
    }

    /** LMDB now holds the WAL below {@code lsn}: files that end there may be reused. Called by one thread. */
    public void indexedUpTo(Lsn lsn) {
        if (lsn.isAfter(indexed)) {
            indexed = lsn;
        }
    }

    private ByteBuffer staging(int frameBytes) {
        if (staging == null || staging.capacity() < frameBytes) {
            int capacity = Math.max(frameBytes, 1 << 20);
            staging = ByteBuffer.allocateDirect(capacity + blockSize).alignedSlice(blockSize);
        }
        staging.clear().limit(frameBytes);
        return staging.order(ByteOrder.LITTLE_ENDIAN);
    }

    static void encodeFrame(ByteBuffer frame, long generation, Lsn start, byte[] bytes) {
        CRC32C payloadCrc = new CRC32C();
        payloadCrc.update(bytes);
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(MAGIC).putLong(generation).putLong(start.value()).putInt(bytes.length)
                .putInt((int) payloadCrc.getValue());
        header.putInt(crc(header.array(), 0, HEADER_BYTES - 4));
        frame.put(header.array()).put(bytes);
    }

    private static int crc(byte[] b, int offset, int length) {
        CRC32C c = new CRC32C();
        c.update(b, offset, length);
        return (int) c.getValue();
    }

    private void nextFile(int frameBytes) throws IOException {
        sealCurrent();
        long generation = ++nextGeneration;
        Path name = dir.resolve(fileName(generation));
        int size = Math.max(fileBytes, align(frameBytes, blockSize));
        JournalFile reusable = sealed.peekFirst();
        if (reusable != null && reusable.size >= size && reusable.end != null && !reusable.end.isAfter(indexed)) {
            sealed.removeFirst();
            reusable.channel.close();
            Files.move(reusable.path, name, StandardCopyOption.ATOMIC_MOVE);
        } else if (size <= fileBytes && spareReadySoon()) {
            spareReady = false; // all zeros: no frame of any generation in it
            Files.move(dir.resolve(SPARE), name, StandardCopyOption.ATOMIC_MOVE);
        } else {
            zeroFill(name, size);
        }
        syncDirectory(dir); // the file's (new) name must survive a crash before its frames are acknowledged
        current = new JournalFile(name, generation, openForWrites(name), (int) Files.size(name));
    }

    /**
     * Whether a spare is ready, waiting for one being filled right now: the rest of its filling is
     * shorter than filling a whole new file here (the first append after a receiver connects meets one).
     */
    private boolean spareReadySoon() {
        while (preparingSpare && !spareReady) {
            try {
                wait(); // releases the lock prepareSpare needs to finish
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return spareReady;
    }

    private static void zeroFill(Path file, int size) throws IOException {
        try (FileChannel fill = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            for (long at = 0; at < size; at += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                while (zeros.hasRemaining()) {
                    fill.write(zeros, at + zeros.position());
                }
            }
            fill.force(true);
        }
    }

    /**
     * Zero-filling a file takes tens of milliseconds: a caller off the acknowledgement path (the store,
     * after an LMDB commit or before a receiver connects) prepares the next file ahead of need. Returns
     * true if it prepared one. Thread-safe against {@link #append}: the filling runs outside the lock.
     */
    public boolean prepareSpare() {
        synchronized (this) {
            boolean needed = !spareReady && !preparingSpare
                    && (current == null || current.used > current.size / 2)
                    && (sealed.isEmpty() || sealed.peekFirst().end == null || sealed.peekFirst().end.isAfter(indexed));
            if (!needed) {
                return false;
            }
            preparingSpare = true;
        }
        Path spare = dir.resolve(SPARE);
        try {
            Files.deleteIfExists(spare);
            zeroFill(spare, fileBytes);
            synchronized (this) {
                spareReady = true;
            }
            return true;
        } catch (IOException e) {
            return false; // the next file will be filled when needed instead
        } finally {
            synchronized (this) {
                preparingSpare = false;
                notifyAll(); // an append may be waiting for this spare
            }
        }
    }

    private FileChannel openForWrites(Path file) throws IOException {
        if (direct) {
            try {
                return FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.DSYNC,
                        com.sun.nio.file.ExtendedOpenOption.DIRECT);
            } catch (IOException | UnsupportedOperationException e) {
                direct = false; // e.g. tmpfs: the page cache and O_DSYNC it is
            }
        }
        return FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.DSYNC);
    }

    private void sealCurrent() {
        if (current != null) {
            if (current.end == null) {
                closeQuietly(current);
                try {
                    Files.deleteIfExists(current.path);
                } catch (IOException ignored) {
                    // an empty file replays to nothing
                }
            } else {
                sealed.addLast(current);
            }
            current = null;
        }
    }

    @Override
    public synchronized void close() {
        sealCurrent();
        for (JournalFile f : sealed) {
            closeQuietly(f);
        }
        sealed.clear();
    }

    // ---------------------------------------------------------------- reading back

    /** One frame read back: WAL bytes from {@code start}. */
    public record Frame(Lsn start, byte[] bytes) {
        public Lsn end() {
            return start.plus(bytes.length);
        }
    }

    /**
     * WAL that was written durably (a later write follows it) but does not read back: [from, to), where
     * {@code from} is null when nothing before it says where it began. {@code offset} is where in
     * {@code file} the damage begins.
     */
    public record Damage(Path file, long offset, Lsn from, Lsn to, String reason) {
        public String describe() {
            return "WAL journal file " + file + ", offset " + offset + ": " + reason + "; WAL "
                    + (from == null ? "before " + to : from + ".." + to) + " cannot be read back from it";
        }
    }

    /** What a journal directory holds: its intact frames in write order, and the damage found among them. */
    public record Contents(List<Frame> frames, List<Damage> damage) {
    }

    /**
     * What one position of a file holds: an intact frame; a frame whose header is intact and payload not;
     * or (length -1) a damaged header, known only by the frame after it, which starts at {@code start}.
     */
    private record Slot(Path file, int fileIndex, long offset, Lsn start, int length, Frame frame, String problem) {
        boolean unknownExtent() {
            return length < 0;
        }

        Lsn end() {
            return unknownExtent() ? start : start.plus(length);
        }
    }

    /**
     * Every intact frame in {@code dir}, oldest file first, in write order, without a torn last write;
     * and whatever else fails to read back (see the class comment). Empty when there is no journal.
     */
    public static Contents readAll(Path dir) {
        List<Slot> slots = new ArrayList<>();
        List<Damage> damage = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return new Contents(List.of(), List.of());
        }
        try {
            int blockSize = blockSize(dir);
            List<Path> files = listFiles(dir);
            for (int i = 0; i < files.size(); i++) {
                readFile(files.get(i), i, generationOf(files.get(i)), blockSize, slots);
            }
            Slot last = slots.isEmpty() ? null : slots.get(slots.size() - 1);
            if (last != null && last.frame == null && last.fileIndex == files.size() - 1) {
                slots.remove(slots.size() - 1); // the last write, torn: never acknowledged
            }
        } catch (IOException e) {
            throw new StoreException("cannot read WAL journal " + dir + ": " + e.getMessage(), e);
        }
        List<Frame> frames = new ArrayList<>();
        Lsn expected = null;
        for (Slot s : slots) {
            if (s.unknownExtent()) {
                damage.add(new Damage(s.file, s.offset, expected, s.start, s.problem));
            } else if (expected != null && !s.start.equals(expected)) {
                damage.add(new Damage(s.file, s.offset, expected, s.start, s.start.isAfter(expected)
                        ? "the frame here starts at " + s.start + ", but the one before it ended at " + expected
                        : "the frame here starts at " + s.start + ", before the end " + expected + " of the one before it"));
            }
            if (s.frame != null) {
                frames.add(s.frame);
            } else if (!s.unknownExtent()) {
                damage.add(new Damage(s.file, s.offset, s.start, s.end(), s.problem));
            }
            expected = s.end();
        }
        damage.sort(Comparator.comparing(Damage::to));
        return new Contents(frames, damage);
    }

    /**
     * Reads one file's frames into {@code slots}. A position that holds no frame of the file's generation
     * ends its frames, unless such a frame follows further on: then a frame's header there was damaged.
     */
    private static void readFile(Path file, int fileIndex, long generation, int blockSize, List<Slot> slots)
            throws IOException {
        byte[] content = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(content).order(ByteOrder.LITTLE_ENDIAN);
        long brokenAt = -1; // where the file's frames stopped following each other, if they did
        int at = 0;
        while (at + LEGACY_HEADER_BYTES <= content.length) {
            int magic = b.getInt(at);
            if (magic == LEGACY_MAGIC && b.getLong(at + 4) == generation && brokenAt < 0) {
                Frame legacy = legacyFrame(b, at, content);
                if (legacy == null) {
                    return; // the first format cannot tell a torn write from damage: its rule, the end
                }
                slots.add(new Slot(file, fileIndex, at, legacy.start(), legacy.bytes().length, legacy, null));
                at += align(LEGACY_HEADER_BYTES + legacy.bytes().length, blockSize);
                continue;
            }
            int length = at + HEADER_BYTES <= content.length ? b.getInt(at + 20) : -1;
            boolean header = magic == MAGIC && length >= 0 && b.getLong(at + 4) == generation
                    && b.getInt(at + 28) == crc(content, at, HEADER_BYTES - 4)
                    && (long) at + HEADER_BYTES + length <= content.length;
            if (!header) {
                if (brokenAt < 0) {
                    brokenAt = at;
                }
                at += blockSize; // zeros, a frame of an earlier generation, or a damaged header: look further
                continue;
            }
            Lsn start = Lsn.of(b.getLong(at + 12));
            if (brokenAt >= 0) {
                slots.add(new Slot(file, fileIndex, brokenAt, start, -1, null, "no valid frame header at offset "
                        + brokenAt + ", yet a frame of this file follows at offset " + at));
                brokenAt = -1;
            }
            boolean intact = b.getInt(at + 24) == crc(content, at + HEADER_BYTES, length);
            slots.add(new Slot(file, fileIndex, at, start, length,
                    intact ? new Frame(start, Arrays.copyOfRange(content, at + HEADER_BYTES, at + HEADER_BYTES + length)) : null,
                    intact ? null : "the frame's payload fails its CRC-32C, yet later writes follow it"));
            at += frameSpan(length, blockSize);
        }
    }

    /** A frame of the first format at {@code at}, or null when it does not check out. */
    private static Frame legacyFrame(ByteBuffer b, int at, byte[] content) {
        long start = b.getLong(at + 12);
        int length = b.getInt(at + 20);
        if (length < 0 || (long) at + LEGACY_HEADER_BYTES + length > content.length) {
            return null;
        }
        CRC32C c = new CRC32C();
        c.update(content, at, LEGACY_HEADER_BYTES - 4);
        c.update(content, at + LEGACY_HEADER_BYTES, length);
        if ((int) c.getValue() != b.getInt(at + 24)) {
            return null;
        }
        return new Frame(Lsn.of(start), Arrays.copyOfRange(content, at + LEGACY_HEADER_BYTES, at + LEGACY_HEADER_BYTES + length));
    }

    /** Deletes every journal file in {@code dir} (LMDB holds all of it). */
    public static void clear(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try {
            for (Path f : listFiles(dir)) {
                Files.delete(f);
            }
            Files.deleteIfExists(dir.resolve(SPARE));
            syncDirectory(dir);
        } catch (IOException e) {
            throw new StoreException("cannot clear WAL journal " + dir + ": " + e.getMessage(), e);
        }
    }

    private static List<Path> listFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(SUFFIX))
                    .sorted(Comparator.comparingLong(WalJournal::generationOf)).toList();
        }
    }

    private static long generationOf(Path file) {
        String n = file.getFileName().toString();
        try {
            return Long.parseUnsignedLong(n.substring(0, n.length() - SUFFIX.length()), 16);
        } catch (NumberFormatException e) {
            throw new StoreException("not a WAL journal file: " + file);
        }
    }

    private static String fileName(long generation) {
        return String.format("%016x%s", generation, SUFFIX);
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void closeQuietly(JournalFile f) {
        try {
            f.channel.close();
        } catch (IOException ignored) {
            // closing a file we only wrote and synced
        }
    }

    private static final class JournalFile {
        final Path path;
        final long generation;
        final FileChannel channel;
        final int size;
        int used;
        Lsn end;

        JournalFile(Path path, long generation, FileChannel channel, int size) {
            this.path = path;
            this.generation = generation;
            this.channel = channel;
            this.size = size;
        }
    }
}
