package dev.zenith.cli;

import dev.zenith.pgexec.PgPassLookup;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;

/** The password a {@code basebackup://} import's replication login needs, found as libpq would find it for this user. */
final class ImportUrls {
    private ImportUrls() {
    }

    /** From PGPASSWORD or the password file, for the URL's host, port and user (database "replication"); empty if none. */
    static Optional<String> password(String url) {
        try {
            URI uri = new URI(url);
            if (uri.getUserInfo() == null || uri.getHost() == null || uri.getPort() < 1) {
                return Optional.empty(); // the daemon says what is wrong with it
            }
            return PgPassLookup.password(uri.getHost(), uri.getPort(), "replication", uri.getUserInfo());
        } catch (URISyntaxException e) {
            return Optional.empty();
        }
    }
}
