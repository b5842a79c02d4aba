package dev.zenith.server.compute;

import dev.zenith.server.security.Secrets;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The password of role postgres in a storage's cluster, kept in the storage (a storage carries its pgs
 * to whichever daemon attaches it, and their password with them). It is made before the cluster's
 * initdb, so every point of the storage's history, and so every branch, snapshot and replica, has it.
 * A storage made before computes had passwords has none until its first primary starts.
 *
 * <p>A pulled history is the exception: its role postgres has the pushing daemon's password, which no push sends.
 * Its timelines are marked pulled; a primary that starts at a point of one (a branch of a pulled snapshot) is
 * given the storage's password in single-user mode first, and once that WAL is in the store the point where
 * it was set is recorded, so the timeline's later points, and branches of them, have the storage's password.
 * A read-only pg at a point of one sets the storage's password in its own copy of the data before it opens
 * (its WAL goes nowhere, so nothing is recorded: each of its starts does it again).
 */
public final class ClusterPasswords {
    private static final String KEY = "cluster/postgres_password";
    /** A timeline whose WAL came from another daemon (a pull): its role postgres has that daemon's password. */
    private static final String PULLED = "cluster/pulled_timeline/";
    /** The LSN after which a timeline's WAL has given role postgres the storage's password. */
    private static final String SET_ON = "cluster/password_set/";

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

    /** Marks a timeline a pull brings in (before it is adopted: a crash in between leaves a harmless mark). */
    public static void markPulled(Store store, TimelineId timeline) {
        store.documents().put(PULLED + timeline, new byte[] {1});
    }

    /**
     * Whether a primary starting at the end of {@code timeline} must first give role postgres the storage's
     * password: the storage has none yet, or that point lies in a pulled history the password was not set in.
     */
    static boolean needsSetting(Store store, TimelineId timeline) {
        return find(store).isEmpty() || pulledAt(store, timeline);
    }

    /** Whether role postgres at the end of {@code timeline} has a pulled history's password rather than the storage's. */
    static boolean pulledAt(Store store, TimelineId timeline) {
        return foreignAt(store, timeline, Lsn.of(Long.MAX_VALUE));
    }

    /** Records that the WAL of {@code timeline} after {@code lsn} has the storage's password. */
    static void setOn(Store store, TimelineId timeline, Lsn lsn) {
        store.documents().put(SET_ON + timeline, lsn.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Whether role postgres at {@code (timeline, lsn)} has a pulled history's password rather than the storage's. */
    private static boolean foreignAt(Store store, TimelineId timeline, Lsn lsn) {
        for (TimelineId at = timeline; at != null; ) {
            Optional<Lsn> set = store.documents().get(SET_ON + at).map(b -> Lsn.parse(new String(b, StandardCharsets.UTF_8)));
            if (set.isPresent() && lsn.isAfter(set.get())) {
                return false;
            }
            if (store.documents().get(PULLED + at).isPresent()) {
                return true;
            }
            Optional<Timeline> t = store.timelines().get(at);
            if (t.isEmpty() || t.get().isRoot()) {
                return false;
            }
            lsn = t.get().branchLsn();
            at = t.get().parent();
        }
        return false;
    }
}
