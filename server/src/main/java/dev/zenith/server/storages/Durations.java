package dev.zenith.server.storages;

import dev.zenith.server.domain.InvalidRequestException;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as people write them for retention windows: {@code 7d}, {@code 12h}, {@code 30m}, {@code 0s}. */
public final class Durations {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})([smhd])");
    private static final Duration MAX_DURATION = Duration.ofDays(36_500);

    private Durations() {
    }

    /** {@code 7d}, {@code 12h}, {@code 30m}, {@code 0s}. */
    public static Duration parse(String text) {
        Matcher m = text == null ? null : DURATION.matcher(text.trim());
        if (m == null || !m.matches()) {
            throw new InvalidRequestException("a duration is a number and a unit (s, m, h, d), like 7d; got '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
        // Longer than any history here, and "now minus the window" must stay a time PostgreSQL can express.
        if (d.compareTo(MAX_DURATION) > 0) {
            throw new InvalidRequestException("a duration is at most " + format(MAX_DURATION) + " (100 years); got '" + text + "'");
        }
        return d;
    }

    /** The largest whole unit: {@code 7d} rather than {@code 168h}. */
    public static String format(Duration d) {
        long s = d.getSeconds();
        return s % 86400 == 0 ? s / 86400 + "d" : s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
    }
}
