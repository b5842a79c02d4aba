package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationCommand.*;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ReplicationCommandParserTest {
    static ReplicationCommand parse(String s) {
        return ReplicationCommandParser.parse(s);
    }

    static String error(String s) {
        ReplicationCommandException e = assertThrows(ReplicationCommandException.class, () -> parse(s), s);
        assertEquals("42601", e.sqlState());
        assertEquals("42601", e.errorFields().code());
        return e.getMessage();
    }

    /** Exactly what PostgreSQL 15's pg_receivewal and pg_basebackup sent to our test server. */
    @Test
    void commandsCapturedFromPostgres15Clients() {
        assertEquals(new Show("data_directory_mode"), parse("SHOW data_directory_mode"));
        assertEquals(new Show("wal_segment_size"), parse("SHOW wal_segment_size"));
        assertEquals(new IdentifySystem(), parse("IDENTIFY_SYSTEM"));
        assertEquals(new CreateReplicationSlot("zslot", false, false, null, false, null, false),
                parse("CREATE_REPLICATION_SLOT \"zslot\" PHYSICAL"));
        assertEquals(new ReadReplicationSlot("zslot"), parse("READ_REPLICATION_SLOT \"zslot\""));
        assertEquals(new StartReplication("zslot", false, Lsn.parse("0/3000000"), 1, Map.of()),
                parse("START_REPLICATION SLOT \"zslot\" 0/3000000 TIMELINE 1"));
        BaseBackupOptions o = ((BaseBackup) parse("BASE_BACKUP ( LABEL 'my label',  PROGRESS,  WAL,  CHECKPOINT 'fast',"
                + "  WAIT 0,  MAX_RATE 100,  MANIFEST 'yes',  MANIFEST_CHECKSUMS 'SHA256',  TARGET 'client')")).options();
        assertEquals(new BaseBackupOptions("my label", true, Checkpoint.FAST, true, false, 100, false, true,
                Manifest.YES, "SHA256", "client", null, "none", null), o);
        BaseBackupOptions p = ((BaseBackup) parse(
                "BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  TABLESPACE_MAP,  TARGET 'client')")).options();
        assertTrue(p.tablespaceMap());
        assertEquals(Manifest.NO, p.manifest());
    }

    @Test
    void otherPostgres15Forms() {
        // streamutil.c's CreateReplicationSlot with the new option syntax, temporary slot of pg_basebackup -X stream
        assertEquals(new CreateReplicationSlot("pg_basebackup_1234", true, false, null, true, null, false),
                parse("CREATE_REPLICATION_SLOT \"pg_basebackup_1234\" TEMPORARY PHYSICAL ( RESERVE_WAL)"));
        assertEquals(new CreateReplicationSlot("s", false, false, null, true, null, false),
                parse("create_replication_slot s physical reserve_wal;"));
        assertEquals(new CreateReplicationSlot("s", false, false, null, false, null, false),
                parse("CREATE_REPLICATION_SLOT s PHYSICAL (RESERVE_WAL false)"));
        assertEquals(new CreateReplicationSlot("l", false, true, "test_decoding", false, "nothing", true),
                parse("CREATE_REPLICATION_SLOT l LOGICAL test_decoding (SNAPSHOT 'nothing', TWO_PHASE)"));
        assertEquals(new CreateReplicationSlot("l", false, true, "pgoutput", false, "export", false),
                parse("CREATE_REPLICATION_SLOT l LOGICAL pgoutput EXPORT_SNAPSHOT"));
        assertEquals(new DropReplicationSlot("Mixed Case", true), parse("DROP_REPLICATION_SLOT \"Mixed Case\" WAIT"));
        assertEquals(new DropReplicationSlot("abc", false), parse("DROP_REPLICATION_SLOT ABC"));
        assertEquals(new TimelineHistory(2), parse("TIMELINE_HISTORY 2"));
        assertEquals(new StartReplication(null, false, Lsn.parse("1/AB000000"), null, Map.of()),
                parse("START_REPLICATION PHYSICAL 1/ab000000"));
        assertEquals(new StartReplication("s", false, Lsn.parse("0/0"), 3, Map.of()),
                parse("START_REPLICATION SLOT s PHYSICAL 0/0 TIMELINE 3"));
        assertEquals(new StartReplication("sub", true, Lsn.parse("0/16B3748"), null,
                        Map.of("proto_version", "3", "publication_names", "\"p\"")),
                parse("START_REPLICATION SLOT \"sub\" LOGICAL 0/16B3748 (proto_version '3', publication_names '\"p\"')"));
        assertEquals(new Show("foo.bar"), parse("SHOW \"foo\".bar"));
        BaseBackupOptions all = ((BaseBackup) parse("BASE_BACKUP (LABEL 'it''s', COMPRESSION 'zstd', "
                + "COMPRESSION_DETAIL 'level=3', TARGET 'server', TARGET_DETAIL '/tmp/x', VERIFY_CHECKSUMS false, "
                + "MANIFEST 'force-encode', WAIT, CHECKPOINT 'spread')")).options();
        assertEquals(new BaseBackupOptions("it's", false, Checkpoint.SPREAD, false, true, 0, false, false,
                Manifest.FORCE_ENCODE, "CRC32C", "server", "/tmp/x", "zstd", "level=3"), all);
        assertEquals(BaseBackupOptions.defaults(), ((BaseBackup) parse("BASE_BACKUP")).options());
    }

    @Test
    void oldKeywordFormOfBaseBackup() {
        BaseBackupOptions o = ((BaseBackup) parse("BASE_BACKUP LABEL 'old' PROGRESS FAST WAL NOWAIT MAX_RATE 1024 "
                + "TABLESPACE_MAP NOVERIFY_CHECKSUMS MANIFEST 'yes' MANIFEST_CHECKSUMS 'sha512'")).options();
        assertEquals(new BaseBackupOptions("old", true, Checkpoint.FAST, true, false, 1024, true, false,
                Manifest.YES, "SHA512", "client", null, "none", null), o);
    }

    @Test
    void sqlIsClassifiedNotRejected() {
        String s = "SELECT pg_catalog.set_config('search_path', '', false);";
        assertEquals(new Sql(s), parse(s));
        assertEquals(new Sql("select 1"), parse("select 1"));
        assertEquals(new Sql("  SHOWX foo"), parse("  SHOWX foo"));
        assertFalse(ReplicationCommandParser.isReplicationCommand("SELECT 1"));
        assertTrue(ReplicationCommandParser.isReplicationCommand("  identify_system"));
    }

    @Test
    void errorsAreSyntaxErrorsWithUsefulMessages() {
        assertEquals("syntax error at or near \"extra\"", error("IDENTIFY_SYSTEM extra"));
        assertEquals("syntax error at or near end of input", error("START_REPLICATION SLOT s PHYSICAL"));
        assertEquals("syntax error at or near \"PHYSICAL\"", error("START_REPLICATION SLOT s LOGICAL PHYSICAL"));
        assertEquals("unterminated quoted string", error("BASE_BACKUP (LABEL 'oops)"));
        assertEquals("duplicate option \"label\"", error("BASE_BACKUP (LABEL 'a', LABEL 'b')"));
        assertEquals("unrecognized base backup option: \"frobnicate\"", error("BASE_BACKUP (FROBNICATE)"));
        assertEquals("unrecognized checkpoint type: \"slow\"", error("BASE_BACKUP (CHECKPOINT 'slow')"));
        assertEquals("10 is outside the valid range for parameter \"max_rate\" (32 .. 1048576)",
                error("BASE_BACKUP (MAX_RATE 10)"));
        assertEquals("manifest checksums require a backup manifest", error("BASE_BACKUP (MANIFEST_CHECKSUMS 'SHA256')"));
        assertEquals("unrecognized checksum algorithm: \"md5\"", error("BASE_BACKUP (MANIFEST 'yes', MANIFEST_CHECKSUMS 'md5')"));
        assertEquals("progress requires a Boolean value", error("BASE_BACKUP (PROGRESS 'maybe')"));
        assertEquals("unrecognized option: snapshot", error("CREATE_REPLICATION_SLOT s PHYSICAL (SNAPSHOT 'use')"));
        assertEquals("invalid timeline 0", error("TIMELINE_HISTORY 0"));
        assertTrue(error("START_REPLICATION 0/G").startsWith("syntax error"));
        assertTrue(error("CREATE_REPLICATION_SLOT s").contains("end of input"));
        assertTrue(error("SHOW").contains("end of input"));
    }
}
