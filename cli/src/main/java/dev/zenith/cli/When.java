package dev.zenith.cli;

import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A time as people type it, resolved to an instant on this machine: ISO-8601 with or without a zone (none
 * means this machine's local time, which the answer says), {@code now}, relative ({@code -10m},
 * {@code 2h ago}, {@code 3 days ago}) and {@code today}/{@code yesterday} with an optional time of day.
 */
record When(Instant instant, String assumption) {
    private static final Pattern MINUS = Pattern.compile("-\\s*(\\d+)\\s*([a-z]+)");
    private static final Pattern AGO = Pattern.compile("(\\d+)\\s*([a-z]+)\\s+ago");
    private static final Pattern DAY = Pattern.compile("(today|yesterday)(?:\\s+(\\d{1,2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?))?");
    private static final Pattern LSN = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");
    static final String FORMS = "ISO-8601 with or without a zone (2026-12-06 03:17:44, 2026-12-06T03:17:44Z), now,"
            + " -10m, 2h ago, 3 days ago, yesterday 17:00, today 09:30";

    /** True when the text is an LSN (X/Y in hex) rather than a time. */
    static boolean isLsn(String text) {
        return LSN.matcher(text.trim()).matches();
    }

    static When parse(String text, Clock clock) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        ZoneId zone = clock.getZone();
        Instant now = clock.instant();
        if (t.equals("now")) {
            return new When(now, null);
        }
        Matcher m = MINUS.matcher(t);
        if (!m.matches()) {
            m = AGO.matcher(t);
        }
        if (m.matches()) {
            return new When(now.minus(duration(Long.parseLong(m.group(1)), m.group(2), text)), null);
        }
        Matcher day = DAY.matcher(t);
        if (day.matches()) {
            LocalDate date = LocalDate.ofInstant(now, zone).minusDays(day.group(1).equals("yesterday") ? 1 : 0);
            LocalTime time = day.group(2) == null ? LocalTime.MIDNIGHT : LocalTime.parse(pad(day.group(2)));
            return local(LocalDateTime.of(date, time), zone);
        }
        String iso = text.trim().replaceFirst("^(\\d{4}-\\d{2}-\\d{2})\\s+", "$1T");
        try {
            return new When(Instant.parse(iso), null);
        } catch (DateTimeParseException ignored) {
            // not with Z: try the others
        }
        try {
            return new When(OffsetDateTime.parse(iso).toInstant(), null);
        } catch (DateTimeParseException ignored) {
            // no offset
        }
        try {
            return new When(ZonedDateTime.parse(iso).toInstant(), null);
        } catch (DateTimeParseException ignored) {
            // no zone id
        }
        try {
            return local(LocalDateTime.parse(iso), zone);
        } catch (DateTimeParseException ignored) {
            // not a local date-time
        }
        try {
            return local(LocalDate.parse(iso).atStartOfDay(), zone);
        } catch (DateTimeParseException ignored) {
            // not a date
        }
        if (t.matches("\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d+)?)?")) {
            return local(LocalDateTime.of(LocalDate.ofInstant(now, zone), LocalTime.parse(pad(t))), zone);
        }
        throw new CliException("cannot read the time '" + text + "'; use " + FORMS, 2);
    }

    private static String pad(String time) {
        return time.length() == 4 || time.indexOf(':') == 1 ? "0" + time : time;
    }

    private static When local(LocalDateTime t, ZoneId zone) {
        try {
            ZonedDateTime z = t.atZone(zone);
            return new When(z.toInstant(), "no zone given: read as this machine's local time (" + zone.getId()
                    + ", UTC" + z.getOffset().getId().replace("Z", "+00:00") + ")");
        } catch (DateTimeException e) {
            throw new CliException("cannot read the time '" + t + "': " + e.getMessage(), 2);
        }
    }

    private static Duration duration(long n, String unit, String text) {
        return switch (unit) {
            case "s", "sec", "secs", "second", "seconds" -> Duration.ofSeconds(n);
            case "m", "min", "mins", "minute", "minutes" -> Duration.ofMinutes(n);
            case "h", "hr", "hrs", "hour", "hours" -> Duration.ofHours(n);
            case "d", "day", "days" -> Duration.ofDays(n);
            case "w", "week", "weeks" -> Duration.ofDays(7 * n);
            default -> throw new CliException("cannot read the time '" + text + "': unknown unit '" + unit
                    + "' (s, m, h, d, w)", 2);
        };
    }

    /** The instant as sent to the daemon: ISO-8601 in UTC. */
    String iso() {
        return instant.truncatedTo(java.time.temporal.ChronoUnit.MICROS).toString(); // PostgreSQL's precision
    }
}
