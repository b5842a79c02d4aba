package dev.zenith.server.redo;

import dev.zenith.testkit.PgCluster;

import java.io.IOException;

/** Workload steps the oracles share, each ending with a named mark of the recorded compute (test helper). */
final class OracleSteps {
    private OracleSteps() {
    }

    static void truncate(RecordedCompute rc) throws IOException {
        rc.cluster().psql("TRUNCATE pgbench_history");
        rc.mark("TRUNCATE");
    }

    /** A VACUUM that cuts a table's tail (SMGR truncate of the main fork and the map). */
    static void vacuumTruncating(RecordedCompute rc) throws IOException {
        PgCluster c = rc.cluster();
        c.psql("CREATE TABLE shrinking AS SELECT g AS a FROM generate_series(1, 40000) g");
        c.psql("VACUUM shrinking");
        c.psql("DELETE FROM shrinking WHERE a > 300");
        c.psql("VACUUM shrinking");
        rc.mark("VACUUM truncating a table");
    }

    /** A template database, copies of it by WAL_LOG and by FILE_COPY, writes into both; returns the FILE_COPY one's OID. */
    static int createDatabases(RecordedCompute rc) throws IOException {
        PgCluster c = rc.cluster();
        c.psql("CREATE DATABASE template_src");
        c.psql("template_src", "CREATE TABLE s AS SELECT g AS a, md5(g::text) AS b FROM generate_series(1, 8000) g");
        c.psql("template_src", "CREATE INDEX s_a ON s (a)");
        c.psql("CREATE DATABASE by_wal TEMPLATE template_src STRATEGY WAL_LOG");
        rc.mark("CREATE DATABASE WAL_LOG");
        c.psql("CREATE DATABASE by_copy TEMPLATE template_src STRATEGY FILE_COPY");
        rc.mark("CREATE DATABASE FILE_COPY");
        c.psql("by_copy", "UPDATE s SET b = 'copied' WHERE a % 50 = 0");
        c.psql("by_wal", "UPDATE s SET b = 'logged' WHERE a % 70 = 0");
        rc.mark("writes in the new databases");
        return Integer.parseInt(c.psql("SELECT oid FROM pg_database WHERE datname = 'by_copy'"));
    }

    static void dropDatabase(RecordedCompute rc) throws IOException {
        rc.cluster().psql("DROP DATABASE by_wal");
        rc.mark("DROP DATABASE");
    }
}
