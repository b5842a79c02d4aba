package dev.zenith.server.redo;

import dev.zenith.server.anchor.Anchor;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The non-relation part of a data directory a redo run starts from: its directories (every
 * database's directory at the anchor's redo point among them: replay writes relation maps into
 * them, and CREATE DATABASE by FILE_COPY copies from them) and small files such as PG_VERSION and
 * pg_filenode.map. An image's files, with the databases created since added, fit.
 *
 * <p>What a run writes itself is left out: pg_control and the anchor's status files, WAL,
 * configuration, and everything that would make the server do more than crash recovery (recovery
 * or standby signals, backup labels, replication slots).
 */
public record ScratchBase(Set<String> directories, Map<String, byte[]> files) {
    /** Files never taken from the base (the run writes its own or must not have them). */
    private static final Set<String> OWN_FILES = Set.of("global/pg_control", "postgresql.conf", "postgresql.auto.conf",
            "pg_hba.conf", "pg_ident.conf", "standby.signal", "recovery.signal", "backup_label", "tablespace_map",
            "backup_manifest", "postmaster.pid", "postmaster.opts", "current_logfiles");
    /** Directories whose contents are never taken from the base. */
    private static final List<String> OWN_DIRECTORIES = List.of("pg_wal", "pg_replslot", "pg_logical", "pg_stat",
            "pg_stat_tmp", "pg_subtrans", "pg_snapshots", "pg_notify", "pg_serial", "pg_dynshmem");
    /** Every directory PostgreSQL 15 expects in a data directory (initdb's subdirs). */
    static final List<String> SKELETON = List.of("global", "base", "pg_wal", "pg_wal/archive_status", "pg_xact",
            "pg_multixact", "pg_multixact/offsets", "pg_multixact/members", "pg_subtrans", "pg_commit_ts",
            "pg_twophase", "pg_replslot", "pg_tblspc", "pg_snapshots", "pg_stat", "pg_stat_tmp", "pg_logical",
            "pg_logical/snapshots", "pg_logical/mappings", "pg_notify", "pg_serial", "pg_dynshmem");

    public ScratchBase {
        directories = Set.copyOf(directories);
        files = Map.copyOf(files);
        for (String p : directories) {
            requireRelative(p);
        }
        for (String p : files.keySet()) {
            requireRelative(p);
        }
    }

    private static void requireRelative(String path) {
        if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || List.of(path.split("/")).contains("..")) {
            throw new IllegalArgumentException("not a path inside a data directory: '" + path + "'");
        }
    }

    /** The directories to create, parents first (a path sorts before those below it). */
    SortedSet<String> directoriesToCreate() {
        TreeSet<String> all = new TreeSet<>(SKELETON);
        for (String d : directories) {
            if (!isOwnDirectoryContent(d)) {
                all.add(d);
            }
        }
        for (String f : filesToCopy().keySet()) {
            int slash = f.lastIndexOf('/');
            if (slash > 0) {
                all.add(f.substring(0, slash));
            }
        }
        return all;
    }

    /** The files to copy: the base's, less the run's own and the anchor's directories. */
    Map<String, byte[]> filesToCopy() {
        Map<String, byte[]> out = new TreeMap<>();
        files.forEach((path, bytes) -> {
            int slash = path.lastIndexOf('/');
            String dir = slash < 0 ? "" : path.substring(0, slash);
            if (!OWN_FILES.contains(path) && !isOwnDirectoryContent(path) && !Anchor.DIRECTORIES.contains(dir)) {
                out.put(path, bytes);
            }
        });
        return out;
    }

    private static boolean isOwnDirectoryContent(String path) {
        return OWN_DIRECTORIES.stream().anyMatch(d -> path.startsWith(d + "/"));
    }
}
