package dev.zenith.server.importer;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.compute.PostgresProcess;
import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Progress;
import com.github.luben.zstd.ZstdInputStream;
import dev.zenith.storage.image.StreamedPages;
import dev.zenith.wal.control.ControlFile;
import dev.zenith.wal.control.DbState;
import dev.zenith.wal.segment.WalSegments;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.OptionalLong;
import java.util.zip.GZIPInputStream;

/**
 * Brings a source that is on this machine into the staging directory: a stopped cluster's data directory
 * (copied: the source is only read) or pg_basebackup's tar files (unpacked as they are read). Blocking.
 */
final class SourceCopy {
    /** How long a postmaster whose pid file is already gone (it is exiting) may take to exit. */
    private static final long EXIT_GRACE_NANOS = 5_000_000_000L;

    private SourceCopy() {
    }

    /**
     * Copies a stopped cluster's directory; refuses a running one (postmaster.pid naming a live postgres). Relation
     * files' pages also go to {@code streamed} (may be null) as they are read, as a tar's do.
     */
    static void copyDataDirectory(PgInstallation pg, ImportSource.DataDirectory source, Path into, StreamedPages streamed)
            throws IOException {
        Path dir = source.path();
        if (!Files.isDirectory(dir)) {
            throw new InvalidRequestException(dir + " is not a directory (nor a .tar[.gz|.zst], .sql or .custom file)");
        }
        StagedCluster.checkVersion(dir, dir.toString());
        PostgresProcess postgres = new PostgresProcess(pg, dir, dir.resolve("postmaster.log"));
        OptionalLong pid = postgres.runningPid();
        // pg_ctl stop -w returns once the pid file is gone, a moment before the postmaster has exited: a cluster
        // stopped just now is given a few seconds to finish exiting before it counts as running
        for (long deadline = System.nanoTime() + EXIT_GRACE_NANOS; pid.isPresent()
                && !Files.exists(dir.resolve("postmaster.pid")) && System.nanoTime() < deadline; pid = postgres.runningPid()) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        if (pid.isPresent()) {
            throw new ConflictException("the cluster in " + dir + " is running (postmaster " + pid.getAsLong()
                    + "); stop it first, or import it while it runs with --from basebackup://USER@HOST:PORT");
        }
        Progress progress = Progress.current();
        progress.phase("copying " + dir, size(dir));
        StagedFiles files = new StagedFiles(into, streamed);
        WalNeeded wal = WalNeeded.of(dir);
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Path target = into.resolve(dir.relativize(d).toString());
                if (!d.equals(dir)) {
                    Files.createDirectory(target);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                String rel = dir.relativize(f).toString();
                if (attrs.isSymbolicLink()) {
                    throw new InvalidRequestException(dir + " has a symbolic link (" + rel + ": a tablespace, or pg_wal"
                            + " kept elsewhere); an import takes data directories without links");
                }
                if (attrs.isRegularFile()) {
                    Path target = into.resolve(rel);
                    String relPath = files.relPath(target);
                    if (files.streams(relPath)) {
                        try (InputStream in = Files.newInputStream(f)) {
                            files.write(in, target, relPath);
                        }
                    } else if (wal.needs(relPath)) {
                        Files.copy(f, target, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                    } // else a WAL segment PostgreSQL will not read: not copied
                    progress.advance(attrs.size());
                    progress.checkCancelled(); // into the staging directory, which a failure deletes
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * The WAL segments of a stopped cluster PostgreSQL reads when it starts: from its last checkpoint's redo point on
     * (a cluster that crashed replays from there); of one shut down cleanly, only the checkpoint's segment and the
     * next (the record may end there). Segments before are WAL it will never read again, and after the clean
     * checkpoint recycled files; a cluster may keep up to max_wal_size of them. All of them when pg_control does not
     * read (the staged cluster's checks refuse it later).
     */
    private record WalNeeded(long first, long last) {
        static WalNeeded of(Path dataDir) throws IOException {
            ControlFile control;
            try {
                control = ControlFile.parse(Files.readAllBytes(dataDir.resolve("global/pg_control")));
            } catch (java.nio.file.NoSuchFileException | IllegalArgumentException e) {
                return new WalNeeded(0, Long.MAX_VALUE);
            }
            long redo = WalSegments.segmentNumber(control.checkPointCopy().redo());
            boolean clean = control.state() == DbState.SHUTDOWNED && !Files.exists(dataDir.resolve("backup_label"));
            return new WalNeeded(redo, clean ? WalSegments.segmentNumber(control.checkPoint()) + 1 : Long.MAX_VALUE);
        }

        /** Whether the file at {@code relPath} ('/'-separated, in the data directory) is copied: all but segments not read. */
        boolean needs(String relPath) {
            if (!relPath.startsWith("pg_wal/")) {
                return true;
            }
            String name = relPath.substring("pg_wal/".length());
            if (!WalSegments.isSegmentFileName(name)) {
                return true; // timeline history, archive status
            }
            long segno = WalSegments.parseFileName(name).segno();
            return segno >= first && segno <= last;
        }
    }

    private static long size(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    /** Unpacks base.tar[.gz|.zst] and, when pg_basebackup wrote one beside it, pg_wal.tar[...] into pg_wal. */
    static void unpackBackup(ImportSource.BackupTar source, Path into, StreamedPages streamed) throws IOException {
        Path base = source.path();
        if (!Files.isRegularFile(base)) {
            throw new InvalidRequestException(base + " does not exist or is not a file");
        }
        // pg_basebackup compresses pg_wal.tar with gzip at most (PostgreSQL 15): look for each spelling
        ImportSource.BackupTar wal = null;
        for (String name : List.of("pg_wal.tar", "pg_wal.tar.gz", "pg_wal.tgz", "pg_wal.tar.zst")) {
            Path p = base.resolveSibling(name);
            if (Files.isRegularFile(p) && !p.equals(base)) {
                wal = (ImportSource.BackupTar) ImportSource.parse(p.toString());
                break;
            }
        }
        Progress progress = Progress.current();
        progress.phase("unpacking " + base.getFileName() + (wal != null ? " and " + wal.path().getFileName() : ""),
                Files.size(base) + (wal != null ? Files.size(wal.path()) : 0));
        unpack(base, source.compression(), into, streamed);
        if (wal != null) {
            Files.createDirectories(into.resolve("pg_wal"));
            unpack(wal.path(), wal.compression(), into.resolve("pg_wal"), null);
        }
    }

    private static void unpack(Path file, ImportSource.Compression compression, Path into, StreamedPages streamed)
            throws IOException {
        try (InputStream raw = new Counted(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            InputStream in;
            try {
                in = switch (compression) {
                    case NONE -> raw;
                    case GZIP -> new GZIPInputStream(raw, 1 << 16);
                    case ZSTD -> new ZstdInputStream(raw);
                };
            } catch (IOException e) {
                throw new InvalidRequestException(file + " is not " + (compression == ImportSource.Compression.GZIP
                        ? "gzip" : "zstd") + "-compressed: " + e.getMessage());
            }
            TarUnpacker.unpack(in, into, file.toString(), streamed);
        }
    }

    /** Reports the bytes read from the file (compressed, as its size was the phase's total). */
    private static final class Counted extends FilterInputStream {
        Counted(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                Progress.current().advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                Progress.current().advance(n);
                Progress.current().checkCancelled(); // unpacking into the staging directory
            }
            return n;
        }
    }
}
