package dev.zenith.bench.walbench;

import dev.zenith.testkit.PgCluster;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.cli.waldump.WalDumpCommand;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

/**
 * WAL decoding throughput on a pgbench WAL segment set, against pg_waldump on the same files in
 * the same run. Plain harness (warm-up rounds, then the median of measured rounds); every round
 * reads the segment files from the (warm) page cache, as pg_waldump does.
 *
 * <p>Arguments: [scale] [transactions] [rounds]. Prints a Markdown table for bench/RESULTS.md.
 */
public final class WalDecodeBench {
    private static final int CHUNK = 1 << 20;

    public static void main(String[] args) throws Exception {
        int scale = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int transactions = args.length > 1 ? Integer.parseInt(args[1]) : 3000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        try (PgCluster c = PgCluster.initdb()) {
            c.configure(Map.of("wal_keep_size", "4GB", "max_wal_size", "4GB", "wal_compression", "lz4"));
            c.start();
            try {
                c.pgbench("-i", "-s", Integer.toString(scale), "-q");
                c.pgbench("-n", "-c", "2", "-j", "1", "-t", Integer.toString(transactions));
            } finally {
                c.stop();
            }
            List<Path> segments;
            try (Stream<Path> s = Files.list(c.walDir())) {
                segments = s.filter(p -> WalSegments.isSegmentFileName(p.getFileName().toString())).sorted().toList();
            }
            Lsn start = Lsn.of(WalSegments.parseFileName(segments.get(0).getFileName().toString()).startLsn());
            long[] walBytes = new long[1];
            long[] recordCount = new long[1];

            LongSupplier decodeOnly = () -> {
                long t0 = System.nanoTime();
                long[] r = decodeFiles(segments, start);
                long t = System.nanoTime() - t0;
                walBytes[0] = r[0];
                recordCount[0] = r[1];
                return t;
            };
            PrintStream nowhere = new PrintStream(OutputStream.nullOutputStream());
            List<String> files = segments.stream().map(Path::toString).toList();
            LongSupplier ourDump = () -> {
                long t0 = System.nanoTime();
                WalDumpCommand.run(files, nowhere, nowhere);
                return System.nanoTime() - t0;
            };
            List<String> pgArgs = List.of("-p", c.walDir().toString(), segments.get(0).getFileName().toString(),
                    segments.get(segments.size() - 1).getFileName().toString());
            LongSupplier pgWaldump = () -> runDiscarding(c.installation().command("pg_waldump",
                    pgArgs.toArray(String[]::new)));
            LongSupplier pgWaldumpStats = () -> {
                List<String> a = new ArrayList<>(List.of("--stats"));
                a.addAll(pgArgs);
                return runDiscarding(c.installation().command("pg_waldump", a.toArray(String[]::new)));
            };

            long[] ours = measure(decodeOnly, 10, rounds);
            long[] oursDump = measure(ourDump, 5, rounds);
            long[] theirs = measure(pgWaldump, 1, rounds);
            long[] theirsStats = measure(pgWaldumpStats, 1, rounds);
            double mb = walBytes[0] / 1e6;
            System.out.printf("WAL: %d segments, %.1f MB of valid WAL (%s to end), %d records, pgbench -s %d, %d transactions, wal_compression=lz4%n",
                    segments.size(), mb, start, recordCount[0], scale, transactions);
            System.out.println("| what | median s | median MB/s | best MB/s | median vs pg_waldump > /dev/null |");
            System.out.println("|---|---|---|---|---|");
            row("WalStreamDecoder (files, 1 MiB chunks, records + block refs, CRC checked)", ours, mb, theirs);
            row("zenith waldump (WalDumpCommand, output discarded)", oursDump, mb, theirs);
            row("pg_waldump > /dev/null", theirs, mb, theirs);
            row("pg_waldump --stats > /dev/null", theirsStats, mb, theirs);
        }
    }

    private static void row(String what, long[] nanos, double mb, long[] reference) {
        System.out.printf("| %s | %.3f | %.0f | %.0f | %.2fx |%n", what, nanos[0] / 1e9, mb / (nanos[0] / 1e9),
                mb / (nanos[1] / 1e9), (double) reference[0] / nanos[0]);
    }

    /** Decodes the files as one stream; returns {valid WAL bytes, records}. */
    static long[] decodeFiles(List<Path> segments, Lsn start) {
        WalStreamDecoder d = WalStreamDecoder.startingAt(start);
        byte[] buf = new byte[CHUNK];
        long records = 0;
        long blocks = 0;
        try {
            for (Path p : segments) {
                try (InputStream in = Files.newInputStream(p)) {
                    int n;
                    while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                        d.feed(buf, 0, n);
                        DecodeResult r;
                        while ((r = d.poll()).kind() == DecodeResult.Kind.RECORD) {
                            records++;
                            for (BlockReference b : ((DecodedRecord) r).blocks()) {
                                blocks += b.blockNumber();
                            }
                        }
                        if (r instanceof EndOfWal end) {
                            return new long[] {end.validEnd().minus(start), records, blocks};
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        throw new IllegalStateException("no end of WAL found");
    }

    private static long runDiscarding(List<String> cmd) {
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            p.waitFor();
            return System.nanoTime() - t0;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Median and best of the measured rounds, after warm-up rounds. */
    private static long[] measure(LongSupplier run, int warmups, int rounds) {
        for (int i = 0; i < warmups; i++) {
            run.getAsLong();
        }
        long[] t = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            t[i] = run.getAsLong();
        }
        Arrays.sort(t);
        return new long[] {t[rounds / 2], t[0]};
    }
}
