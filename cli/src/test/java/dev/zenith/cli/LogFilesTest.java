package dev.zenith.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@code zenith logs} and {@code pg logs} read the end of a log as tail does, however big the log. */
class LogFilesTest {
    @TempDir
    Path dir;

    private String tail(Path file, int lines) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Cli cli = new Cli(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream()));
        assertEquals(0, LogFiles.print(cli, file, lines, false));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void theLastLinesOfALogBiggerThanOneRead() throws Exception {
        StringBuilder log = new StringBuilder();
        for (int i = 1; i <= 20_000; i++) {
            log.append("line ").append(i).append(" ").append("x".repeat(i % 50)).append('\n');
        }
        Path file = Files.writeString(dir.resolve("big.log"), log);
        assertEquals("line 19999 " + "x".repeat(49) + "\nline 20000 \n", tail(file, 2));
        assertEquals(log.toString(), tail(file, 0), "0: all of it");
        assertEquals(log.toString(), tail(file, 50_000), "more lines than there are: all of it");
    }

    @Test
    void aLastLineWithoutItsNewlineAndBytesThatAreNotUtf8() throws Exception {
        Path file = dir.resolve("odd.log");
        Files.write(file, new byte[] {'a', '\n', 'b', (byte) 0xff, '\n', 'c'});
        assertEquals("b\uFFFD\nc", tail(file, 2));
        assertEquals("c", tail(file, 1));
        Files.writeString(file, "only\n");
        assertEquals("only\n", tail(file, 3));
        Files.writeString(file, "");
        assertEquals("", tail(file, 3));
        assertThrows(CliException.class, () -> tail(dir.resolve("none.log"), 3));
    }
}
