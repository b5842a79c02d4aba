package dev.zenith.server.compute;

import dev.zenith.server.security.Secrets;
import dev.zenith.storage.Store;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The password of role postgres in a storage's cluster, kept in the storage (a storage carries its pgs
 * to whichever daemon attaches it, and their password with them). It is made before the cluster's
 * initdb, so every point of the storage's history, and so every branch, snapshot and replica, has it.
 * A storage made before computes had passwords has none until its first primary starts.
 */
public final class ClusterPasswords {
    private static final String KEY = "cluster/postgres_password";

    private ClusterPasswords() {
    }

    public static Optional<String> find(Store store) {
        return store.documents().get(KEY).map(b -> new String(b, StandardCharsets.UTF_8));
    }

    /** The storage's password, generated and stored the first time (blocking). */
    static String findOrCreate(Store store) {
        return find(store).orElseGet(() -> {
            String password = Secrets.generate();
            keep(store, password);
            return password;
        });
    }

    /** Makes {@code password}, which the storage's cluster has now, the storage's (blocking). */
    public static void keep(Store store, String password) {
        store.documents().put(KEY, password.getBytes(StandardCharsets.UTF_8));
    }
}
