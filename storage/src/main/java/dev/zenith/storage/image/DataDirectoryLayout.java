package dev.zenith.storage.image;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

import java.io.IOException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What of a data directory belongs in an image, following PostgreSQL 15's base backup
 * (src/backend/replication/basebackup.c): the same files are skipped, the same directories are
 * kept empty, relation files are recognised by name and grouped into forks.
 */
public final class DataDirectoryLayout {
    public static final String PG_CONTROL = "global/pg_control";
    /** Tablespace subdirectory name of PostgreSQL 15 (TABLESPACE_VERSION_DIRECTORY). */
    public static final String TABLESPACE_VERSION_DIRECTORY = "PG_15_202209061";

    /** Contents are recreated at server start; the directories themselves are kept (excludeDirContents). */
    private static final Set<String> EXCLUDED_DIR_CONTENTS = Set.of("pg_stat_tmp", "pg_replslot", "pg_dynshmem",
            "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans");
    /** excludeFiles: server-private or backup-only files. */
    private static final Set<String> EXCLUDED_FILES = Set.of("postgresql.auto.conf.tmp", "current_logfiles.tmp",
            "backup_label", "tablespace_map", "postmaster.pid", "postmaster.opts");
    private static final String RELCACHE_INIT_FILE = "pg_internal.init";
    private static final String TEMP_FILE_PREFIX = "pgsql_tmp";
    private static final Pattern RELATION_FILE = Pattern.compile("^(\\d+)(_fsm|_vm|_init)?(?:\\.(\\d+))?$");
    private static final Pattern TEMP_RELATION_FILE = Pattern.compile("^t\\d+_\\d+(_fsm|_vm|_init)?(\\.\\d+)?$");

    private DataDirectoryLayout() {
    }

    /** A scanned data directory. Paths are relative, '/'-separated. */
    public record Scan(List<String> directories, List<String> files, Map<RelTag, List<Path>> forks) {
    }

