package dev.zenith.cli;

import dev.zenith.pgexec.PgPassLookup;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Optional;

/** The password a {@code basebackup://} import's replication login needs, found as libpq would find it for this user. */
final class ImportUrls {
    private ImportUrls() {
    }

    /**
     * From PGPASSWORD or the password file (PGPASSFILE, relative to the user's directory, else ~/.pgpass), for the
     * URL's host, port and user (database "replication"), as the user's environment has them ({@code invocation}:
     * the program's own, or a client's the daemon runs the line for); empty if none. Another user's line (no
     * directory, see {@link Invocation#directory}) is left to the program: the daemon logs in as no other user.
     */
    static Optional<String> password(String url, Invocation invocation) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            return Optional.empty();
        }
        if (uri.getUserInfo() == null || uri.getHost() == null || uri.getPort() < 1) {
            return Optional.empty(); // the daemon says what is wrong with it
        }
        if (invocation.directory() == null) {
            throw new Cli.NotHere("the client's passwords are its own");
        }
        String password = invocation.variable("PGPASSWORD");
        if (password != null) {
            return Optional.of(password);
        }
        String file = invocation.variable("PGPASSFILE");
        Path path = file != null ? invocation.directory().resolve(file) : PgPassLookup.defaultFile();
        return PgPassLookup.fromFile(path, uri.getHost(), uri.getPort(), "replication", uri.getUserInfo());
    }
}
