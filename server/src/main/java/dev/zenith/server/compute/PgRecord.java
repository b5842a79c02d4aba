package dev.zenith.server.compute;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.time.Instant;

/**
 * What the store remembers about one compute node (key {@code pg/NAME} in its storage's metadata).
 *
 * @param wantRunning  whether the user last asked it to run (a crash leaves it true until noticed)
 * @param cleanDirLsn  set when the data directory was cleanly stopped and imported as an image while the
 *                     timeline's WAL ended here: then the directory may be restarted as is. Null means the
 *                     directory must be rebuilt from the store before the next start.
 * @param role         how it runs (see {@link Role})
 * @param source       where its timeline branched from, as the user asked ({@code main@snap}, {@code main@0/16B3748}), or null
 * @param replicaOf    the pg whose present history this replica follows, across that pg's checkouts
 *                     ({@code pg create NAME --replica-of PG}); null for any other pg
 */
public record PgRecord(String name, String storageName, TimelineId timeline, int port, Path pgdata, Path logfile,
                       Instant createdAt, boolean wantRunning, Lsn cleanDirLsn, Role role, String source,
                       String replicaOf) {

    /** How a pg runs. */
    public enum Role {
        /** Owns its timeline: its WAL flows into the store. */
        PRIMARY("primary"),
        /** Last started as a hot standby streaming its timeline from our replication port. */
        REPLICA("replica"),
        /** A hot standby of nothing at its timeline's branch point: replays to it and serves reads (for good). */
        READ_ONLY("read_only");

        private final String shown;

        Role(String shown) {
            this.shown = shown;
        }

        /** As GET /pgs shows it. */
        @Override
        public String toString() {
            return shown;
        }
    }

    public static String key(String name) {
        return "pg/" + name;
    }

    public boolean readOnly() {
        return role == Role.READ_ONLY;
    }

    public boolean replica() {
        return role == Role.REPLICA;
    }

    public boolean primary() {
        return role == Role.PRIMARY;
    }

    /**
     * This pg as another daemon takes it over with the storage that holds it: under that storage's
     * name there, with a port and directories of its own, stopped, its directory rebuilt at the first start.
     */
    public PgRecord adoptedAs(String storage, int newPort, Path newPgdata, Path newLogfile) {
        return new PgRecord(name, storage, timeline, newPort, newPgdata, newLogfile, createdAt, false, null, role, source, replicaOf);
    }

    /** Whether both pgs are on the same timeline of the same storage. */
    public boolean sameTimelineAs(PgRecord other) {
        return storageName.equals(other.storageName) && timeline.equals(other.timeline);
    }

    public PgRecord withPort(int newPort) {
        return new PgRecord(name, storageName, timeline, newPort, pgdata, logfile, createdAt, wantRunning, cleanDirLsn, role, source, replicaOf);
    }

    public PgRecord withWantRunning(boolean v) {
        return new PgRecord(name, storageName, timeline, port, pgdata, logfile, createdAt, v, cleanDirLsn, role, source, replicaOf);
    }

    public PgRecord withCleanDirLsn(Lsn lsn) {
        return new PgRecord(name, storageName, timeline, port, pgdata, logfile, createdAt, wantRunning, lsn, role, source, replicaOf);
    }

    /** The same pg moved to another timeline (checkout): its directory must be rebuilt. */
    public PgRecord onTimeline(TimelineId newTimeline, String newSource) {
        return new PgRecord(name, storageName, newTimeline, port, pgdata, logfile, createdAt, wantRunning, null, role,
                newSource, replicaOf);
    }

    /** Started as a hot standby or as a primary; a read-only node stays one. */
    public PgRecord withReplica(boolean v) {
        Role r = role == Role.READ_ONLY ? role : v ? Role.REPLICA : Role.PRIMARY;
        return new PgRecord(name, storageName, timeline, port, pgdata, logfile, createdAt, wantRunning, cleanDirLsn, r, source, replicaOf);
    }

    /** The same pg following {@code leader}'s history, or (null) no pg's. */
    public PgRecord withReplicaOf(String leader) {
        return new PgRecord(name, storageName, timeline, port, pgdata, logfile, createdAt, wantRunning, cleanDirLsn, role,
                source, leader);
    }

    /** Stored with the role as two flags (read_only, replica), as records have been since before the role. */
    public JsonObject toJson() {
        return new JsonObject().put("name", name).put("storage_name", storageName).put("timeline_id", timeline.toString())
                .put("port", port).put("pgdata", pgdata.toString()).put("logfile", logfile.toString())
                .put("created_at", createdAt.toString()).put("want_running", wantRunning)
                .put("clean_dir_lsn", cleanDirLsn == null ? null : cleanDirLsn.toString())
                .put("read_only", readOnly()).put("source", source).put("replica", replica())
                .put("replica_of", replicaOf);
    }

    public static PgRecord fromJson(JsonObject j) {
        String clean = j.getString("clean_dir_lsn");
        Role role = j.getBoolean("read_only", false) ? Role.READ_ONLY
                : j.getBoolean("replica", false) ? Role.REPLICA : Role.PRIMARY;
        return new PgRecord(j.getString("name"), j.getString("storage_name"), TimelineId.parse(j.getString("timeline_id")),
                j.getInteger("port"), Path.of(j.getString("pgdata")), Path.of(j.getString("logfile")),
                Instant.parse(j.getString("created_at")), j.getBoolean("want_running", false),
                clean == null ? null : Lsn.parse(clean), role, j.getString("source"), j.getString("replica_of"));
    }
}
