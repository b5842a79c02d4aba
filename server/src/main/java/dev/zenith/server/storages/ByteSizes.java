package dev.zenith.server.storages;

import dev.zenith.server.domain.InvalidRequestException;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes as people write them for cache bounds: {@code 512MiB}, {@code 2GiB}, {@code 1048576} (bytes), {@code 0}. */
public final class ByteSizes {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,19})\\s*(B|KiB|MiB|GiB|TiB)?");

    private ByteSizes() {
    }

    /** A whole number of bytes, KiB, MiB, GiB or TiB (powers of 1024); never negative, at most {@code Long.MAX_VALUE}. */
    public static long parse(String text) {
        Matcher m = text == null ? null : SIZE.matcher(text.trim());
        if (m == null || !m.matches()) {
            throw new InvalidRequestException("a size is a whole number and a unit (B, KiB, MiB, GiB, TiB), like 512MiB or 2GiB;"
                    + " 0 means no bound; got '" + text + "'");
        }
        int shift = switch (m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT)) {
            case "KIB" -> 10;
            case "MIB" -> 20;
            case "GIB" -> 30;
            case "TIB" -> 40;
            default -> 0;
        };
        try {
            long n = Long.parseLong(m.group(1));
            if (n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new InvalidRequestException("a size is at most " + Long.MAX_VALUE + " bytes; got '" + text + "'");
        }
    }
}
