package dev.zenith.server.export;

import dev.zenith.server.domain.InvalidRequestException;

import java.nio.file.Path;

/**
 * What {@code snapshot export} writes. A base backup (the default) goes where the target's name says:
 * {@code NAME.tar} one tar of the data directory with its WAL and backup_manifest (what {@code tar -x}
 * turns into a directory pg_verifybackup checks), {@code NAME.tar.zst} the same compressed, anything else a
 * plain data directory. A dump is a directory of {@code pg_dump -Fc} files, one per database.
 */
public enum ExportFormat {
    DIRECTORY, TAR, TAR_ZSTD, DUMP;

    /** {@code kind}: "backup" (or null) or "dump"; anything else is a 400. */
    public static ExportFormat of(String kind, Path target) {
        if (kind == null || kind.equals("backup")) {
            String name = target.getFileName() == null ? "" : target.getFileName().toString();
            return name.endsWith(".tar.zst") ? TAR_ZSTD : name.endsWith(".tar") ? TAR : DIRECTORY;
        }
        if (kind.equals("dump")) {
            return DUMP;
        }
        throw new InvalidRequestException("unknown export format '" + kind + "'; expected backup or dump");
    }

    public boolean isDirectory() {
        return this == DIRECTORY || this == DUMP;
    }

    public String label() {
        return switch (this) {
            case DIRECTORY -> "backup directory";
            case TAR -> "backup tar";
            case TAR_ZSTD -> "backup tar.zst";
            case DUMP -> "dump";
        };
    }
}
