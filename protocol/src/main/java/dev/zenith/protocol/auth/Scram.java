package dev.zenith.protocol.auth;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.text.Normalizer;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/** SCRAM-SHA-256 primitives (RFC 5802 / RFC 7677) as PostgreSQL uses them. */
public final class Scram {
    public static final String MECHANISM = "SCRAM-SHA-256";
    /** PostgreSQL's default iteration count (scram_iterations). */
    public static final int DEFAULT_ITERATIONS = 4096;
    /** PostgreSQL's salt length. */
    public static final int SALT_LENGTH = 16;
    static final SecureRandom RANDOM = new SecureRandom();

    private Scram() {
    }

    public static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] hmac(byte[] key, String data) {
        return hmac(key, data.getBytes(StandardCharsets.UTF_8));
    }

    public static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Hi(): PBKDF2 with HMAC-SHA-256, one block. */
    public static byte[] hi(byte[] password, byte[] salt, int iterations) {
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be positive");
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            // SecretKeySpec refuses empty keys; HMAC zero-pads keys, so one zero byte is equivalent.
            mac.init(new SecretKeySpec(password.length == 0 ? new byte[1] : password, "HmacSHA256"));
            mac.update(salt);
            byte[] u = mac.doFinal(new byte[] {0, 0, 0, 1});
            byte[] result = u.clone();
            for (int i = 1; i < iterations; i++) {
                u = mac.doFinal(u);
                for (int j = 0; j < result.length; j++) {
                    result[j] ^= u[j];
                }
            }
            return result;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * SASLprep as PostgreSQL applies it: ASCII passwords are used as is; others are NFKC-normalized
     * with non-ASCII spaces mapped to space and "mapped to nothing" characters removed. (PostgreSQL
     * falls back to the raw bytes when a password is not valid SASLprep input; the prohibited-output
     * and bidi checks are not implemented here, so such passwords are normalized regardless.)
     */
    public static byte[] saslPrep(String password) {
        boolean ascii = password.chars().allMatch(c -> c < 0x80);
        if (ascii) {
            return password.getBytes(StandardCharsets.UTF_8);
        }
        StringBuilder sb = new StringBuilder();
        password.codePoints().forEach(cp -> {
            if (cp == 0x00AD || cp == 0x034F || cp == 0x1806 || (cp >= 0x180B && cp <= 0x180D) || cp == 0x200B
                    || cp == 0x200C || cp == 0x200D || cp == 0x2060 || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF) {
                return;
            }
            if (Character.isSpaceChar(cp) && cp != ' ') {
                sb.append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return Normalizer.normalize(sb, Normalizer.Form.NFKC).getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] xor(byte[] a, byte[] b) {
        byte[] r = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = (byte) (a[i] ^ b[i]);
        }
        return r;
    }

    public static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    static byte[] unb64(String s, String what) {
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                    "malformed SCRAM message: invalid base64 in " + what);
        }
    }

    /** A fresh random nonce: 18 random bytes, base64 (printable, no commas). */
    public static String nonce() {
        byte[] b = new byte[18];
        RANDOM.nextBytes(b);
        return b64(b);
    }

    /**
     * Parses comma-separated {@code k=v} attributes in order, requiring exactly the given leading
     * attributes; extra attributes after them are returned too.
     */
    static Map<Character, String> attributes(String msg, String what, char... required) {
        Map<Character, String> out = new HashMap<>();
        String[] parts = msg.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (p.length() < 2 || p.charAt(1) != '=') {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM " + what + ": expected attribute at '" + p + "'");
            }
            char k = p.charAt(0);
            if (i < required.length && k != required[i]) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM " + what + ": expected attribute '" + required[i] + "' but found '" + k + "'");
            }
            out.put(k, p.substring(2));
        }
        if (parts.length < required.length) {
            throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                    "malformed SCRAM " + what + ": missing attribute '" + required[parts.length] + "'");
        }
        return out;
    }
}
