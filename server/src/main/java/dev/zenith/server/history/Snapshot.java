package dev.zenith.server.history;

import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.time.Instant;

/**
 * A named point in a pg's history ({@code PG@SNAP}): a timeline and an LSN. Creating one copies no
 * data; it only keeps that history alive.
 *
 * @param commitTime time of the last commit the point includes (when its data was last committed); null when
 *                   there is none, or the snapshot predates this field
 */
public record Snapshot(String pg, String name, String storageName, TimelineId timeline, Lsn lsn, Instant commitTime,
                       Instant createdAt) {
    public String fullName() {
        return pg + "@" + name;
    }

    public static String key(String fullName) {
        return "snapshot/" + fullName;
    }

    public JsonObject toJson() {
        return new JsonObject().put("name", fullName()).put("pg", pg).put("snapshot", name)
                .put("storage_name", storageName).put("timeline_id", timeline.toString()).put("lsn", lsn.toString())
                .put("commit_time", commitTime == null ? null : commitTime.toString())
                .put("created_at", createdAt.toString());
    }

    public static Snapshot fromJson(JsonObject j) {
        String ct = j.getString("commit_time");
        return new Snapshot(j.getString("pg"), j.getString("snapshot"), j.getString("storage_name"),
                TimelineId.parse(j.getString("timeline_id")), Lsn.parse(j.getString("lsn")),
                ct == null ? null : Instant.parse(ct), Instant.parse(j.getString("created_at")));
    }
}
