package dev.zenith.protocol.replication;

import dev.zenith.wal.Lsn;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a client sends as a Query on a walsender-mode connection, parsed by
 * {@link ReplicationCommandParser} (grammar of PostgreSQL 15's repl_gram.y).
 */
public sealed interface ReplicationCommand {

    record IdentifySystem() implements ReplicationCommand {
    }

    /** {@code SHOW name}; the name is lower-cased unless it was quoted, and may be dotted. */
    record Show(String name) implements ReplicationCommand {
    }

    record TimelineHistory(int timeline) implements ReplicationCommand {
    }

    record ReadReplicationSlot(String slotName) implements ReplicationCommand {
    }

    /** {@code slotName} null when no SLOT was given; {@code timeline} null when not given; {@code options} only for LOGICAL. */
    record StartReplication(String slotName, boolean logical, Lsn startLsn, Integer timeline,
                            Map<String, String> options) implements ReplicationCommand {
        public StartReplication {
            options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
        }
    }

    /** {@code plugin} only for LOGICAL; {@code snapshot} is the SNAPSHOT option ('export', 'nothing', 'use') or null. */
    record CreateReplicationSlot(String slotName, boolean temporary, boolean logical, String plugin,
                                 boolean reserveWal, String snapshot, boolean twoPhase) implements ReplicationCommand {
    }

    record DropReplicationSlot(String slotName, boolean waitForRelease) implements ReplicationCommand {
    }

    record BaseBackup(BaseBackupOptions options) implements ReplicationCommand {
    }

    /** Not a replication command: plain SQL, which walsender hands to the SQL executor (or refuses). */
    record Sql(String text) implements ReplicationCommand {
    }

    enum Manifest { NO, YES, FORCE_ENCODE }

    enum Checkpoint { FAST, SPREAD }

    /** BASE_BACKUP options with PostgreSQL 15's defaults. {@code maxRate} is kB/s, 0 = unlimited. */
    record BaseBackupOptions(String label, boolean progress, Checkpoint checkpoint, boolean includeWal,
                             boolean waitForWalArchive, int maxRate, boolean tablespaceMap, boolean verifyChecksums,
                             Manifest manifest, String manifestChecksums, String target, String targetDetail,
                             String compression, String compressionDetail) {
        public static BaseBackupOptions defaults() {
            return new BaseBackupOptions("base backup", false, Checkpoint.SPREAD, false, true, 0, false, true,
                    Manifest.NO, "CRC32C", "client", null, "none", null);
        }
    }
}
