package dev.zenith.server.importer;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.compute.PostgresProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Where an import lays out the cluster it brings in before the store takes it: {@code tmp/import-ID} under
 * ZENITH_HOME (the scratch directory, emptied at every start, so an import a crash cut short leaves
 * nothing), with the data directory and a directory for the PostgreSQL runs of the import (socket, log),
 * both owned by PostgreSQL's user. Closing deletes it all.
 */
final class Staging implements AutoCloseable {
    private final Path root;
    private final Path dataDir;
    private final Path runDir;
    private final PgInstallation pg;

    private Staging(PgInstallation pg, Path root) {
        this.pg = pg;
        this.root = root;
        this.dataDir = root.resolve("data");
        this.runDir = root.resolve("run");
    }

    static Staging create(PgInstallation pg, Path scratchDir) throws IOException {
        PrivateFiles.directory(scratchDir);
        pg.letServerTraverse(scratchDir);
        Path root = scratchDir.resolve("import-" + UUID.randomUUID());
        Files.createDirectory(root);
        pg.letServerTraverse(root);
        Staging s = new Staging(pg, root);
        PrivateFiles.directory(s.dataDir);
        PrivateFiles.directory(s.runDir);
        s.handOver();
        return s;
    }

    Path dataDir() {
        return dataDir;
    }

    Path runDir() {
        return runDir;
    }

    /** Gives the data directory (as filled by root) and the run directory to PostgreSQL's user. */
    void handOver() throws IOException {
        pg.handOver(dataDir);
        pg.handOver(runDir);
    }

    /** A PostgreSQL server on the staged data directory, logging into the run directory. */
    PostgresProcess process() {
        return new PostgresProcess(pg, dataDir, runDir.resolve("postgres.log"));
    }

    @Override
    public void close() throws IOException {
        PostgresProcess p = process();
        if (p.runningPid().isPresent()) {
            p.stop();
        }
        FileTrees.delete(root);
    }
}
