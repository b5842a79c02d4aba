package dev.zenith.testkit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("pg")
class PgClusterTest {
    @Test
    void startsQueriesAndCleansUp() throws Exception {
        java.nio.file.Path data;
        try (PgCluster pg = PgCluster.initdb()) {
            data = pg.dataDir();
            pg.start();
            assertEquals("2", pg.psql("select 1 + 1"));
            assertTrue(pg.psql("show data_checksums").contains("on"));
        }
        assertFalse(Files.exists(data));
    }
}
