package dev.zenith.storage.timeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.storage.meta.StoredJson;
import dev.zenith.wal.Lsn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * Timeline records as stored: small JSON documents, LSNs in PostgreSQL's text form for readability; field
 * names in snake_case, read in the camelCase of older stores too ({@link StoredJson}).
 */
public final class TimelineCodec {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TimelineCodec() {
    }

    public static byte[] encode(Timeline t) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", t.id().toString());
        n.put("parent", t.parent() == null ? null : t.parent().toString());
        n.put("branch_lsn", t.branchLsn().toString());
        n.put("pg_timeline", t.pgTimeline());
        n.put("created_at", t.createdAt().toString());
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Timeline decode(byte[] json) {
        try {
            JsonNode n = JSON.readTree(json);
            JsonNode parent = n.get("parent");
            return new Timeline(TimelineId.parse(n.get("id").asText()),
                    parent == null || parent.isNull() ? null : TimelineId.parse(parent.asText()),
                    Lsn.parse(StoredJson.field(n, "branch_lsn", "branchLsn").asText()),
                    StoredJson.field(n, "pg_timeline", "pgTimeline").asInt(),
                    Instant.parse(StoredJson.field(n, "created_at", "createdAt").asText()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
