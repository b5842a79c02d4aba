package dev.zenith.server.redo;

import dev.zenith.wal.Lsn;
import dev.zenith.wal.decoder.DecodeResult;
import dev.zenith.wal.decoder.WalStreamDecoder;
import dev.zenith.wal.record.DecodedRecord;
import dev.zenith.wal.segment.WalGeometry;
import dev.zenith.wal.segment.WalSegments;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The records of a pg_wal directory from a record start on, decoded (test helper). */
final class WalFiles {
    private WalFiles() {
    }

    static List<DecodedRecord> records(Path walDir, int pgTimeline, Lsn from) throws IOException {
        WalStreamDecoder d = WalStreamDecoder.builder(from).timeline(pgTimeline).build();
        List<DecodedRecord> out = new ArrayList<>();
        int offset = WalSegments.segmentOffset(from.value());
        for (long segno = WalSegments.segmentNumber(from.value()); ; segno++) {
            Path f = walDir.resolve(WalSegments.fileName(pgTimeline, segno));
            if (!Files.exists(f)) {
                return out;
            }
            d.feed(Files.readAllBytes(f), offset, WalGeometry.WAL_SEGMENT_SIZE - offset);
            offset = 0;
            for (DecodeResult r = d.poll(); ; r = d.poll()) {
                if (r instanceof DecodedRecord rec) {
                    out.add(rec);
                } else if (r.kind() == DecodeResult.Kind.END_OF_WAL) {
                    return out;
                } else {
                    break;
                }
            }
        }
    }
}
