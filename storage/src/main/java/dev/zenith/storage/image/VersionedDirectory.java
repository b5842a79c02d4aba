package dev.zenith.storage.image;

import dev.zenith.wal.Lsn;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A data directory at a checkpoint of a running primary, built from page versions rather than from an
 * image taken there (docs/page-versions.md, "Everything that builds a data directory").
 *
 * @param smallFiles        the image whose other files (configuration, PG_VERSION...) it holds
 * @param pgControl         the checkpoint's global/pg_control (an anchor's)
 * @param files             files that do not come from the image (the anchor's status files, the relation maps
 *                          and new databases' PG_VERSION at the checkpoint), path relative to the data directory
 * @param directories       every directory it has (the image's, without databases dropped since, with new ones)
 * @param statusDirectories directories whose image files are all left out (their files are in {@code files})
 * @param forks             every relation fork there, with its block count
 * @param freeSpaceMaps     every free-space map fork there, with its block count, written all zeros: FSM is not
 *                          WAL-logged, so this is what every redo run from this base started from and what crash
 *                          recovery from here leaves (redo records free space into them, extends and truncates them)
 * @param versionsAt        each block is the newest stored version at or below this LSN (the checkpoint's redo point)
 */
public record VersionedDirectory(ImageManifest smallFiles, byte[] pgControl, Map<String, byte[]> files,
                                 List<String> directories, List<String> statusDirectories, List<RelationSize> forks,
                                 List<RelationSize> freeSpaceMaps, Lsn versionsAt) {
    public VersionedDirectory {
        Objects.requireNonNull(smallFiles, "smallFiles");
        Objects.requireNonNull(pgControl, "pgControl");
        Objects.requireNonNull(versionsAt, "versionsAt");
        files = Map.copyOf(files);
        directories = List.copyOf(directories);
        statusDirectories = List.copyOf(statusDirectories);
        forks = List.copyOf(forks);
        freeSpaceMaps = List.copyOf(freeSpaceMaps);
    }

    /** Whether the image's file {@code path} belongs in this directory (not replaced, not of a dropped database). */
    public boolean takesImageFile(String path) {
        int slash = path.lastIndexOf('/');
        String dir = slash < 0 ? "" : path.substring(0, slash);
        return (dir.isEmpty() || directories.contains(dir)) && !statusDirectories.contains(dir) && !files.containsKey(path);
    }

    /** The bytes of relation pages it holds (what a materialization's progress adds up to). */
    public long pageBytes() {
        return RelationSize.pageBytes(forks) + RelationSize.pageBytes(freeSpaceMaps);
    }
}