    public static Scan scan(Path dataDir) throws IOException {
        List<String> dirs = new ArrayList<>();
        List<String> files = new ArrayList<>();
        Map<RelTag, TreeMap<Integer, Path>> segments = new TreeMap<>(RelTag.ORDER);
        // tablespaces are symlinks under pg_tblspc; follow them like base backup does
        Files.walkFileTree(dataDir, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE,
                new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                        String rel = relative(dataDir, dir);
                        if (rel.isEmpty()) {
                            return FileVisitResult.CONTINUE;
                        }
                        String name = dir.getFileName().toString();
                        if (name.startsWith(TEMP_FILE_PREFIX)) {
                            return FileVisitResult.SKIP_SUBTREE;
                        }
                        dirs.add(rel);
                        if (rel.equals("pg_wal")) {
                            // WAL comes from the store, not from the image; archive_status must exist
                            dirs.add("pg_wal/archive_status");
                            return FileVisitResult.SKIP_SUBTREE;
                        }
                        return EXCLUDED_DIR_CONTENTS.contains(name) ? FileVisitResult.SKIP_SUBTREE
                                : FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                        String rel = relative(dataDir, file);
                        String name = file.getFileName().toString();
                        if (!attrs.isRegularFile() || EXCLUDED_FILES.contains(name)
                                || name.startsWith(RELCACHE_INIT_FILE) || name.startsWith(TEMP_FILE_PREFIX)
                                || rel.equals(PG_CONTROL)) {
                            return FileVisitResult.CONTINUE;
                        }
                        RelFileNode node = relationDirectory(rel);
                        if (node != null && TEMP_RELATION_FILE.matcher(name).matches()) {
                            return FileVisitResult.CONTINUE; // temporary relations die with their session
                        }
                        Segment segment = node == null ? null : relationSegment(node, name);
                        if (segment != null) {
                            segments.computeIfAbsent(segment.fork(), t -> new TreeMap<>()).put(segment.segno(), file);
                        } else {
                            files.add(rel);
                        }
                        return FileVisitResult.CONTINUE;
                    }

                    /**
                     * A server-private file that vanished between the listing and its look (a postmaster exiting
                     * removes postmaster.pid and its socket's lock file: a redo run is read while its server exits)
                     * was not part of the directory; a relation file or anything else that vanishes is an error.
                     */
                    @Override
                    public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                        String name = file.getFileName().toString();
                        if (e instanceof NoSuchFileException
                                && (EXCLUDED_FILES.contains(name) || name.startsWith(".s.PGSQL."))) {
                            return FileVisitResult.CONTINUE;
                        }
                        throw e;
                    }
                });
        dropUnloggedForks(segments);
        Map<RelTag, List<Path>> forks = new TreeMap<>(RelTag.ORDER);
        segments.forEach((tag, segs) -> {
            if (segs.lastKey() != segs.size() - 1) {
                throw new IllegalStateException("relation " + tag.path() + " has segment files " + segs.keySet()
                        + " with a gap");
            }
            forks.put(tag, List.copyOf(segs.values()));
        });
        dirs.sort(null);
        files.sort(null);
        return new Scan(List.copyOf(new TreeSet<>(dirs)), files, forks);
    }

    /** One file of a relation fork: segment {@code segno} (1 GiB each) of {@code fork}. */
    public record Segment(RelTag fork, int segno) {
    }

    /**
     * The relation fork segment a file at {@code relPath} (relative, '/'-separated) holds, or null when it
     * is not one (another file, a temporary relation's, or outside the directories that hold relations).
     */
    public static Segment relationSegment(String relPath) {
        RelFileNode node = relationDirectory(relPath);
        String name = relPath.substring(relPath.lastIndexOf('/') + 1);
        return node == null || TEMP_RELATION_FILE.matcher(name).matches() ? null : relationSegment(node, name);
    }

    private static Segment relationSegment(RelFileNode directory, String name) {
        Matcher m = RELATION_FILE.matcher(name);
        if (!m.matches()) {
            return null;
        }
        RelTag tag = RelTag.of(directory.spcOid(), directory.dbOid(), Integer.parseUnsignedInt(m.group(1)), fork(m.group(2)));
        return new Segment(tag, m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
    }

    /**
     * Base backup skips every fork but the init fork of an unlogged relation: recovery rebuilds the
     * main fork from the init fork.
     */
    private static void dropUnloggedForks(Map<RelTag, TreeMap<Integer, Path>> segments) {
        Set<RelFileNode> unlogged = new HashSet<>();
        segments.keySet().stream().filter(t -> t.fork() == ForkNumber.INIT).forEach(t -> unlogged.add(t.node()));
        segments.keySet().removeIf(t -> unlogged.contains(t.node()) && t.fork() != ForkNumber.INIT);
    }

    /**
     * The tablespace and database a relation file in this directory belongs to, or null when the
     * directory does not hold relation files (global/, base/db/, pg_tblspc/spc/PG_15_.../db/).
     */
    static RelFileNode relationDirectory(String relPath) {
        String[] p = relPath.split("/");
        try {
            if (p.length == 2 && p[0].equals("global")) {
                return new RelFileNode(RelFileNode.GLOBAL_TABLESPACE, 0, 0);
            }
            if (p.length == 3 && p[0].equals("base")) {
                return new RelFileNode(RelFileNode.DEFAULT_TABLESPACE, Integer.parseUnsignedInt(p[1]), 0);
            }
            if (p.length == 5 && p[0].equals("pg_tblspc") && p[2].equals(TABLESPACE_VERSION_DIRECTORY)) {
                return new RelFileNode(Integer.parseUnsignedInt(p[1]), Integer.parseUnsignedInt(p[3]), 0);
            }
        } catch (NumberFormatException e) {
            return null;
        }
        return null;
    }

    private static ForkNumber fork(String suffix) {
        if (suffix == null) {
            return ForkNumber.MAIN;
        }
        return switch (suffix) {
            case "_fsm" -> ForkNumber.FSM;
            case "_vm" -> ForkNumber.VISIBILITY_MAP;
            case "_init" -> ForkNumber.INIT;
            default -> throw new IllegalArgumentException(suffix);
        };
    }

    /** A database's directory: global, base/DB, or pg_tblspc/SPC/PG_15_.../DB. */
    public static String databaseDirectory(dev.zenith.wal.change.DatabaseDir d) {
        if (d.spcOid() == RelFileNode.GLOBAL_TABLESPACE) {
            return "global";
        }
        if (d.spcOid() == RelFileNode.DEFAULT_TABLESPACE) {
            return "base/" + Integer.toUnsignedString(d.dbOid());
        }
        return "pg_tblspc/" + Integer.toUnsignedString(d.spcOid()) + "/" + TABLESPACE_VERSION_DIRECTORY + "/"
                + Integer.toUnsignedString(d.dbOid());
    }

    /** A database directory's relation map file. */
    public static String relationMapFile(dev.zenith.wal.change.DatabaseDir d) {
        return databaseDirectory(d) + "/pg_filenode.map";
    }

    /** The file of segment {@code segno} of a fork: relpath, then ".N" from the second segment on. */
    public static String segmentPath(RelTag rel, int segno) {
        return segno == 0 ? rel.path() : rel.path() + "." + segno;
    }

    static String relative(Path root, Path p) {
        return root.relativize(p).toString().replace('\\', '/');
    }

    /** {@link RelTag#ORDER}, its home; kept for code written against this name. */
    public static int compareTags(RelTag a, RelTag b) {
        return RelTag.ORDER.compare(a, b);
    }
}
