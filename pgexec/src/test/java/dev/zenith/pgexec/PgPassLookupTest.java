package dev.zenith.pgexec;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Password file lines matched as libpq matches them: fields in order, '*' for any, backslash escapes. */
class PgPassLookupTest {
    @Test
    void aLineMatchesItsHostPortDatabaseAndUserOrAWildcard() {
        String line = "db1:5432:replication:replicator:s3cret";
        assertEquals(Optional.of("s3cret"), PgPassLookup.match(line, "db1", 5432, "replication", "replicator"));
        assertEquals(Optional.empty(), PgPassLookup.match(line, "db2", 5432, "replication", "replicator"));
        assertEquals(Optional.empty(), PgPassLookup.match(line, "db1", 5433, "replication", "replicator"));
        assertEquals(Optional.empty(), PgPassLookup.match(line, "db1", 5432, "postgres", "replicator"));
        assertEquals(Optional.empty(), PgPassLookup.match(line, "db1", 5432, "replication", "postgres"));
        assertEquals(Optional.of("x"), PgPassLookup.match("*:*:*:*:x", "h", 1, "d", "u"));
    }

    @Test
    void backslashesEscapeColonsAndThemselvesAndTheLastFieldKeepsItsColons() {
        assertEquals(Optional.of("a:b\\c"), PgPassLookup.match("h\\:1:5432:*:u:a\\:b\\\\c", "h:1", 5432, "d", "u"));
        assertEquals(Optional.of("p:q"), PgPassLookup.match("h:5432:*:u:p:q", "h", 5432, "d", "u"));
    }

    @Test
    void commentsBlankAndShortLinesMatchNothing() {
        assertEquals(Optional.empty(), PgPassLookup.match("# h:5432:*:u:p", "# h", 5432, "d", "u"));
        assertEquals(Optional.empty(), PgPassLookup.match("   ", "h", 5432, "d", "u"));
        assertEquals(Optional.empty(), PgPassLookup.match("h:5432:d:u", "h", 5432, "d", "u"));
    }
}
