package dev.zenith.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code tail [-n N] [-f]} of a log file: the daemon's or a compute's. */
final class LogFiles {
    private LogFiles() {
    }

    static int print(Cli cli, Path file, int lines, boolean follow) throws IOException, InterruptedException {
        if (!Files.exists(file)) {
            throw new CliException("no log yet at " + file);
        }
        List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
        int from = lines <= 0 ? 0 : Math.max(0, all.size() - lines);
        all.subList(from, all.size()).forEach(cli.out::println);
        if (!follow) {
            return 0;
        }
        long pos = Files.size(file);
        while (true) {
            long size = Files.size(file);
            if (size < pos) {
                pos = 0; // rotated or truncated: start over
            }
            if (size > pos) {
                try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                    f.seek(pos);
                    byte[] b = new byte[(int) Math.min(size - pos, 1 << 20)];
                    f.readFully(b);
                    pos += b.length;
                    cli.out.print(new String(b, StandardCharsets.UTF_8));
                    cli.out.flush();
                }
            }
            Thread.sleep(250);
        }
    }
}
