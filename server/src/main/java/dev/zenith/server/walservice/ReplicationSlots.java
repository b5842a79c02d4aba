package dev.zenith.server.walservice;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Physical replication slots, per timeline. Lookups are in memory (event-loop safe). Permanent slots
 * are also documents in their storage ({@code slot/<timeline>/<name>} -> restart LSN) so they survive
 * a restart, as PostgreSQL's do; like PostgreSQL, a slot's advance is written out periodically
 * ({@link #persistAdvanced}) and at shutdown, not on every standby reply, so after a crash a slot may
 * restart a little earlier than its client confirmed (never later). Garbage collection keeps the WAL
 * from a permanent slot's restart LSN ({@link #restartLsns}). Temporary slots live and die with their
 * connection. Methods that write a store are blocking.
 */
public final class ReplicationSlots {
    private static final String META_PREFIX = "slot/";

    record Slot(TimelineId timeline, String name, boolean temporary, Lsn restartLsn, Object owner, Store store) {
    }

    private final Map<String, Slot> slots = new ConcurrentHashMap<>();
    /** Permanent slots whose restart LSN moved since it was last written. */
    private final Set<String> advanced = ConcurrentHashMap.newKeySet();

    /**
     * What is wrong with a new slot's name, as PostgreSQL's ReplicationSlotValidateName says it (1 to 63
     * characters of a-z, 0-9 and _), or null when it is valid. The name is part of the slot's key in its
     * storage: nothing else may become one.
     */
    static String invalidName(String name) {
        if (name.isEmpty()) {
            return "replication slot name \"" + name + "\" is too short";
        }
        if (name.getBytes(StandardCharsets.UTF_8).length >= 64) {
            return "replication slot name \"" + name + "\" is too long";
        }
        for (char ch : name.toCharArray()) {
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
                return "replication slot name \"" + name + "\" contains invalid character";
            }
        }
        return null;
    }

    private static String key(TimelineId tl, String name) {
        return tl + "/" + name;
    }

    /** Loads the permanent slots a storage holds (blocking). */
    void load(Store store) {
        for (Slot s : stored(store)) {
            slots.put(key(s.timeline(), s.name()), s);
        }
    }

    /** Drops every slot of a storage being detached from memory (its store keeps the permanent ones). */
    void forget(Store store) {
        slots.values().removeIf(s -> s.store() == store);
        advanced.removeIf(k -> !slots.containsKey(k));
    }

    /** The permanent slots as their storage holds them (blocking). */
    private static List<Slot> stored(Store store) {
        List<Slot> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : store.listMeta(META_PREFIX).entrySet()) {
            String[] parts = e.getKey().substring(META_PREFIX.length()).split("/", 2);
            Lsn restart = Lsn.parse(new JsonObject(new String(e.getValue(), StandardCharsets.UTF_8)).getString("restart_lsn"));
            out.add(new Slot(TimelineId.parse(parts[0]), parts[1], false, restart, null, store));
        }
        return out;
    }

    /** False when a slot of that name exists already on the timeline. A permanent one is written to its store (blocking). */
    boolean create(TimelineId tl, String name, boolean temporary, Lsn restartLsn, Object owner, Store store) {
        Slot s = new Slot(tl, name, temporary, restartLsn, owner, store);
        if (slots.putIfAbsent(key(tl, name), s) != null) {
            return false;
        }
        if (!temporary) {
            try {
                write(s);
            } catch (RuntimeException e) {
                slots.remove(key(tl, name));
                throw e;
            }
        }
        return true;
    }

    Optional<Slot> find(TimelineId tl, String name) {
        return Optional.ofNullable(slots.get(key(tl, name)));
    }

    /** False when there is no such slot; a permanent one is deleted from its store (blocking). */
    boolean drop(TimelineId tl, String name) {
        Slot s = slots.remove(key(tl, name));
        if (s == null) {
            return false;
        }
        advanced.remove(key(tl, name));
        if (!s.temporary()) {
            s.store().deleteMeta(metaKey(tl, name));
        }
        return true;
    }

    /** The client confirmed it flushed up to {@code flushed}: WAL before it is no longer needed by the slot. */
    void advance(TimelineId tl, String name, Lsn flushed) {
        Slot s = slots.computeIfPresent(key(tl, name), (k, old) -> flushed.isAfter(old.restartLsn())
                ? new Slot(old.timeline(), old.name(), old.temporary(), flushed, old.owner(), old.store()) : old);
        if (s != null && !s.temporary()) {
            advanced.add(key(tl, name));
        }
    }

    /** Writes the restart LSNs that moved since the last call (blocking). */
    void persistAdvanced() {
        for (String k : List.copyOf(advanced)) {
            advanced.remove(k);
            Slot s = slots.get(k);
            if (s != null && !s.temporary()) {
                write(s);
            }
        }
    }

    /** A connection ended: its temporary slots go away, as in PostgreSQL. */
    void releaseTemporary(Object owner) {
        slots.values().removeIf(s -> s.temporary() && s.owner() == owner);
    }

    private static void write(Slot s) {
        s.store().putMeta(metaKey(s.timeline(), s.name()), new JsonObject().put("restart_lsn", s.restartLsn().toString())
                .encode().getBytes(StandardCharsets.UTF_8));
    }

    private static String metaKey(TimelineId tl, String name) {
        return META_PREFIX + tl + "/" + name;
    }

    /**
     * Per timeline with a permanent slot, the slots' restart LSNs as last written (none for a slot that
     * reserved no WAL yet, whose timeline is in use all the same) (blocking).
     */
    public static Map<TimelineId, List<Lsn>> restartLsns(Store store) {
        Map<TimelineId, List<Lsn>> out = new HashMap<>();
        for (Slot s : stored(store)) {
            List<Lsn> lsns = out.computeIfAbsent(s.timeline(), k -> new ArrayList<>());
            if (s.restartLsn().isValid()) {
                lsns.add(s.restartLsn());
            }
        }
        return out;
    }
}
