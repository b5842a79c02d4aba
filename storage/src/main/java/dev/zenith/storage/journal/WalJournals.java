package dev.zenith.storage.journal;

import dev.zenith.storage.failure.StoreCorruptException;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.failure.StoreFormatException;
import dev.zenith.storage.failure.WriteStall;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.storage.timeline.TimelineStore;
import dev.zenith.storage.wal.WalAppend;
import dev.zenith.storage.wal.WalGapException;
import dev.zenith.storage.wal.WalIndexer;
import dev.zenith.storage.wal.WalLog;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.EndOfWal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The timelines' WAL journals (one {@link WalJournal} per timeline, under the store's
 * {@code wal-journal} directory): WAL made durable with one sync and acknowledged before it reaches
 * the {@link WalLog}, which takes it later in bigger batches. After a crash, what a journal holds beyond
 * LMDB's WAL is replayed into it. Blocking and thread-safe.
 */
public final class WalJournals implements WalLog.Listener, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(WalJournals.class.getName());
    /** The journals' directory in the store directory: one subdirectory per timeline. */
    public static final String DIRECTORY = "wal-journal";

    private final Path storeDirectory;
    private final int fileBytes;
    private final TimelineStore timelines;
    private final WalLog wal;
    /** Per timeline: the WAL acknowledged ahead of LMDB (see {@link #append}). */
    private final Map<TimelineId, WalJournal> journals = new HashMap<>();
    /** Set while journal writes fail (a full disk); cleared by the next one that succeeds. */
    private volatile WriteStall stall;

    public WalJournals(Path storeDirectory, int fileBytes, TimelineStore timelines, WalLog wal) {
        this.storeDirectory = storeDirectory;
        this.fileBytes = fileBytes;
        this.timelines = timelines;
        this.wal = wal;
    }

    /** Why journal writes fail right now, if they do. */
    public Optional<WriteStall> stall() {
        return Optional.ofNullable(stall);
    }

    /**
     * Gets the timeline's journal ready before WAL arrives (blocking): its first file is zero-filled now,
     * so the first acknowledgement does not wait for that.
     */
    public void prepare(TimelineId id) {
        journal(id).prepareSpare();
    }

    private WalJournal journal(TimelineId id) {
        synchronized (journals) {
            return journals.computeIfAbsent(id, t -> WalJournal.create(directory(t), fileBytes));
        }
    }

    /**
     * Makes WAL durable in the timeline's journal with one sync, without touching LMDB: the WAL
     * receiver acknowledges it then, and hands the same bytes to {@link WalLog#append} afterwards, in
     * bigger batches. Each call continues the previous one; the first continues LMDB's WAL. Readers
     * see the bytes once the WAL log has them; after a crash, {@link #replayAll} replays them into LMDB.
     */
    public void append(TimelineId id, Lsn start, byte[] bytes) {
        WalJournal j = journal(id);
        synchronized (j) {
            if (j.end() == null) { // the journal's first WAL continues LMDB's
                Lsn end = wal.end(id).orElseThrow(() -> new StoreException("timeline " + id + " has no WAL"));
                if (!start.equals(end)) {
                    throw new WalGapException(id, end, start);
                }
            }
            try {
                j.append(start, bytes);
            } catch (StoreException e) {
                stall = WriteStall.after(stall, e, storeDirectory);
                throw e;
            }
        }
        if (stall != null) {
            stall = null;
        }
    }

    /** The WAL log has the appends: their journals may reuse what they held (on the indexing thread). */
    @Override
    public void appended(List<WalAppend> appends) {
        for (WalAppend a : appends) {
            WalJournal j;
            synchronized (journals) {
                j = journals.get(a.timeline());
            }
            if (j != null) {
                j.indexedUpTo(a.end());
                j.prepareSpare(); // on this (indexing) thread, not on the acknowledgement path
            }
        }
    }

    @Override
    public void beforeCut(TimelineId id) {
        replay(id);
    }

    /**
     * Moves whatever the timeline's journal holds beyond LMDB's WAL into LMDB, decoded and indexed as
     * the receiver would have, then empties the journal. Call it while nothing journals this timeline
     * (before a receiver connects, before WAL is cut). Returns the number of bytes moved.
     */
    public long replay(TimelineId id) {
        Path dir = close(id);
        WalJournal.Contents journaled = WalJournal.readAll(dir);
        List<WalJournal.Frame> frames = journaled.frames();
        long moved = 0;
        if ((!frames.isEmpty() || !journaled.damage().isEmpty()) && timelines.get(id).isPresent()) {
            Lsn lmdbEnd = wal.end(id).orElseThrow(() -> new StoreException("timeline " + id + " has a WAL journal but no WAL"));
            for (WalJournal.Damage d : journaled.damage()) {
                if (d.to().isAfter(lmdbEnd)) {
                    // Acknowledged WAL that LMDB does not have: replaying around it would drop commits. Touch nothing.
                    throw new StoreCorruptException("timeline " + id + ": " + d.describe() + " (LMDB's WAL ends at "
                            + lmdbEnd + "); acknowledged WAL would be lost, so nothing was replayed or cut");
                }
                LOG.warning("timeline " + id + ": " + d.describe() + "; LMDB already holds that WAL (it ends at "
                        + lmdbEnd + "), so nothing is lost");
            }
            Lsn at = lmdbEnd;
            ByteArrayOutputStream tail = new ByteArrayOutputStream();
            for (WalJournal.Frame f : frames) {
                if (!f.end().isAfter(at)) {
                    continue; // LMDB has it already
                }
                if (f.start().isAfter(at)) {
                    throw new StoreCorruptException("the WAL journal " + dir + " has a gap: "
                            + (at.equals(lmdbEnd) ? "LMDB's WAL ends at " + lmdbEnd : "its frames replayed so far end at " + at
                            + " (LMDB's WAL ends at " + lmdbEnd + ")") + ", the next journaled WAL starts at " + f.start());
                }
                int skip = (int) at.minus(f.start());
                tail.write(f.bytes(), skip, f.bytes().length - skip);
                at = f.end();
            }
            if (tail.size() > 0) {
                moved = index(id, dir, tail.toByteArray());
            }
        }
        WalJournal.clear(dir);
        return moved;
    }

    /** Decodes and indexes journaled bytes that continue LMDB's WAL, and appends them; returns the bytes moved. */
    private long index(TimelineId id, Path dir, byte[] bytes) {
        WalIndexer indexer = WalIndexer.resume(wal, id);
        EndOfWal invalid = indexer.feed(bytes);
        if (invalid != null) {
            throw new StoreException("the WAL journal " + dir + " holds invalid WAL: " + invalid);
        }
        long moved = 0;
        WalAppend append = indexer.drain();
        if (append != null) {
            wal.append(List.of(append));
            moved = append.bytes().length;
        }
        if (indexer.drained().isBefore(indexer.end())) {
            // Only a torn tail can be held back here: an incomplete record, never acknowledged as one.
            LOG.info("the WAL journal " + dir + " ends in an incomplete record at " + indexer.drained()
                    + "; it is left out");
        }
        return moved;
    }

    /** At open: every timeline's journal into LMDB (a journal of a timeline that is gone is dropped). */
    public void replayAll() throws IOException {
        Path root = storeDirectory.resolve(DIRECTORY);
        if (!Files.isDirectory(root)) {
            return;
        }
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.toList()) {
                TimelineId id;
                try {
                    id = TimelineId.parse(d.getFileName().toString());
                } catch (IllegalArgumentException e) {
                    throw new StoreFormatException("not a WAL journal of a timeline: " + d);
                }
                replay(id);
            }
        }
    }

    /** The journal of a timeline garbage collection deleted (nothing streams it): its files and directory. */
    public void delete(TimelineId id) {
        Path dir = close(id);
        WalJournal.clear(dir);
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new StoreException("cannot delete WAL journal " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Closes the timeline's live journal, if open (its files stay); returns its directory. */
    private Path close(TimelineId id) {
        WalJournal live;
        synchronized (journals) {
            live = journals.remove(id);
        }
        if (live != null) {
            synchronized (live) {
                live.close();
            }
        }
        return directory(id);
    }

    private Path directory(TimelineId id) {
        return storeDirectory.resolve(DIRECTORY).resolve(id.toString());
    }

    /** Closes every open journal (their files stay). */
    @Override
    public void close() {
        synchronized (journals) {
            journals.values().forEach(WalJournal::close);
            journals.clear();
        }
    }
}
