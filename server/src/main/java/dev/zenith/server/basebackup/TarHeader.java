package dev.zenith.server.basebackup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The 512-byte ustar header of a base backup member as PostgreSQL's basebackup writes them (mode 0600 or 0700,
 * owner postgres), and for names ustar cannot hold a POSIX pax extended header before it. No I/O.
 */
public final class TarHeader {
    public static final int BLOCK = 512;
    /** The longest name a ustar header holds (with its terminating NUL). */
    private static final int NAME_BYTES = 99;

    private TarHeader() {
    }

    /** The zeros that pad a member of {@code size} bytes to a whole block. */
    public static int padding(long size) {
        int r = (int) (size % BLOCK);
        return r == 0 ? 0 : BLOCK - r;
    }

    /**
     * The header of a member ({@code path} relative, '/'-separated; a directory's without its trailing slash)
     * written at {@code at}, whose 512 bytes must be zero; a name over 99 bytes is an error.
     */
    public static void ustar(byte[] out, int at, String path, boolean directory, long size, long modifiedSeconds) {
        byte[] name = (directory ? path + "/" : path).getBytes(StandardCharsets.UTF_8);
        if (name.length > NAME_BYTES) {
            throw new UncheckedIOException(new IOException("file name too long for tar format: \"" + path + "\""));
        }
        write(out, at, name, directory ? '5' : '0', directory ? 0700 : 0600, directory ? 0 : size, modifiedSeconds);
    }

    /**
     * The header blocks of a member whatever its name's length: the ustar header alone, or for a longer name a
     * pax extended header carrying the whole name, then the ustar header with the name cut to fit.
     */
    public static byte[] withLongNames(String path, boolean directory, long size, long modifiedSeconds) {
        String name = directory ? path + "/" : path;
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= NAME_BYTES) {
            byte[] out = new byte[BLOCK];
            write(out, 0, bytes, directory ? '5' : '0', directory ? 0700 : 0600, directory ? 0 : size, modifiedSeconds);
            return out;
        }
        byte[] record = paxRecord("path", name);
        byte[] out = new byte[BLOCK + record.length + padding(record.length) + BLOCK];
        write(out, 0, "././@PaxHeader".getBytes(StandardCharsets.US_ASCII), 'x', 0600, record.length, modifiedSeconds);
        System.arraycopy(record, 0, out, BLOCK, record.length);
        write(out, out.length - BLOCK, Arrays.copyOf(bytes, NAME_BYTES), directory ? '5' : '0', directory ? 0700 : 0600,
                directory ? 0 : size, modifiedSeconds);
        return out;
    }

    /** "LEN key=value\n", LEN counting the whole record, its own digits included. */
    private static byte[] paxRecord(String key, String value) {
        int body = (" " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8).length;
        int len = body + Integer.toString(body).length();
        if (Integer.toString(len).length() != Integer.toString(body).length()) {
            len++; // the length gained a digit by counting its own
        }
        return (len + " " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static void write(byte[] out, int at, byte[] name, char type, int mode, long size, long modifiedSeconds) {
        System.arraycopy(name, 0, out, at, name.length);
        octal(out, at + 100, 8, mode);
        octal(out, at + 108, 8, 0);
        octal(out, at + 116, 8, 0);
        octal(out, at + 124, 12, size);
        octal(out, at + 136, 12, modifiedSeconds);
        Arrays.fill(out, at + 148, at + 156, (byte) ' ');
        out[at + 156] = (byte) type;
        ascii(out, at + 257, "ustar");
        ascii(out, at + 263, "00");
        ascii(out, at + 265, "postgres");
        ascii(out, at + 297, "postgres");
        int sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += out[at + i] & 0xff;
        }
        octal(out, at + 148, 8, sum);
    }

    /** Zero-padded octal digits, NUL-terminated, filling {@code len} bytes. */
    private static void octal(byte[] out, int at, int len, long value) {
        String digits = Long.toOctalString(value);
        if (value < 0 || digits.length() > len - 1) {
            throw new IllegalArgumentException("value " + value + " too large for a tar field of " + len);
        }
        String padded = "0".repeat(len - 1 - digits.length()) + digits;
        ascii(out, at, padded);
        out[at + len - 1] = 0;
    }

    private static void ascii(byte[] out, int at, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, out, at, b.length);
    }
}
