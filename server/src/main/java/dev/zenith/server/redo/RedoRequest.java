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
 * @param forkSizes     block counts at the redo point of forks it knows (each fork's file is made
 *                      that long, holes of zeros); forks it leaves out get a file as long as their
 *                      highest starting page
 * @param base          directories and small files of the data directory at the redo point
 * @param wal           the WAL from the redo point to the target
 */
public record RedoRequest(Anchor anchor, Lsn target, SortedSet<BlockRef> wanted, PageSource startingPages,
                          Map<RelTag, Long> forkSizes, ScratchBase base, WalSource wal) {
    public RedoRequest {
        Objects.requireNonNull(anchor, "anchor");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(startingPages, "startingPages");
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(wal, "wal");
        wanted = new TreeSet<>(wanted);
        forkSizes = Map.copyOf(forkSizes);
    }
}
