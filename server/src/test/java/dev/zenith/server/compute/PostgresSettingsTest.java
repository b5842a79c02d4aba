package dev.zenith.server.compute;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A compute's PostgreSQL settings: configuration changes the defaults, never what durability rests on. */
class PostgresSettingsTest {

    @Test
    void configuredSettingsChangeDefaultsButNotWhatZenithSets() {
        Map<String, String> s = PostgresSettings.of("main", 55433,
                Map.of("max_wal_senders", "20", "work_mem", "8MB", "fsync", "on", "synchronous_commit", "off"));
        assertEquals("main", s.get("cluster_name"));
        assertEquals("20", s.get("max_wal_senders"));
        assertEquals("8MB", s.get("work_mem"));
        assertEquals("10", s.get("max_replication_slots"));
        assertEquals("off", s.get("fsync"));
        assertEquals("on", s.get("synchronous_commit"));
        assertEquals("55433", s.get("port"));
        assertEquals("127.0.0.1", s.get("listen_addresses"));
        assertEquals("", s.get("unix_socket_directories"));
        assertEquals(PostgresSettings.RECEIVER_NAME, s.get("synchronous_standby_names"));
        assertEquals("off", s.get("full_page_writes"));
        // an anchor a minute by default (redo replays at most about that much WAL), configurable
        assertEquals("60s", s.get("checkpoint_timeout"));
        assertEquals("5min", PostgresSettings.of("main", 1, Map.of("checkpoint_timeout", "5min")).get("checkpoint_timeout"));
        // each checkpoint written at once, so an anchor's redo point is next to its record (a start replays less)
        assertEquals("0", s.get("checkpoint_completion_target"));
        assertEquals("0.5", PostgresSettings.of("main", 1, Map.of("checkpoint_completion_target", "0.5"))
                .get("checkpoint_completion_target"));
    }

    @Test
    void pinnedAreTheSettingsDurabilityAndOurConnectionsRestOn() {
        Map<String, String> pinned = PostgresSettings.pinned(PostgresSettings.of("a", 6000, Map.of()));
        assertEquals(List.of("listen_addresses", "port", "wal_level", "synchronous_standby_names"),
                List.copyOf(pinned.keySet()));
        assertEquals("6000", pinned.get("port"));
        assertEquals(Map.of("port", "1"), PostgresSettings.pinned(Map.of("port", "1", "fsync", "off")));
    }

    @Test
    void hotStandbyMinimumsRaiseButNeverLower() {
        Map<String, String> s = new HashMap<>(Map.of("max_connections", "50", "max_wal_senders", "30",
                "max_locks_per_transaction", "lots"));
        PostgresSettings.raiseToMinimums(s, Map.of("max_connections", 100, "max_wal_senders", 10,
                "max_locks_per_transaction", 64, "max_worker_processes", 8));
        assertEquals("100", s.get("max_connections"));
        assertEquals("30", s.get("max_wal_senders"));
        assertEquals("64", s.get("max_locks_per_transaction"));
        assertEquals("8", s.get("max_worker_processes"));
    }
}
