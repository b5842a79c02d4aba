package dev.zenith.server.compute;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The PostgreSQL settings of a compute, as pure functions of what they depend on (its name, port, the
 * configured computes.settings, its control file's minimums): what durability and our own connections
 * rest on is always zenith's, whatever the configuration or ALTER SYSTEM says.
 */
final class PostgresSettings {
    /** The application_name our WAL receiver connects with; computes name it as their synchronous standby. */
    static final String RECEIVER_NAME = "zenith_safekeeper";
    /** Those whose change would break durability or our connections: written where ALTER SYSTEM cannot override them. */
    private static final List<String> PINNED = List.of("listen_addresses", "port", "wal_level", "synchronous_standby_names");

    private PostgresSettings() {
    }

    /**
     * Defaults that {@code configured} (conf/zenith.json's computes.settings) may change, then what zenith
     * always sets (ZenithConfig refuses those in computes.settings rather than ignore them).
     */
    static Map<String, String> of(String pgName, int port, Map<String, String> configured) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("cluster_name", pgName);
        s.put("max_wal_senders", "10");
        s.put("max_replication_slots", "10");
        s.put("hot_standby", "on");
        // Tablespaces live inside the data directory (LOCATION ''); the store keeps an outside LOCATION's
        // creation as an in-place one (WalIndexer), and recovery ends only with this on where such exist.
        s.put("allow_in_place_tablespaces", "on");
        // A checkpoint a minute: each is an anchor redo runs start from (anchor.AnchorRecorder), so the
        // WAL one replays is at most about a minute's. With fsync and full-page writes off it costs little.
        s.put("checkpoint_timeout", "60s");
        // A start from an anchor replays from its redo point, where the checkpoint began: PostgreSQL's default
        // 0.9 spreads the writes over ~54 s, which all lie between that redo point and the record. Written at
        // once (to the page cache, fsync off), the redo point is a moment before the record.
        s.put("checkpoint_completion_target", "0");
        s.putAll(configured);
        s.put("listen_addresses", "127.0.0.1");
        s.put("port", Integer.toString(port));
        s.put("unix_socket_directories", "");
        s.put("wal_level", "replica");
        // Durability is ours: a commit returns only once our receiver has the WAL in the store.
        s.put("synchronous_standby_names", RECEIVER_NAME);
        s.put("synchronous_commit", "on");
        // The compute's files are a cache rebuilt from the store after any crash, so its own fsyncs buy nothing.
        s.put("fsync", "off");
        // Full-page images protect a data directory from pages torn by an OS crash. Ours never recovers
        // from its own files after a crash (it is rebuilt from images of cleanly shut down directories,
        // checksums verified), so the images would only multiply the WAL we receive and store, ~8x
        // under pgbench; redo needs no images when no page is torn.
        s.put("full_page_writes", "off");
        s.put("logging_collector", "off");
        return s;
    }

    /**
     * The settings durability and our own connections rest on, put where ALTER SYSTEM cannot override
     * them: a primary that stopped naming our receiver as its synchronous standby would acknowledge
     * commits the store does not have.
     */
    static Map<String, String> pinned(Map<String, String> settings) {
        Map<String, String> pinned = new LinkedHashMap<>();
        for (String key : PINNED) {
            if (settings.containsKey(key)) {
                pinned.put(key, settings.get(key));
            }
        }
        return pinned;
    }

    /**
     * A hot standby refuses to start with less of these than the primary had (its control file says how
     * many): each setting becomes at least its minimum; a value that is not a whole number counts as 0.
     */
    static void raiseToMinimums(Map<String, String> settings, Map<String, Integer> minimums) {
        minimums.forEach((k, min) -> settings.merge(k, min.toString(),
                (mine, recorded) -> Integer.toString(Math.max(parseIntOr(mine, 0), min))));
    }

    private static int parseIntOr(String s, int fallback) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
