package dev.zenith.protocol.auth;

import java.security.MessageDigest;

/**
 * A stored SCRAM-SHA-256 secret in PostgreSQL's text form
 * {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>} (base64), as in pg_authid.rolpassword.
 */
public record ScramVerifier(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {

    /** A verifier for {@code password} with a fresh random salt and PostgreSQL's default iteration count. */
    public static ScramVerifier generate(String password) {
        byte[] salt = new byte[Scram.SALT_LENGTH];
        Scram.RANDOM.nextBytes(salt);
        return generate(password, salt, Scram.DEFAULT_ITERATIONS);
    }

    public static ScramVerifier generate(String password, byte[] salt, int iterations) {
        byte[] salted = Scram.hi(Scram.saslPrep(password), salt, iterations);
        byte[] clientKey = Scram.hmac(salted, "Client Key");
        return new ScramVerifier(iterations, salt.clone(), Scram.sha256(clientKey), Scram.hmac(salted, "Server Key"));
    }

    /** Parses PostgreSQL's text form; throws IllegalArgumentException when it is not one. */
    public static ScramVerifier parse(String text) {
        String prefix = Scram.MECHANISM + "$";
        if (text == null || !text.startsWith(prefix)) {
            throw new IllegalArgumentException("not a SCRAM-SHA-256 verifier");
        }
        String[] parts = text.substring(prefix.length()).split("\\$", -1);
        if (parts.length != 2) {
            throw new IllegalArgumentException("malformed SCRAM-SHA-256 verifier");
        }
        String[] a = parts[0].split(":", -1);
        String[] b = parts[1].split(":", -1);
        if (a.length != 2 || b.length != 2) {
            throw new IllegalArgumentException("malformed SCRAM-SHA-256 verifier");
        }
        try {
            int iter = Integer.parseInt(a[0]);
            java.util.Base64.Decoder d = java.util.Base64.getDecoder();
            byte[] stored = d.decode(b[0]);
            byte[] server = d.decode(b[1]);
            if (iter < 1 || stored.length != 32 || server.length != 32) {
                throw new IllegalArgumentException("malformed SCRAM-SHA-256 verifier");
            }
            return new ScramVerifier(iter, d.decode(a[1]), stored, server);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed SCRAM-SHA-256 verifier", e);
        }
    }

    /** True when {@code password} is the one this verifier was made from. */
    public boolean matches(String password) {
        ScramVerifier other = generate(password, salt, iterations);
        return MessageDigest.isEqual(storedKey, other.storedKey) && MessageDigest.isEqual(serverKey, other.serverKey);
    }

    /** PostgreSQL's text form. */
    public String text() {
        return Scram.MECHANISM + "$" + iterations + ":" + Scram.b64(salt) + "$" + Scram.b64(storedKey) + ":"
                + Scram.b64(serverKey);
    }

    @Override
    public String toString() {
        return text();
    }
}
