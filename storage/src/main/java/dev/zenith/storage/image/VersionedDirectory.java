package dev.zenith.storage.image;

import dev.zenith.wal.Lsn;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A data directory at a checkpoint of a running primary, built from page versions rather than from an
 * image taken there (docs/page-versions.md, "Everything that builds a data directory").
 *
 * @param smallFiles        the image whose directories and small files (PG_VERSION, relation maps...) it holds
 * @param pgControl         the checkpoint's global/pg_control (an anchor's)
 * @param statusFiles       the anchor's transaction-status files, path relative to the data directory
 * @param statusDirectories directories whose files come from {@code statusFiles}, not from the image
 * @param forks             every relation fork there, with its block count
 * @param versionsAt        each block is the newest stored version at or below this LSN (the checkpoint's redo point)
 */
public record VersionedDirectory(ImageManifest smallFiles, byte[] pgControl, Map<String, byte[]> statusFiles,
                                 List<String> statusDirectories, List<RelationSize> forks, Lsn versionsAt) {
    public VersionedDirectory {
        Objects.requireNonNull(smallFiles, "smallFiles");
        Objects.requireNonNull(pgControl, "pgControl");
        Objects.requireNonNull(versionsAt, "versionsAt");
        statusFiles = Map.copyOf(statusFiles);
        statusDirectories = List.copyOf(statusDirectories);
        forks = List.copyOf(forks);
    }

    /** The bytes of relation pages it holds (what a materialization's progress adds up to). */
    public long pageBytes() {
        return RelationSize.pageBytes(forks);
    }
}
