package dev.zenith.server.domain;

import java.util.regex.Pattern;

/** Names of storages, pgs and snapshots: lower-case, safe in paths, URLs and PostgreSQL identifiers. */
public final class Names {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    private Names() {
    }

    public static String check(String kind, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new InvalidRequestException(kind + " name must match [a-z0-9][a-z0-9_-]{0,62}, got "
                    + (name == null ? "nothing" : "'" + name + "'"));
        }
        return name;
    }
}
