package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationCommand.BaseBackupOptions;
import dev.zenith.protocol.replication.ReplicationCommand.Checkpoint;
import dev.zenith.protocol.replication.ReplicationCommand.Manifest;
import dev.zenith.protocol.replication.ReplicationCommandScanner.Token;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The values of a replication command's generic options, {@code (name value, ...)}, as PostgreSQL 15's
 * walsender reads them: Booleans, strings, and the options of BASE_BACKUP with their checks.
 */
final class ReplicationOptions {
    private static final Set<String> TRUE_WORDS = Set.of("true", "on", "yes", "t", "1", "y");
    private static final Set<String> FALSE_WORDS = Set.of("false", "off", "no", "f", "0", "n");
    private static final Set<String> MANIFEST_CHECKSUMS = Set.of("NONE", "CRC32C", "SHA224", "SHA256", "SHA384",
            "SHA512");

    /** A generic option value: a string, a (signed) number, or a word; null when absent. */
    record Option(String name, String value, Token at) {
    }

    private ReplicationOptions() {
    }

    private static ReplicationCommandException error(String msg) {
        return new ReplicationCommandException(msg);
    }

    static boolean bool(Option o) {
        if (o.value() == null) {
            return true;
        }
        String v = o.value().toLowerCase(Locale.ROOT);
        if (TRUE_WORDS.contains(v)) {
            return true;
        }
        if (FALSE_WORDS.contains(v)) {
            return false;
        }
        throw error(o.name() + " requires a Boolean value");
    }

    static String stringValue(Option o) {
        if (o.value() == null) {
            throw error(o.name() + " requires a parameter");
        }
        return o.value();
    }

    static BaseBackupOptions baseBackup(List<Option> options) {
        BaseBackupOptions d = BaseBackupOptions.defaults();
        String label = d.label();
        boolean progress = d.progress();
        Checkpoint checkpoint = d.checkpoint();
        boolean wal = d.includeWal();
        boolean wait = d.waitForWalArchive();
        int maxRate = d.maxRate();
        boolean tablespaceMap = d.tablespaceMap();
        boolean verify = d.verifyChecksums();
        Manifest manifest = d.manifest();
        String manifestChecksums = d.manifestChecksums();
        boolean manifestChecksumsSet = false;
        String target = d.target();
        String targetDetail = d.targetDetail();
        String compression = d.compression();
        String compressionDetail = d.compressionDetail();
        Set<String> seen = new java.util.HashSet<>();
        for (Option o : options) {
            if (!seen.add(o.name())) {
                throw error("duplicate option \"" + o.name() + "\"");
            }
            switch (o.name()) {
                case "label" -> label = stringValue(o);
                case "progress" -> progress = bool(o);
                case "checkpoint" -> {
                    String v = stringValue(o).toLowerCase(Locale.ROOT);
                    checkpoint = switch (v) {
                        case "fast" -> Checkpoint.FAST;
                        case "spread" -> Checkpoint.SPREAD;
                        default -> throw error("unrecognized checkpoint type: \"" + o.value() + "\"");
                    };
                }
                case "wal" -> wal = bool(o);
                case "wait" -> wait = bool(o);
                case "max_rate" -> {
                    long v;
                    try {
                        v = Long.parseLong(stringValue(o));
                    } catch (NumberFormatException e) {
                        throw error("max_rate requires an integer value");
                    }
                    if (v < 32 || v > 1048576) {
                        throw error(v + " is outside the valid range for parameter \"max_rate\" (32 .. 1048576)");
                    }
                    maxRate = (int) v;
                }
                case "tablespace_map" -> tablespaceMap = bool(o);
                case "verify_checksums" -> verify = bool(o);
                case "manifest" -> {
                    String v = stringValue(o).toLowerCase(Locale.ROOT);
                    if (v.equals("force-encode")) {
                        manifest = Manifest.FORCE_ENCODE;
                    } else if (TRUE_WORDS.contains(v)) {
                        manifest = Manifest.YES;
                    } else if (FALSE_WORDS.contains(v)) {
                        manifest = Manifest.NO;
                    } else {
                        throw error("unrecognized manifest option: \"" + o.value() + "\"");
                    }
                }
                case "manifest_checksums" -> {
                    String v = stringValue(o).toUpperCase(Locale.ROOT).replace("-", "");
                    if (!MANIFEST_CHECKSUMS.contains(v)) {
                        throw error("unrecognized checksum algorithm: \"" + o.value() + "\"");
                    }
                    manifestChecksums = v;
                    manifestChecksumsSet = true;
                }
                case "target" -> target = stringValue(o).toLowerCase(Locale.ROOT);
                case "target_detail" -> targetDetail = stringValue(o);
                case "compression" -> compression = stringValue(o).toLowerCase(Locale.ROOT);
                case "compression_detail" -> compressionDetail = stringValue(o);
                default -> throw error("unrecognized base backup option: \"" + o.name() + "\"");
            }
        }
        if (manifest == Manifest.NO && manifestChecksumsSet) {
            throw error("manifest checksums require a backup manifest");
        }
        if (targetDetail != null && !seen.contains("target")) {
            throw error("target detail cannot be used without target");
        }
        if (compressionDetail != null && !seen.contains("compression")) {
            throw error("compression detail cannot be specified unless compression is enabled");
        }
        return new BaseBackupOptions(label, progress, checkpoint, wal, wait, maxRate, tablespaceMap, verify, manifest,
                manifestChecksums, target, targetDetail, compression, compressionDetail);
    }
}
