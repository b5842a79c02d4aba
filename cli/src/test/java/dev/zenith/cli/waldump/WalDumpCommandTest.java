package dev.zenith.cli.waldump;

import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.testing.GeneratedWal;
import dev.zenith.wal.testing.WaldumpOutput;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code zenith waldump} against pg_waldump -b on the same segment files. */
@Tag("pg")
class WalDumpCommandTest {
    private record Run(int status, String out, String err) {
    }

    private static Run run(List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = WalDumpCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void outputMatchesPgWaldumpLineForLine() throws Exception {
        GeneratedWal wal = GeneratedWal.get();
        List<String> args = new ArrayList<>();
        // given out of order: the command sorts them into one stream
        wal.segments().forEach(p -> args.add(0, p.toString()));
        Run r = run(args);
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("end of WAL"), r.err());
        List<WaldumpOutput.Entry> ours = WaldumpOutput.parse(r.out());
        List<WaldumpOutput.Entry> theirs = WaldumpOutput.parse(wal.waldump());
        assertEquals(theirs.size(), ours.size());
        for (int i = 0; i < ours.size(); i++) {
            WaldumpOutput.Entry a = ours.get(i);
            WaldumpOutput.Entry b = theirs.get(i);
            String head = a.line().substring(0, a.line().indexOf("desc: "));
            assertEquals(b.line().substring(0, b.line().indexOf("desc: ")), head);
            assertTrue(b.desc().startsWith(a.desc().strip()), "desc of " + b.line() + "\n ours: " + a.desc());
            assertEquals(b.blockLines(), a.blockLines(), b.line());
        }
    }

    @Test
    void badInputsGiveAClearErrorAndNonZeroExit(@TempDir Path dir) throws Exception {
        Run missing = run(List.of(dir.resolve("000000010000000000000001").toString()));
        assertEquals(2, missing.status());
        assertTrue(missing.err().contains("not a readable file"), missing.err());

        Path small = dir.resolve("000000010000000000000002");
        Files.write(small, new byte[100]);
        Run tooSmall = run(List.of(small.toString()));
        assertEquals(2, tooSmall.status());
        assertTrue(tooSmall.err().contains("16 MiB"), tooSmall.err());

        byte[] garbage = new byte[WalGeometry.WAL_SEGMENT_SIZE];
        new Random(1).nextBytes(garbage);
        Path junk = dir.resolve("000000010000000000000003");
        Files.write(junk, garbage);
        Run bad = run(List.of(junk.toString()));
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("invalid magic number"), bad.err());
        assertEquals("", bad.out());

        Path unnamed = dir.resolve("not-a-segment");
        Files.write(unnamed, garbage);
        Run noName = run(List.of(unnamed.toString()));
        assertEquals(2, noName.status());
        assertTrue(noName.err().contains("not a WAL segment name"), noName.err());

        assertEquals(2, run(List.of()).status());
    }
}
