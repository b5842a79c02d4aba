package dev.zenith.objectstore.log;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.ManifestCodec;
import dev.zenith.objectstore.format.ObjectNames;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reading a prefix's manifest log: the newest manifest is the greatest key under {@code manifests/};
 * its chain runs back through {@code previous} to the last full manifest, and folding it forward
 * gives the {@link ManifestView}. Manifests that are not on the newest one's chain are ignored:
 * those of a writer that lost its lease (an older generation: they sort below the new holder's, which
 * start with a takeover manifest as soon as it holds the lease), and what a crash or GC left.
 * Blocking (call from a worker thread).
 */
public final class ManifestLog {
    /** A reader that raced GC (its newest manifest's chain deleted under it) lists again, this often. */
    private static final int READ_ATTEMPTS = 3;

    private ManifestLog() {
    }

    /** The manifests under the prefix, in order (oldest first), with their stored sizes; other keys are ignored. */
    public static TreeMap<ManifestName, ObjectInfo> list(ObjectStore store) {
        return names(join(store.list(ObjectNames.MANIFESTS)));
    }

    /**
     * The manifests from {@code from} on (it included when it exists), asked for as such: a writer checking before each
     * append that its manifest is still the newest lists one or two names, not the hundreds GC's grace keeps.
     */
    public static TreeMap<ManifestName, ObjectInfo> listFrom(ObjectStore store, ManifestName from) {
        if (from.sequence() == 0) {
            return list(store); // the name just before it is another generation's: rare (a takeover's first append)
        }
        return names(join(store.listAfter(ObjectNames.MANIFESTS, new ManifestName(from.generation(), from.sequence() - 1).key())));
    }

    private static TreeMap<ManifestName, ObjectInfo> names(List<ObjectInfo> objects) {
        TreeMap<ManifestName, ObjectInfo> out = new TreeMap<>();
        for (ObjectInfo o : objects) {
            ObjectNames.manifestName(o.key()).ifPresent(n -> out.put(n, o));
        }
        return out;
    }

    /** The generation a new lease holder must use at least: above every manifest there (1 on an empty prefix). */
    public static long nextGeneration(ObjectStore store) {
        TreeMap<ManifestName, ObjectInfo> names = list(store);
        return names.isEmpty() ? 1 : names.lastKey().generation() + 1;
    }

    /** The current view: the newest manifest's chain folded; empty when there is no manifest. */
    public static ManifestView read(ObjectStore store) {
        for (int attempt = 1; ; attempt++) {
            TreeMap<ManifestName, ObjectInfo> names = list(store);
            if (names.isEmpty()) {
                return ManifestView.empty();
            }
            try {
                return fold(store, names, chain(store, names, names.lastKey(), 1));
            } catch (BrokenChain e) {
                if (attempt >= READ_ATTEMPTS || list(store).equals(names)) {
                    throw e.error(); // not a race with GC: the chain really is broken
                }
            }
        }
    }

    /**
     * What GC must keep: the newest {@code keep} manifests of the current chain and, back from the
     * oldest of them, the manifests down to the full one it needs; the blob keys any of them lists;
     * and every manifest key seen (the rest of them, below the newest, are not on the chain or too old).
     */
    public record Retention(ManifestName newest, List<Manifest> kept, Set<String> referencedKeys,
                            TreeMap<ManifestName, ObjectInfo> listed) {
        public Set<ManifestName> keptNames() {
            Set<ManifestName> s = new HashSet<>();
            kept.forEach(m -> s.add(m.name()));
            return s;
        }
    }

    /** Empty when the prefix has no manifest. */
    public static Optional<Retention> retention(ObjectStore store, int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep at least the newest manifest");
        }
        for (int attempt = 1; ; attempt++) {
            TreeMap<ManifestName, ObjectInfo> names = list(store);
            if (names.isEmpty()) {
                return Optional.empty();
            }
            try {
                List<Manifest> kept = chain(store, names, names.lastKey(), keep);
                fold(store, names, kept); // a chain GC relies on must fold, or GC does nothing
                Set<String> referenced = new HashSet<>();
                kept.forEach(m -> m.added().forEach(e -> referenced.add(e.key())));
                return Optional.of(new Retention(names.lastKey(), kept, referenced, names));
            } catch (BrokenChain e) {
                if (attempt >= READ_ATTEMPTS || list(store).equals(names)) {
                    throw e.error();
                }
            }
        }
    }

    /**
     * The manifests from {@code newest} back, oldest first: at least {@code atLeast} of them when
     * the chain is that long, and always back to a full manifest (the base the oldest one needs). A
     * full manifest's {@code previous} is followed only while more are wanted, and only if it is there.
     */
    private static List<Manifest> chain(ObjectStore store, TreeMap<ManifestName, ObjectInfo> names, ManifestName newest,
                                        int atLeast) {
        Deque<Manifest> chain = new ArrayDeque<>();
        ManifestName at = newest;
        while (true) {
            Manifest m = load(store, at);
            chain.addFirst(m);
            if (m.full() && (chain.size() >= atLeast || m.previous().isEmpty() || !names.containsKey(m.previous().get()))) {
                return new ArrayList<>(chain);
            }
            ManifestName prev = m.previous().orElseThrow();
            if (!names.containsKey(prev)) {
                throw new BrokenChain(new ObjectStoreException(ObjectStoreException.Kind.CORRUPT, "manifest " + m.name().key()
                        + " follows " + prev.key() + ", which is not in " + store.describe() + ": the manifest chain is broken"));
            }
            at = prev;
        }
    }

    /** Folds a chain (oldest first, starting with a full manifest) into the view of its last manifest. */
    private static ManifestView fold(ObjectStore store, TreeMap<ManifestName, ObjectInfo> names, List<Manifest> chain) {
        ManifestView view = ManifestView.empty();
        int firstFull = 0;
        for (int i = chain.size() - 1; i >= 0; i--) {
            if (chain.get(i).full()) {
                firstFull = i; // the newest full one: folding from there is enough
                break;
            }
        }
        for (Manifest m : chain.subList(firstFull, chain.size())) {
            view = view.then(m, names.get(m.name()).size());
        }
        return view;
    }

    private static Manifest load(ObjectStore store, ManifestName name) {
        Optional<StoredBytes> stored = join(store.get(name.key()));
        if (stored.isEmpty()) {
            throw new BrokenChain(new ObjectStoreException(ObjectStoreException.Kind.CORRUPT, "manifest " + name.key()
                    + " is missing from " + store.describe() + " (listed, then gone)"));
        }
        return ManifestCodec.decode(name.key(), stored.get().bytes());
    }

    /** A manifest the chain needs is not there: maybe GC deleted it since the listing, maybe it is really gone. */
    private static final class BrokenChain extends RuntimeException {
        private final ObjectStoreException error;

        BrokenChain(ObjectStoreException error) {
            super(error.getMessage(), null, false, false);
            this.error = error;
        }

        ObjectStoreException error() {
            return error;
        }
    }
}
