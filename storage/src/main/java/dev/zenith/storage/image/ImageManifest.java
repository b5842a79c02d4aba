package dev.zenith.storage.image;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Everything needed to write a data directory as of a checkpoint, except the page contents
 * (those live in the page-version space and are looked up at {@link #lsn()}).
 *
 * @param lsn                 the checkpoint record's LSN; the image's key
 * @param redoLsn             where recovery from this image starts replaying WAL
 * @param dataChecksumVersion from pg_control (0 = data checksums off)
 * @param pgControlSha256     blob holding global/pg_control as PostgreSQL wrote it
 * @param relations           every relation fork with its size in blocks
 * @param files               every other file, content-addressed
 * @param directories         every directory of the source, so empty ones exist after materializing
 */
public record ImageManifest(TimelineId timeline, Lsn lsn, Lsn redoLsn, Instant createdAt, int dataChecksumVersion,
                            String pgControlSha256, List<RelationSize> relations, List<FileEntry> files,
                            List<String> directories) {
    public ImageManifest {
        relations = List.copyOf(relations);
        files = List.copyOf(files);
        directories = List.copyOf(directories);
    }

    public Optional<RelationSize> relation(RelTag rel) {
        return relations.stream().filter(r -> r.rel().equals(rel)).findFirst();
    }

    public long totalBlocks() {
        return relations.stream().mapToLong(RelationSize::blocks).sum();
    }
}
