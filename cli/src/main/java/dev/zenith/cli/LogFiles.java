package dev.zenith.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code tail [-n N] [-f]} of a log file: the daemon's or a compute's. Only the end of the file is read (a log
 * grows for weeks), and bytes that are not UTF-8 are shown as replacement characters, not refused.
 */
final class LogFiles {
    private static final int CHUNK = 64 * 1024;

    private LogFiles() {
    }

    /** Prints the last {@code lines} lines (all when 0), then with {@code follow} what is appended, until interrupted. */
    static int print(Cli cli, Path file, int lines, boolean follow) throws IOException {
        if (!Files.exists(file)) {
            throw new CliException("no log yet at " + file);
        }
        long pos;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            pos = f.length();
            long from = lines <= 0 ? 0 : startOfLastLines(f, pos, lines);
            copy(cli, f, from, pos);
        }
        cli.out.flush();
        while (follow) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 0; // stopped, as Ctrl-C stops it
            }
            long size = Files.size(file);
            if (size < pos) {
                pos = 0; // rotated or truncated: start over
            }
            if (size > pos) {
                try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                    copy(cli, f, pos, size);
                }
                pos = size;
                cli.out.flush();
            }
        }
        return 0;
    }

    /** Where the last {@code n} lines of the first {@code end} bytes begin (a last line without its newline counts). */
    private static long startOfLastLines(RandomAccessFile f, long end, int n) throws IOException {
        long stop = end;
        if (end > 0) {
            f.seek(end - 1);
            if (f.read() == '\n') {
                stop = end - 1; // the final newline ends the last line; it does not begin another
            }
        }
        byte[] buf = new byte[CHUNK];
        int newlines = 0;
        for (long at = stop; at > 0; ) {
            int len = (int) Math.min(CHUNK, at);
            at -= len;
            f.seek(at);
            f.readFully(buf, 0, len);
            for (int i = len - 1; i >= 0; i--) {
                if (buf[i] == '\n' && ++newlines == n) {
                    return at + i + 1;
                }
            }
        }
        return 0;
    }

    /** Prints bytes {@code from} to {@code to} of the file as UTF-8. */
    private static void copy(Cli cli, RandomAccessFile f, long from, long to) throws IOException {
        byte[] bytes = new byte[(int) Math.min(Integer.MAX_VALUE - 8, to - from)];
        f.seek(from);
        f.readFully(bytes);
        cli.out.print(new String(bytes, StandardCharsets.UTF_8));
    }
}
