package dev.zenith.server.compute;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.server.ingest.ReceiverFigures;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A pg as the daemon shows it: its record, whether it runs, how to connect, where its WAL ends.
 *
 * @param connstr            the owner's connection URI (it names the password file)
 * @param replicationConnstr how PostgreSQL's tools stream or back up its timeline from our replication port
 * @param replicaOf          the pg whose history this replica follows, or null
 * @param walReceiver        its receiver's figures while it has one or null
 */
public record PgView(String name, String storageName, boolean running, PgRecord.Role role, String replicationConnstr,
                     String replicaOf, String source, int port, String connstr, TimelineId timeline, Lsn lastLsn, Path pgdata,
                     Path logfile, Instant createdAt, ReceiverFigures walReceiver) {
}
