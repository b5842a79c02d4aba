package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.compute.PgView;
import dev.zenith.server.compute.RetentionPolicy;
import dev.zenith.server.history.HistoryPoint;
import dev.zenith.server.ingest.ReceiverFigures;
import dev.zenith.server.storages.UnavailableStorage;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/** The JSON of pgs and of what pg actions and garbage collection answer (snake_case, as the whole API). */
final class PgJson {
    private PgJson() {
    }

    static JsonObject of(PgView p) {
        return new JsonObject().put("name", p.name()).put("storage_name", p.storageName())
                .put("status", p.running() ? "running" : "stopped")
                .put("role", p.role().toString())
                .put("replication_connstr", p.replicationConnstr())
                .put("read_only", p.role() == dev.zenith.server.compute.PgRecord.Role.READ_ONLY)
                .put("replica_of", p.replicaOf()).put("source", p.source()).put("port", p.port())
                .put("connstr", p.connstr())
                .put("timeline_id", p.timeline().toString()).put("last_lsn", p.lastLsn().toString())
                .put("pgdata", p.pgdata().toString()).put("logfile", p.logfile().toString())
                .put("created_at", p.createdAt().toString())
                .put("wal_receiver", p.walReceiver() == null ? null : receiver(p.walReceiver()));
    }

    /** A WAL receiver's state and commit figures. */
    static JsonObject receiver(ReceiverFigures f) {
        JsonObject json = new JsonObject().put("state", f.state());
        if (f.reason() != null) {
            json.put("reason", f.reason());
        }
        if (f.stalledSince() != null) {
            json.put("stalled_since", f.stalledSince().toString());
        }
        return json.put("flushed_lsn", f.flushedLsn().toString()).put("indexed_lsn", f.indexedLsn().toString())
                .put("commits", f.commits()).put("wal_bytes", f.walBytes()).put("avg_commit_ms", f.avgCommitMs())
                .put("avg_batch_bytes", f.avgBatchBytes()).put("socket_reads", f.socketReads())
                .put("wal_messages", f.walMessages()).put("index_commits", f.indexCommits())
                .put("avg_index_commit_ms", f.avgIndexCommitMs());
    }

    /** The pgs, then those of unavailable storages (listed, so that they neither vanish nor lose their names). */
    static JsonArray list(List<PgView> pgs, List<UnavailableStorage.Pg> unavailable) {
        JsonArray a = new JsonArray();
        pgs.forEach(p -> a.add(of(p)));
        unavailable.forEach(u -> a.add(new JsonObject().put("name", u.name()).put("storage_name", u.storageName())
                .put("status", "unavailable")
                .put("error", "storage '" + u.storageName() + "' is unavailable: " + u.storageError())));
        return a;
    }

    static JsonObject status(ComputeManager.DaemonStatus s, List<UnavailableStorage.Pg> unavailablePgs) {
        return new JsonObject().put("pid", s.pid()).put("home", s.home().toString())
                .put("http_port", s.httpPort()).put("pg_port", s.pgPort())
                .put("started_at", s.startedAt().toString()).put("storages", s.storages())
                .put("pgs_running", s.pgsRunning()).put("pgs", list(s.pgs(), unavailablePgs));
    }

    static JsonObject created(ComputeManager.Created c) {
        JsonObject json = of(c.pg());
        return c.branch() == null ? json : json.put("branch", point(c.branch()));
    }

    static JsonObject checkedOut(ComputeManager.CheckedOut c) {
        return of(c.pg()).put("saved_as", c.savedAs()).put("branch", point(c.branch())).put("replicas", moved(c.replicas()));
    }

    /** A point in a timeline's history: how it was asked for, and any rounding. */
    static JsonObject point(HistoryPoint p) {
        JsonObject j = new JsonObject().put("timeline_id", p.timeline().toString()).put("lsn", p.lsn().toString());
        if (p.requested() != null) {
            j.put("requested", p.requested());
        }
        if (p.note() != null) {
            j.put("note", p.note());
        }
        if (p.commitTime() != null) {
            j.put("commit_time", p.commitTime().toString());
        }
        return j;
    }

    static JsonObject started(ComputeManager.Started s) {
        JsonObject json = of(s.pg());
        return s.replicas() == null ? json : json.put("replicas", moved(s.replicas()));
    }

    private static JsonArray moved(List<ComputeManager.FollowerMoved> moved) {
        JsonArray a = new JsonArray();
        moved.forEach(m -> a.add(new JsonObject().put("name", m.name()).put("how", m.how())));
        return a;
    }

    static JsonObject promoted(ComputeManager.Promoted p) {
        return of(p.pg()).put("promoted_at", p.promotedAt().toString()).put("pg_timeline", p.pgTimeline());
    }

    static JsonObject destroyed(PgView p) {
        return of(p).put("status", "destroyed");
    }

    static JsonObject collected(RetentionPolicy.Collected c) {
        var stats = c.stats();
        return new JsonObject().put("storage_name", c.storageName()).put("pitr_seconds", c.pitr().getSeconds())
                .put("wal_bytes_freed", stats.walBytesFreed()).put("images_freed", stats.imagesFreed())
                .put("page_versions_freed", stats.pageVersionsFreed()).put("page_bytes_freed", stats.pageBytesFreed())
                .put("index_entries_freed", stats.indexEntriesFreed())
                .put("timelines_freed", stats.timelinesFreed().size()).put("blobs_freed", stats.blobsFreed());
    }
}
