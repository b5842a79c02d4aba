package dev.zenith.cli;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Times as people type them, read on a machine in Berlin at 2026-12-06 03:17:44 UTC. */
class WhenTest {
    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-06T03:17:44Z"), ZoneId.of("Europe/Berlin"));

    private static Instant at(String text) {
        return When.parse(text, CLOCK).instant();
    }

    @Test
    void isoWithAZoneIsThatInstant() {
        assertEquals(Instant.parse("2026-12-06T03:17:44Z"), at("2026-12-06T03:17:44Z"));
        assertEquals(Instant.parse("2026-12-06T02:17:44Z"), at("2026-12-06T03:17:44+01:00"));
        assertEquals(Instant.parse("2026-12-06T03:17:44.5Z"), at("2026-12-06 03:17:44.5Z"));
        assertNull(When.parse("2026-12-06T03:17:44Z", CLOCK).assumption());
    }

    @Test
    void withoutAZoneItIsLocalTimeAndTheAnswerSaysSo() {
        When w = When.parse("2026-12-06 03:17:44", CLOCK);
        assertEquals(Instant.parse("2026-12-06T02:17:44Z"), w.instant()); // Berlin is UTC+1 in December
        assertTrue(w.assumption().contains("local time (Europe/Berlin, UTC+01:00)"), w.assumption());
        assertEquals(Instant.parse("2026-12-05T23:00:00Z"), at("2026-12-06"));
    }

    @Test
    void nowAndRelativeTimes() {
        assertEquals(Instant.parse("2026-12-06T03:17:44Z"), at("now"));
        assertEquals(Instant.parse("2026-12-06T03:07:44Z"), at("-10m"));
        assertEquals(Instant.parse("2026-12-06T01:17:44Z"), at("2h ago"));
        assertEquals(Instant.parse("2026-12-03T03:17:44Z"), at("3 days ago"));
        assertEquals(Instant.parse("2026-12-06T03:17:14Z"), at("30 seconds ago"));
        assertNull(When.parse("-10m", CLOCK).assumption());
    }

    @Test
    void todayAndYesterdayAreLocalDays() {
        assertEquals(Instant.parse("2026-12-05T16:00:00Z"), at("yesterday 17:00"));
        assertEquals(Instant.parse("2026-12-05T23:00:00Z"), at("today"));
        assertEquals(Instant.parse("2026-12-06T08:30:00Z"), at("today 9:30"));
        assertEquals(Instant.parse("2026-12-06T16:00:00Z"), at("17:00"));
        assertTrue(When.parse("yesterday 17:00", CLOCK).assumption().contains("local time"));
    }

    @Test
    void nonsenseIsAUsageErrorNamingTheForms() {
        CliException e = assertThrows(CliException.class, () -> at("last tuesday"));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("cannot read the time 'last tuesday'") && e.getMessage().contains("2h ago"),
                e.getMessage());
        assertThrows(CliException.class, () -> at("5 fortnights ago"));
    }

    @Test
    void lsnsAreTellable() {
        assertTrue(When.isLsn("0/16B3748"));
        assertTrue(When.isLsn("1A/0"));
        assertFalse(When.isLsn("2026-12-06"));
        assertFalse(When.isLsn("17:00"));
    }

    @Test
    void sentToTheDaemonInUtcToTheMicrosecond() {
        assertEquals("2026-12-06T02:17:44.123456Z", When.parse("2026-12-06 03:17:44.123456789", CLOCK).iso());
    }
}
