package dev.zenith.server.basebackup;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * A per-file checksum of the backup manifest, as pg_verifybackup recomputes it: CRC32C (written as
 * the four bytes of the little-endian CRC, like PostgreSQL on x86), SHA224/256/384/512, or NONE.
 */
public abstract class ManifestChecksum {
    /** The MANIFEST_CHECKSUMS option value, or IllegalArgumentException for one PostgreSQL 15 does not know. */
    public static ManifestChecksum forAlgorithm(String name) {
        String n = name.toUpperCase(Locale.ROOT);
        return switch (n) {
            case "CRC32C" -> new Crc32c();
            case "NONE" -> new None();
            case "SHA224", "SHA256", "SHA384", "SHA512" -> new Sha(n);
            default -> throw new IllegalArgumentException("unrecognized checksum algorithm: \"" + name + "\"");
        };
    }

    /** The name in the manifest's Checksum-Algorithm field; null for NONE (the field is left out). */
    public abstract String manifestName();

    public abstract void update(byte[] b, int off, int len);

    /** Hex text of the checksum; resets for the next file. */
    public abstract String finishHex();

    private static final class Crc32c extends ManifestChecksum {
        private final CRC32C crc = new CRC32C();

        public String manifestName() {
            return "CRC32C";
        }

        public void update(byte[] b, int off, int len) {
            crc.update(b, off, len);
        }

        public String finishHex() {
            byte[] le = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).array();
            crc.reset();
            return HexFormat.of().formatHex(le);
        }
    }

    private static final class Sha extends ManifestChecksum {
        private final String name;
        private final MessageDigest digest;

        Sha(String name) {
            this.name = name;
            try {
                this.digest = MessageDigest.getInstance("SHA-" + name.substring(3));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        public String manifestName() {
            return name;
        }

        public void update(byte[] b, int off, int len) {
            digest.update(b, off, len);
        }

        public String finishHex() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }

    private static final class None extends ManifestChecksum {
        public String manifestName() {
            return null;
        }

        public void update(byte[] b, int off, int len) {
        }

        public String finishHex() {
            return null;
        }
    }
}
