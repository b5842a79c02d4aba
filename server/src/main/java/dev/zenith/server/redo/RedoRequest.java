package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;
import dev.zenith.storage.wal.BlockRef;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * One sparse redo run: the blocks wanted at {@code target}, replayed by PostgreSQL from
 * {@code anchor}.
 *
 * @param anchor        where replay starts (its checkpoint record must end at or before the target,
 *                      on the same PostgreSQL timeline)
 * @param target        the LSN wanted: the end of a WAL record
 * @param wanted        the blocks to answer
 * @param startingPages their versions at the anchor's redo point (and those of any block replay
 *                      copies into a wanted one: the template's, for a CREATE DATABASE by FILE_COPY)
 * @param forkSizes     block counts at the redo point of forks it knows (a fork holding a starting page
 *                      is made that long, holes of zeros; a free-space map also when the run's sink
 *                      wants the maps' lengths or a wanted block is one of its pages); forks it leaves out
 *                      get a file as long as their highest starting page
 * @param base          directories and small files of the data directory at the redo point
 * @param wal           the WAL from the redo point to the target, its segments named for the PostgreSQL
 *                      timelines they belong to
 * @param timelines     the PostgreSQL timeline of the target and the history files of the switches since
 *                      the anchor's (none when the target is on the anchor's timeline)
 */
public record RedoRequest(Anchor anchor, Lsn target, SortedSet<BlockRef> wanted, PageSource startingPages,
                          Map<RelTag, Long> forkSizes, ScratchBase base, WalSource wal, Timelines timelines) {
    /**
     * Where the target lies: {@code targetTli}, and {@code histories} (TLI to history file) for every switch
     * between the anchor's timeline and it. Crash recovery follows switches to the timeline pg_control's
     * minRecoveryPoint names, reading those files, as a rebuilt compute's recovery does.
     */
    public record Timelines(int targetTli, Map<Integer, byte[]> histories) {
        public Timelines {
            histories = Map.copyOf(histories);
        }

        /** The target on the anchor's own timeline: no switch to follow. */
        public static Timelines single(int tli) {
            return new Timelines(tli, Map.of());
        }
    }

    /** A run whose WAL is all on the anchor's PostgreSQL timeline. */
    public RedoRequest(Anchor anchor, Lsn target, SortedSet<BlockRef> wanted, PageSource startingPages,
                       Map<RelTag, Long> forkSizes, ScratchBase base, WalSource wal) {
        this(anchor, target, wanted, startingPages, forkSizes, base, wal, Timelines.single(anchor.pgTimeline()));
    }

    public RedoRequest {
        Objects.requireNonNull(anchor, "anchor");
        Objects.requireNonNull(timelines, "timelines");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(startingPages, "startingPages");
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(wal, "wal");
        wanted = new TreeSet<>(wanted);
        forkSizes = Map.copyOf(forkSizes);
    }
}
