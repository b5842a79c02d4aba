package dev.zenith.server.api;

import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.compute.RetentionPolicy;
import dev.zenith.server.history.HistoryDiff;
import dev.zenith.server.history.PgLog;
import dev.zenith.server.history.Snapshot;
import dev.zenith.server.history.StoredTimeline;
import dev.zenith.storage.timeline.Timeline;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/** The JSON of history: the timeline tree and snapshot diffs. */
final class HistoryJson {
    private HistoryJson() {
    }

    /** {@code GET /timelines}: every timeline with its parent and branch point. */
    static JsonArray timelines(List<StoredTimeline> all) {
        JsonArray out = new JsonArray();
        all.forEach(t -> out.add(timeline(t)));
        return out;
    }

    static JsonObject timeline(StoredTimeline st) {
        Timeline t = st.timeline();
        return new JsonObject().put("storage_name", st.storageName()).put("timeline_id", t.id().toString())
                .put("parent_id", t.parent() == null ? null : t.parent().toString())
                .put("branch_lsn", t.parent() == null ? null : t.branchLsn().toString())
                .put("pg_timeline", t.pgTimeline()).put("created_at", t.createdAt().toString());
    }

    /** A snapshot as it is stored, with its parent and, when asked for, what it alone keeps. */
    static JsonObject snapshot(RetentionPolicy.SnapshotRetention r) {
        JsonObject json = r.snapshot().toJson().put("parent", r.parent());
        if (r.retainsWalBytes() == null) {
            return json;
        }
        return json.put("retains_wal_bytes", r.retainsWalBytes()).put("retains_page_bytes", r.retainsPageBytes())
                .put("retains_bytes", r.retainsWalBytes() + r.retainsPageBytes());
    }

    static JsonArray snapshots(List<RetentionPolicy.SnapshotRetention> all) {
        JsonArray out = new JsonArray();
        all.forEach(r -> out.add(snapshot(r)));
        return out;
    }

    static JsonObject created(ComputeManager.CreatedSnapshot c) {
        JsonObject json = c.snapshot().toJson();
        return c.note() == null ? json : json.put("note", c.note());
    }

    static JsonObject destroyed(Snapshot s) {
        return s.toJson().put("status", "destroyed");
    }

    /** {@code GET /pgs/NAME/log}: a page of a pg's history, newest first. */
    static JsonObject log(PgLog.Page p) {
        JsonArray entries = new JsonArray();
        p.entries().forEach(e -> entries.add(logEntry(e)));
        JsonObject json = new JsonObject().put("pg", p.pg()).put("timeline_id", p.timeline().toString())
                .put("end_lsn", p.end().toString()).put("entries", entries)
                .put("next_until", p.nextUntil() == null ? null : p.nextUntil().toString());
        return p.retentionHorizon() == null ? json : json.put("retention_horizon", p.retentionHorizon().toString());
    }

    private static JsonObject logEntry(PgLog.Entry e) {
        JsonObject j = new JsonObject().put("kind", e.kind()).put("lsn", e.lsn().toString()).put("time", e.time().toString());
        switch (e.kind()) {
            case "commit" -> j.put("xid", e.xid());
            case "branched_from" -> j.put("timeline_id", e.timeline().toString())
                    .put("parent_timeline_id", e.parentTimeline().toString());
            case "snapshot", "checkout" -> j.put("name", e.name()).put("timeline_id", e.timeline().toString())
                    .put("commit_time", e.commitTime() == null ? null : e.commitTime().toString());
            case "branch" -> j.put("timeline_id", e.timeline().toString());
            default -> {
            }
        }
        return e.text() == null ? j : j.put("text", e.text());
    }

    static JsonObject diff(HistoryDiff.Diff d) {
        return new JsonObject().put("from", d.from()).put("to", d.to())
                .put("common_timeline_id", d.commonTimeline().toString()).put("common_lsn", d.commonLsn().toString())
                .put("pages_changed", d.pagesChanged()).put("bytes_changed", d.bytesChanged())
                .put("relation_forks_changed", d.relationForksChanged());
    }
}
