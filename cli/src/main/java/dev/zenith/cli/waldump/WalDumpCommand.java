package dev.zenith.cli.waldump;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.dump.WaldumpFormat;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.EndOfWal;
import dev.zenith.wal.decoder.EndReason;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.page.PageHeader;
import dev.zenith.wal.record.BlockReference;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code zenith waldump FILE...}: prints the records of WAL segment files in pg_waldump -b layout.
 * Consecutive segments are decoded as one stream, so records crossing them are shown once; a gap
 * starts a new stream at the next file. Exit 0 when WAL ends in unused (zeroed) space, 1 when it
 * ends in something invalid, 2 on unusable arguments or files.
 */
public final class WalDumpCommand {
    private static final int CHUNK = 1 << 20;
    private static final int OUTPUT_BATCH = 64 * 1024;

    private WalDumpCommand() {
    }

    private record Segment(Path path, int timeline, long startLsn) {
    }

    public static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.isEmpty() || args.contains("--help") || args.contains("-h")) {
            err.println("usage: zenith waldump FILE...   (PostgreSQL 15 WAL segment files)");
            return args.isEmpty() ? 2 : 0;
        }
        List<Segment> segments = new ArrayList<>();
        for (String a : args) {
            try {
                segments.add(identify(Path.of(a)));
            } catch (IOException | IllegalArgumentException e) {
                err.println("waldump: " + a + ": " + e.getMessage());
                return 2;
            }
        }
        segments.sort(Comparator.comparingInt(Segment::timeline).thenComparing(Segment::startLsn, Long::compareUnsigned));
        int status = 0;
        StringBuilder line = new StringBuilder(256);
        WalStreamDecoder decoder = null;
        long expectedNext = -1;
        boolean ended = false;
        byte[] buf = new byte[CHUNK];
        try {
            for (Segment s : segments) {
                if (decoder == null || s.startLsn != expectedNext) {
                    flush(line, out);
                    if (decoder != null && !ended) {
                        status = Math.max(status, reportEnd(decoder, err, true));
                    }
                    decoder = WalStreamDecoder.startingAt(Lsn.of(s.startLsn));
                    ended = false;
                }
                expectedNext = s.startLsn + WalGeometry.WAL_SEGMENT_SIZE;
                if (ended) {
                    continue;
                }
                try (InputStream in = Files.newInputStream(s.path)) {
                    int n;
                    while (!ended && (n = in.readNBytes(buf, 0, buf.length)) > 0) {
                        decoder.feed(buf, 0, n);
                        ended = drain(decoder, out, line, err);
                    }
                }
                if (ended) {
                    status = Math.max(status, reportEnd(decoder, err, false));
                }
            }
            flush(line, out);
            if (decoder != null && !ended) {
                status = Math.max(status, reportEnd(decoder, err, true));
            }
        } catch (IOException e) {
            err.println("waldump: " + e.getMessage());
            return 2;
        }
        out.flush();
        return status;
    }

    /** Prints records until more data is needed; true when the WAL ended. */
    private static boolean drain(WalStreamDecoder decoder, PrintStream out, StringBuilder line, PrintStream err) {
        while (true) {
            DecodeResult r = decoder.poll();
            switch (r.kind()) {
                case NEED_MORE_DATA:
                    return false;
                case END_OF_WAL:
                    flush(line, out);
                    return true;
                default:
                    DecodedRecord rec = (DecodedRecord) r;
                    line.append(WaldumpFormat.recordLine(rec)).append('\n');
                    for (BlockReference b : rec.blocks()) {
                        line.append(WaldumpFormat.blockLine(b)).append('\n');
                    }
                    if (line.length() >= OUTPUT_BATCH) {
                        flush(line, out);
                    }
            }
        }
    }

    /** One encode and write per batch: PrintStream's per-call text path costs more than the formatting. */
    private static void flush(StringBuilder text, PrintStream out) {
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        out.write(bytes, 0, bytes.length);
        text.setLength(0);
    }

    private static int reportEnd(WalStreamDecoder decoder, PrintStream err, boolean filesEnded) {
        DecodeResult r = decoder.poll();
        if (r instanceof EndOfWal e) {
            err.println("waldump: end of WAL at " + WaldumpFormat.lsn(e.validEnd()) + ": " + e.reason() + ": "
                    + e.message());
            return e.reason() == EndReason.ZEROS ? 0 : 1;
        }
        if (filesEnded) {
            err.println("waldump: files end at " + WaldumpFormat.lsn(decoder.feedPosition())
                    + " in the middle of a record");
        }
        return 0;
    }

    /** The segment's timeline and start from its name, or else from its first (long) page header. */
    private static Segment identify(Path p) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new IOException("not a readable file");
        }
        long size = Files.size(p);
        if (size != WalGeometry.WAL_SEGMENT_SIZE) {
            throw new IllegalArgumentException("WAL segment size must be 16 MiB, file is " + size + " bytes");
        }
        String name = p.getFileName().toString();
        if (WalSegments.isSegmentFileName(name)) {
            WalSegments.SegmentName n = WalSegments.parseFileName(name);
            return new Segment(p, n.timeline(), n.startLsn());
        }
        byte[] head;
        try (InputStream in = Files.newInputStream(p)) {
            head = in.readNBytes(WalGeometry.LONG_PAGE_HEADER_SIZE);
        }
        PageHeader h = PageHeader.read(head, 0, true);
        if (h.magic() != WalGeometry.XLOG_PAGE_MAGIC || !h.isLong()
                || !WalSegments.isSegmentBoundary(h.pageAddress())) {
            throw new IllegalArgumentException("not a WAL segment name and no valid long page header "
                    + String.format("(magic %04X)", h.magic()));
        }
        return new Segment(p, h.timeline(), h.pageAddress());
    }
}
