package dev.zenith.server.security;

import dev.zenith.pgexec.PrivateFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.logging.Logger;

/**
 * Generated secrets (the API token, the replication password, compute passwords): 256 random bits,
 * URL-safe base64, so they go into URLs, conninfo strings and password files unquoted. Kept in 0600
 * files of ZENITH_HOME, the secret on the first line; never logged.
 */
public final class Secrets {
    private static final Logger LOG = Logger.getLogger(Secrets.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    private Secrets() {
    }

    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /**
     * The secret in {@code file}, made and written there (0600) the first time. An existing file is made
     * 0600 if it was not; an empty one is refused rather than read as an empty secret.
     */
    public static String readOrCreate(Path file, String what) throws IOException {
        if (!Files.exists(file)) {
            PrivateFiles.write(file, generate() + "\n");
            LOG.info(what + " generated in " + file);
        } else {
            PrivateFiles.restrict(file);
        }
        String secret = PrivateFiles.firstLine(file);
        if (secret.isEmpty()) {
            throw new IOException(file + " (" + what + ") is empty; delete it to have a new one generated");
        }
        return secret;
    }
}
