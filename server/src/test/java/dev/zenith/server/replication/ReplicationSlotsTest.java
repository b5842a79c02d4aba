package dev.zenith.server.replication;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The slot table on its own, over a real store in a temporary directory (no PostgreSQL). */
class ReplicationSlotsTest {
    private Path dir;
    private Store store;
    private final TimelineId tl = TimelineId.random();
    private final Object conn1 = new Object();
    private final Object conn2 = new Object();

    @BeforeEach
    void open() throws Exception {
        dir = Files.createTempDirectory("zenith-slots");
        store = Store.open(dir.resolve("store"));
    }

    @AfterEach
    void close() throws Exception {
        store.close();
        PgCluster.deleteTree(dir);
    }

    @Test
    void namesFollowPostgresRuleWithItsCodesAndMessages() {
        assertEquals(Optional.empty(), ReplicationSlots.checkName("a"));
        assertEquals(Optional.empty(), ReplicationSlots.checkName("standby_1"));
        assertEquals(Optional.empty(), ReplicationSlots.checkName("x".repeat(63)));
        assertEquals(Optional.of(new ReplicationSlots.InvalidName("42602", "replication slot name \"\" is too short", null)),
                ReplicationSlots.checkName(""));
        String tooLong = "x".repeat(64);
        assertEquals(Optional.of(new ReplicationSlots.InvalidName("42622",
                "replication slot name \"" + tooLong + "\" is too long", null)), ReplicationSlots.checkName(tooLong));
        // 32 two-byte characters are 64 bytes: PostgreSQL counts bytes, not characters.
        String wide = "é".repeat(32);
        assertEquals("42622", ReplicationSlots.checkName(wide).orElseThrow().sqlState());
        String hint = "Replication slot names may only contain lower case letters, numbers, and the underscore character.";
        for (String bad : List.of("Upper", "has-dash", "dot.ted", "sp ace", "slash/x", "é")) {
            assertEquals(Optional.of(new ReplicationSlots.InvalidName("42602",
                    "replication slot name \"" + bad + "\" contains invalid character", hint)),
                    ReplicationSlots.checkName(bad), bad);
        }
    }

    @Test
    void permanentSlotsAreStoredAndSurviveReopen() throws Exception {
        ReplicationSlots slots = new ReplicationSlots();
        assertTrue(slots.create(tl, "standby", false, Lsn.of(0x1000), conn1, 11, store));
        assertFalse(slots.create(tl, "standby", false, Lsn.of(0x2000), conn2, 12, store), "a name that exists");
        assertEquals(Lsn.of(0x1000), slots.find(tl, "standby").orElseThrow().restartLsn(), "the first one stays");
        TimelineId other = TimelineId.random();
        assertTrue(slots.create(other, "standby", false, Lsn.INVALID, conn1, 11, store), "names are per timeline");
        assertEquals(Map.of(tl, List.of(Lsn.of(0x1000)), other, List.of()), ReplicationSlots.restartLsns(store),
                "a slot that reserved no WAL still marks its timeline in use");

        // Advances are kept in memory until persisted, and never go backwards.
        slots.advance(tl, "standby", Lsn.of(0x3000));
        slots.advance(tl, "standby", Lsn.of(0x2000));
        assertEquals(Lsn.of(0x3000), slots.find(tl, "standby").orElseThrow().restartLsn());
        assertEquals(List.of(Lsn.of(0x1000)), ReplicationSlots.restartLsns(store).get(tl), "not written yet");
        slots.persistAdvanced();
        assertEquals(List.of(Lsn.of(0x3000)), ReplicationSlots.restartLsns(store).get(tl));

        store.close();
        store = Store.open(dir.resolve("store"));
        ReplicationSlots reopened = new ReplicationSlots();
        reopened.load(store);
        ReplicationSlots.Slot s = reopened.find(tl, "standby").orElseThrow();
        assertEquals(Lsn.of(0x3000), s.restartLsn());
        assertFalse(s.temporary());
        assertTrue(reopened.find(other, "standby").isPresent());

        assertEquals(ReplicationSlots.DropOutcome.DROPPED, reopened.drop(tl, "standby", conn1));
        assertEquals(ReplicationSlots.DropOutcome.NOT_FOUND, reopened.drop(tl, "standby", conn1));
        assertEquals(Map.of(other, List.of()), ReplicationSlots.restartLsns(store), "the drop is written");
        reopened.forget(store);
        assertTrue(reopened.find(other, "standby").isEmpty(), "a detached storage's slots leave memory");
        assertTrue(ReplicationSlots.restartLsns(store).containsKey(other), "and stay in the storage");
    }

    @Test
    void temporarySlotsAreTheirCreatorsAndGoWithTheConnection() {
        ReplicationSlots slots = new ReplicationSlots();
        assertTrue(slots.create(tl, "tmp", true, Lsn.of(0x1000), conn1, 41, store));
        assertEquals(Map.of(), ReplicationSlots.restartLsns(store), "a temporary slot is never written");
        assertEquals(Optional.of(41), slots.acquire(tl, "tmp", conn2, 42), "in use by its creator");
        assertEquals(new ReplicationSlots.DropOutcome(false, 41), slots.drop(tl, "tmp", conn2));
        slots.release(tl, "tmp", conn1); // the end of a stream does not free a temporary slot
        assertEquals(Optional.of(41), slots.acquire(tl, "tmp", conn2, 42));
        slots.releaseAll(conn1);
        assertTrue(slots.find(tl, "tmp").isEmpty(), "gone with its connection");
    }

    @Test
    void anActiveSlotIsRefusedToOthersAndWaitWaitsForItsRelease() {
        ReplicationSlots slots = new ReplicationSlots();
        slots.create(tl, "s", false, Lsn.of(0x1000), conn1, 7, store);
        assertEquals(Optional.empty(), slots.acquire(tl, "s", conn1, 7));
        assertEquals(Optional.empty(), slots.acquire(tl, "s", conn1, 7), "again by the same connection");
        assertEquals(Optional.of(7), slots.acquire(tl, "s", conn2, 8), "refused, naming the process using it");
        assertEquals(new ReplicationSlots.DropOutcome(false, 7), slots.drop(tl, "s", conn2));
        assertTrue(slots.find(tl, "s").isPresent(), "a refused drop changes nothing");
        assertEquals(List.of(Lsn.of(0x1000)), ReplicationSlots.restartLsns(store).get(tl));

        AtomicInteger told = new AtomicInteger();
        slots.whenReleased(tl, "s", conn2, told::incrementAndGet);
        assertEquals(0, told.get(), "WAIT waits while another connection streams");
        slots.release(tl, "s", conn2); // not the holder: nothing happens
        assertEquals(0, told.get());
        slots.release(tl, "s", conn1);
        assertEquals(1, told.get(), "told once released");
        assertEquals(ReplicationSlots.DropOutcome.DROPPED, slots.drop(tl, "s", conn2));

        slots.create(tl, "t", false, Lsn.of(0x1000), conn1, 7, store);
        slots.acquire(tl, "t", conn1, 7);
        slots.whenReleased(tl, "t", conn1, told::incrementAndGet);
        assertEquals(2, told.get(), "its own holder does not wait");
        slots.whenReleased(tl, "t", conn2, told::incrementAndGet);
        slots.releaseAll(conn1);
        assertEquals(3, told.get(), "a closed connection releases its slots");
        assertEquals(Optional.empty(), slots.acquire(tl, "t", conn2, 8));
    }
}
