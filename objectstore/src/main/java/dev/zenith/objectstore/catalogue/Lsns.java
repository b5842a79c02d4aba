package dev.zenith.objectstore.catalogue;

/** LSNs as PostgreSQL writes them ({@code 16/B374D848}); this module does not depend on the wal module. */
final class Lsns {
    private Lsns() {
    }

    static String format(long lsn) {
        return String.format("%X/%X", lsn >>> 32, lsn & 0xFFFFFFFFL);
    }

    static long parse(String text) {
        int slash = text == null ? -1 : text.indexOf('/');
        if (slash < 1 || slash == text.length() - 1 || slash > 8 || text.length() - slash - 1 > 8) {
            throw new IllegalArgumentException("not an LSN: '" + text + "'");
        }
        try {
            return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an LSN: '" + text + "'", e);
        }
    }
}
