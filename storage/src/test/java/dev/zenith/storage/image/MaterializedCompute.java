package dev.zenith.storage.image;

import dev.zenith.testkit.PgCluster;

import java.io.IOException;
import java.nio.file.Path;

/** A real PostgreSQL started on a materialized directory (as the PostgreSQL user), stopped on close. */
final class MaterializedCompute implements AutoCloseable {
    private final PgCluster owner;
    private final Path dataDir;
    private final int port;

    private MaterializedCompute(PgCluster owner, Path dataDir, int port) {
        this.owner = owner;
        this.dataDir = dataDir;
        this.port = port;
    }

    static MaterializedCompute start(PgCluster owner, Path dataDir, String name) throws IOException {
        owner.installation().handOver(dataDir);
        Path run = owner.scratch("run-" + name);
        int port = PgCluster.freePort();
        owner.exec("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "60", "-l", run.resolve("log").toString(), "-o",
                "-c port=" + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + run
                        + " -c fsync=off", "start");
        return new MaterializedCompute(owner, dataDir, port);
    }

    String psql(String database, String sql) throws IOException {
        return owner.exec("psql", "-X", "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "postgres", "-d",
                database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql).trim();
    }

    @Override
    public void close() throws IOException {
        owner.exec("pg_ctl", "-D", dataDir.toString(), "-w", "-t", "60", "-m", "fast", "stop");
    }
}
