package dev.zenith.server.basebackup;

import dev.zenith.wal.Lsn;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * backup_manifest as PostgreSQL 15 writes it (version 1): one line per file, the WAL range recovery
 * needs, and a SHA-256 over everything before the last line, which pg_verifybackup checks.
 */
public final class BackupManifest {
    private static final DateTimeFormatter MODIFIED =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'GMT'").withZone(ZoneOffset.UTC);

    private final List<String> files = new ArrayList<>();

    /** {@code algorithm}/{@code checksum} null when checksums are off. */
    public void addFile(String path, long size, Instant modified, String algorithm, String checksum) {
        StringBuilder sb = new StringBuilder("{ \"Path\": ").append(jsonString(path))
                .append(", \"Size\": ").append(size)
                .append(", \"Last-Modified\": \"").append(MODIFIED.format(modified)).append('"');
        if (algorithm != null) {
            sb.append(", \"Checksum-Algorithm\": \"").append(algorithm).append("\", \"Checksum\": \"")
                    .append(checksum).append('"');
        }
        files.add(sb.append(" }").toString());
    }

    /** The WAL of one PostgreSQL timeline a backup needs. */
    public record WalRange(int timeline, Lsn start, Lsn end) {
    }

    /** {@code walRanges} newest first, as PostgreSQL lists them. */
    public byte[] toBytes(List<WalRange> walRanges) {
        StringBuilder sb = new StringBuilder("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [");
        for (int i = 0; i < files.size(); i++) {
            sb.append(i == 0 ? "\n" : ",\n").append(files.get(i));
        }
        sb.append(" ],\n\"WAL-Ranges\": [\n");
        for (int i = 0; i < walRanges.size(); i++) {
            WalRange r = walRanges.get(i);
            sb.append(i == 0 ? "" : ",\n").append("{ \"Timeline\": ").append(Integer.toUnsignedString(r.timeline()))
                    .append(", \"Start-LSN\": \"").append(r.start()).append("\", \"End-LSN\": \"").append(r.end())
                    .append("\" }");
        }
        sb.append("\n],\n");
        byte[] body = sb.toString().getBytes(StandardCharsets.UTF_8);
        String checksum;
        try {
            checksum = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return (sb + "\"Manifest-Checksum\": \"" + checksum + "\"}\n").getBytes(StandardCharsets.UTF_8);
    }

    private static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
