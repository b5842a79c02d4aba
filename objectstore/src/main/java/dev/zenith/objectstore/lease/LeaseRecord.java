package dev.zenith.objectstore.lease;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.ObjectFrame;

import java.io.IOException;
import java.time.Instant;

/**
 * The content of the {@code lease} object (JSON in an {@link ObjectFrame}, so a damaged one is
 * detected, never read as "free"). {@code nonce} is random per acquisition: the read-back after a
 * write tells whose write survived. {@code generation} grows by one per acquisition and never goes
 * back (a release keeps it): it fences everything a holder writes (manifest names).
 *
 * @param owner     who holds it, for messages: host, process, home
 * @param expiresAt the holder's wall clock at its last write plus the lease's time to live; zero when released
 * @param holder    who may take it over before its expiry after the holder crashed (see {@link Takeover}); empty: nobody
 * @param pid       the holder's process id, for that takeover's check; zero when not known
 */
public record LeaseRecord(String nonce, String owner, long generation, long expiresAt, String holder, long pid) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public LeaseRecord(String nonce, String owner, long generation, long expiresAt) {
        this(nonce, owner, generation, expiresAt, "", 0);
    }

    public boolean released() {
        return expiresAt == 0;
    }

    public byte[] encode() {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", 1);
        n.put("nonce", nonce);
        n.put("owner", owner);
        n.put("generation", generation);
        n.put("expires_at", expiresAt == 0 ? "" : Instant.ofEpochMilli(expiresAt).toString());
        n.put("expires_at_ms", expiresAt);
        n.put("holder", holder);
        n.put("pid", pid);
        try {
            return ObjectFrame.encode(JSON.writeValueAsBytes(n)).bytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static LeaseRecord decode(String what, byte[] stored) {
        byte[] json = ObjectFrame.decode(what, stored, null);
        try {
            JsonNode n = JSON.readTree(json);
            if (n == null || n.path("format").asInt() != 1 || !n.path("nonce").isTextual() || !n.path("generation").isNumber()
                    || !n.path("expires_at_ms").isNumber()) {
                throw new CorruptObjectException(what, "not a lease record");
            }
            return new LeaseRecord(n.get("nonce").asText(), n.path("owner").asText(), n.get("generation").asLong(),
                    n.get("expires_at_ms").asLong(), n.path("holder").asText(""), n.path("pid").asLong(0));
        } catch (IOException e) {
            throw new CorruptObjectException(what, "not a lease record (" + e.getMessage() + ")", e);
        }
    }
}
