package dev.zenith.server.follower;

import dev.zenith.storage.page.PageLayout;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.segment.WalGeometry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Reading one block of a relation out of a follower's data directory while PostgreSQL writes there: the block is
 * the version wanted only when its pd_lsn is the wanted change's, its data checksum verifies, and a second read
 * gives the same bytes (a read that overlapped the server's own write of it differs, or fails the checksum).
 * Files only; no process, no store.
 */
final class FollowerFiles {
    /** What one attempt found. */
    enum Outcome {
        /** the page, checked */
        EXACT,
        /** its pd_lsn is older than the change (or the file is not that long yet): it may come */
        BEHIND,
        /** its pd_lsn is newer: the follower replayed a later change of the block (the page, checked as EXACT's) */
        AHEAD,
        /** torn (two reads differ) or failing its checksum or header checks */
        UNCHECKED
    }

    /** {@code page}: an EXACT or AHEAD page, checked; {@code pageLsn}: its pd_lsn (null when not read whole). */
    record Read(Outcome outcome, byte[] page, Lsn pageLsn) {
        Read(Outcome outcome) {
            this(outcome, null, null);
        }
    }

    private final Path dataDir;

    FollowerFiles(Path dataDir) {
        this.dataDir = dataDir;
    }

    /**
     * The block of {@code rel} as the record whose version key (MAXALIGNed end) is {@code key} left it, or as a later
     * record did (AHEAD: whether that version may be answered is the caller's to say). Blocking (two preads).
     */
    Read read(RelTag rel, int block, Lsn key) throws IOException {
        long blockNumber = Integer.toUnsignedLong(block);
        long segment = blockNumber / WalGeometry.RELSEG_SIZE;
        Path file = dataDir.resolve(segment == 0 ? rel.path() : rel.path() + "." + segment);
        long offset = (blockNumber % WalGeometry.RELSEG_SIZE) * WalGeometry.BLCKSZ;
        byte[] first = new byte[WalGeometry.BLCKSZ];
        byte[] second = new byte[WalGeometry.BLCKSZ];
        Lsn pageLsn;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (!readFully(ch, first, offset)) {
                return new Read(Outcome.BEHIND);
            }
            pageLsn = PageLayout.pageLsn(first);
            if (pageLsn.isBefore(key)) {
                return new Read(Outcome.BEHIND);
            }
            if (!readFully(ch, second, offset) || !Arrays.equals(first, second)) {
                return new Read(Outcome.UNCHECKED);
            }
        } catch (NoSuchFileException e) {
            return new Read(Outcome.BEHIND); // not created by replay yet
        }
        // a page with pd_lsn set is never new; the checksum covers every byte (and the block number)
        if (PageLayout.verify(first, blockNumber, true) != null) {
            return new Read(Outcome.UNCHECKED);
        }
        return new Read(pageLsn.equals(key) ? Outcome.EXACT : Outcome.AHEAD, first, pageLsn);
    }

    private static boolean readFully(FileChannel ch, byte[] into, long offset) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(into);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, offset + buf.position());
            if (n < 0) {
                return false;
            }
        }
        return true;
    }
}
