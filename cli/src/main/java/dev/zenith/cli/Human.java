package dev.zenith.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** Sizes and times for people: {@code 1.2 GiB}, {@code 2026-12-06 03:17:44Z}, {@code 3 min ago}. */
final class Human {
    private static final DateTimeFormatter UTC = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

    private Human() {
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        double v = n;
        int u = 0;
        while (v >= 1024 && u < UNITS.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.1f %s" : "%.0f %s", v, UNITS[u]);
    }

    /** An ISO-8601 instant to the second, in UTC; other text is returned as it is. */
    static String time(String iso) {
        Instant t = instant(iso);
        return t == null ? iso : UTC.format(t);
    }

    static String time(Instant t) {
        return UTC.format(t);
    }

    /** How long ago, roughly: {@code 12 s ago}, {@code 3 min ago}, {@code 5 h ago}, {@code 2 days ago}. */
    static String ago(String iso) {
        Instant t = instant(iso);
        return t == null ? iso : ago(t, Instant.now());
    }

    static String ago(Instant t, Instant now) {
        Duration d = Duration.between(t, now);
        boolean future = d.isNegative();
        long s = Math.abs(d.getSeconds());
        String text = s < 60 ? s + " s" : s < 3600 ? s / 60 + " min" : s < 86_400 ? s / 3600 + " h"
                : s / 86_400 + (s / 86_400 == 1 ? " day" : " days");
        return future ? "in " + text : text + " ago";
    }

    /** Both: {@code 2026-12-06 03:17:44Z (3 min ago)}. */
    static String timeAndAgo(String iso) {
        Instant t = instant(iso);
        return t == null ? iso : UTC.format(t) + " (" + ago(t, Instant.now()) + ")";
    }

    static String duration(long seconds) {
        if (seconds % 86_400 == 0 && seconds > 0) {
            return seconds / 86_400 + "d";
        }
        if (seconds % 3600 == 0 && seconds > 0) {
            return seconds / 3600 + "h";
        }
        return seconds % 60 == 0 && seconds > 0 ? seconds / 60 + "m" : seconds + "s";
    }

    private static Instant instant(String iso) {
        if (iso == null) {
            return null;
        }
        try {
            return Instant.parse(iso);
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
