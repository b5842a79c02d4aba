package dev.zenith.server.replication;

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
 * connection. As in PostgreSQL, a slot is used by one connection at a time (the one streaming from it; a
 * temporary slot's creator throughout): another one's START_REPLICATION or DROP_REPLICATION_SLOT is
 * refused naming its process id, and DROP_REPLICATION_SLOT ... WAIT waits until it is released. Names
 * follow PostgreSQL's rule ({@link #checkName}). Methods that write a store are blocking.
 */
public final class ReplicationSlots {
    private static final String META_PREFIX = "slot/";
    /** PostgreSQL's NAMEDATALEN - 1. */
    private static final int MAX_NAME_BYTES = 63;

    record Slot(TimelineId timeline, String name, boolean temporary, Lsn restartLsn, Object owner, Store store) {
    }

    /** Who uses a slot now (a streaming connection; a temporary slot's creator): its connection and process id. */
    private record Holder(Object connection, int pid) {
    }

    /** What PostgreSQL answers a slot name its ReplicationSlotValidateName refuses. */
    record InvalidName(String sqlState, String message, String hint) {
    }

    /** What a drop did: dropped, found nothing, or found the slot in use by process {@code activePid}. */
    record DropOutcome(boolean dropped, Integer activePid) {
        static final DropOutcome DROPPED = new DropOutcome(true, null);
        static final DropOutcome NOT_FOUND = new DropOutcome(false, null);
    }

    private final Map<String, Slot> slots = new ConcurrentHashMap<>();
    /** Permanent slots whose restart LSN moved since it was last written. */
    private final Set<String> advanced = ConcurrentHashMap.newKeySet();
    /** Slots in use, and who waits for them to be released (DROP_REPLICATION_SLOT ... WAIT); guarded by this. */
    private final Map<String, Holder> active = new HashMap<>();
    private final Map<String, List<Runnable>> waiters = new HashMap<>();

    private static String key(TimelineId tl, String name) {
        return tl + "/" + name;
    }

    /**
     * PostgreSQL's rule for slot names (ReplicationSlotValidateName): 1 to 63 bytes of lower-case letters,
     * digits and underscores. Names also become keys of the storage's documents, so nothing else may pass.
     */
    static Optional<InvalidName> checkName(String name) {
        if (name.isEmpty()) {
            return Optional.of(new InvalidName("42602", "replication slot name \"\" is too short", null));
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            return Optional.of(new InvalidName("42622", "replication slot name \"" + name + "\" is too long", null));
        }
        if (!name.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return Optional.of(new InvalidName("42602", "replication slot name \"" + name + "\" contains invalid character",
                    "Replication slot names may only contain lower case letters, numbers, and the underscore character."));
        }
        return Optional.empty();
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
        for (Map.Entry<String, byte[]> e : store.documents().list(META_PREFIX).entrySet()) {
            String[] parts = e.getKey().substring(META_PREFIX.length()).split("/", 2);
            Lsn restart = Lsn.parse(new JsonObject(new String(e.getValue(), StandardCharsets.UTF_8)).getString("restart_lsn"));
            out.add(new Slot(TimelineId.parse(parts[0]), parts[1], false, restart, null, store));
        }
        return out;
    }

    /**
     * False when a slot of that name exists already on the timeline. A permanent one is written to its
     * store (blocking); a temporary one is in use by its creator ({@code owner}, process {@code pid}) until
     * that connection ends, as in PostgreSQL.
     */
    boolean create(TimelineId tl, String name, boolean temporary, Lsn restartLsn, Object owner, int pid, Store store) {
        Slot s = new Slot(tl, name, temporary, restartLsn, owner, store);
        if (slots.putIfAbsent(key(tl, name), s) != null) {
            return false;
        }
        if (temporary) {
            synchronized (this) {
                active.put(key(tl, name), new Holder(owner, pid));
            }
        } else {
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

    /**
     * Takes a slot for a stream of {@code connection}: empty when it is now that connection's (or already
     * was), else the process id of the connection using it.
     */
    synchronized Optional<Integer> acquire(TimelineId tl, String name, Object connection, int pid) {
        Holder h = active.get(key(tl, name));
        if (h != null && h.connection() != connection) {
            return Optional.of(h.pid());
        }
        active.put(key(tl, name), new Holder(connection, pid));
        return Optional.empty();
    }

    /** A stream ended: a permanent slot is free again (a temporary one stays its creator's), and waiters are told. */
    void release(TimelineId tl, String name, Object connection) {
        List<Runnable> toTell;
        synchronized (this) {
            Slot s = slots.get(key(tl, name));
            Holder h = active.get(key(tl, name));
            if (h == null || h.connection() != connection || (s != null && s.temporary())) {
                return;
            }
            active.remove(key(tl, name));
            toTell = waiters.remove(key(tl, name));
        }
        tell(toTell);
    }

    /** A connection ended: its temporary slots go away and the slots it used are free, as in PostgreSQL. */
    void releaseAll(Object connection) {
        List<Runnable> toTell = new ArrayList<>();
        synchronized (this) {
            slots.values().removeIf(s -> s.temporary() && s.owner() == connection);
            for (var it = active.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (e.getValue().connection() == connection) {
                    it.remove();
                    toTell.addAll(waiters.getOrDefault(e.getKey(), List.of()));
                    waiters.remove(e.getKey());
                }
            }
        }
        tell(toTell);
    }

    /** Runs {@code then} once no other connection uses the slot (at once when none does). */
    void whenReleased(TimelineId tl, String name, Object connection, Runnable then) {
        synchronized (this) {
            Holder h = active.get(key(tl, name));
            if (h != null && h.connection() != connection) {
                waiters.computeIfAbsent(key(tl, name), k -> new ArrayList<>()).add(then);
                return;
            }
        }
        then.run();
    }

    private static void tell(List<Runnable> waiting) {
        if (waiting != null) {
            waiting.forEach(Runnable::run);
        }
    }

    /**
     * Drops a slot unless another connection uses it (then nothing changes and its process id is returned);
     * a permanent one is deleted from its store (blocking).
     */
    DropOutcome drop(TimelineId tl, String name, Object connection) {
        Slot s;
        synchronized (this) {
            Holder h = active.get(key(tl, name));
            if (slots.containsKey(key(tl, name)) && h != null && h.connection() != connection) {
                return new DropOutcome(false, h.pid());
            }
            s = slots.remove(key(tl, name));
            if (s == null) {
                return DropOutcome.NOT_FOUND;
            }
            active.remove(key(tl, name));
        }
        advanced.remove(key(tl, name));
        if (!s.temporary()) {
            s.store().documents().delete(metaKey(tl, name));
        }
        return DropOutcome.DROPPED;
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

    private static void write(Slot s) {
        s.store().documents().put(metaKey(s.timeline(), s.name()), new JsonObject().put("restart_lsn", s.restartLsn().toString())
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
