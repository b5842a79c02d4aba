package dev.zenith.objectstore.log;

import dev.zenith.objectstore.format.CorruptObjectException;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a prefix shows as of one manifest: every visible entry and the properties, folded from the
 * last full manifest and the deltas after it. A delta applies its removals first (every entry of
 * each removed key), then its additions: so re-adding a key after removing it changes its labels,
 * and one blob may be listed several times with other labels (the same bytes serving two purposes).
 * Immutable; {@link #then} gives the next view.
 *
 * @param name                the manifest this is the view of; empty for a prefix with no manifest
 * @param deltasSinceFull     deltas between the last full manifest and this one (0 when it is full)
 * @param deltaBytesSinceFull their stored size together
 * @param fullBytes           the stored size of that full manifest
 */
public record ManifestView(Optional<ManifestName> name, Map<String, List<Entry>> byKey, Map<String, String> properties,
                           int deltasSinceFull, long deltaBytesSinceFull, long fullBytes) {

    public ManifestView {
        TreeMap<String, List<Entry>> copy = new TreeMap<>();
        byKey.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        byKey = Collections.unmodifiableMap(copy);
        properties = Collections.unmodifiableMap(new TreeMap<>(properties));
    }

    public static ManifestView empty() {
        return new ManifestView(Optional.empty(), Map.of(), Map.of(), 0, 0, 0);
    }

    /** Every visible entry, in key order. */
    public List<Entry> entries() {
        List<Entry> all = new ArrayList<>();
        byKey.values().forEach(all::addAll);
        return all;
    }

    public Set<String> keys() {
        return byKey.keySet();
    }

    /** The view after {@code next} (stored in {@code storedBytes} bytes), which must follow this one. */
    public ManifestView then(Manifest next, long storedBytes) {
        String what = "manifest " + next.name().key();
        if (next.full()) {
            Map<String, List<Entry>> entries = new TreeMap<>();
            next.added().forEach(e -> add(entries, e));
            return new ManifestView(Optional.of(next.name()), entries, withoutEmpty(next.properties()), 0, 0, storedBytes);
        }
        if (!next.previous().equals(name)) {
            throw new IllegalStateException(what + " follows " + next.previous().map(ManifestName::key).orElse("nothing")
                    + ", not " + name.map(ManifestName::key).orElse("an empty prefix"));
        }
        Map<String, List<Entry>> entries = new TreeMap<>(byKey);
        for (String removed : next.removed()) {
            if (entries.remove(removed) == null) {
                throw new CorruptObjectException(what, "it removes " + removed + ", which its chain does not list");
            }
        }
        next.added().forEach(e -> add(entries, e));
        Map<String, String> props = new TreeMap<>(properties);
        next.properties().forEach((k, v) -> {
            if (v.isEmpty()) {
                props.remove(k);
            } else {
                props.put(k, v);
            }
        });
        return new ManifestView(Optional.of(next.name()), entries, props, deltasSinceFull + 1,
                deltaBytesSinceFull + storedBytes, fullBytes);
    }

    private static void add(Map<String, List<Entry>> entries, Entry e) {
        List<Entry> same = new ArrayList<>(entries.getOrDefault(e.key(), List.of()));
        if (!same.contains(e)) {
            same.add(e);
        }
        entries.put(e.key(), same);
    }

    private static Map<String, String> withoutEmpty(Map<String, String> p) {
        Map<String, String> out = new TreeMap<>(p);
        out.values().removeIf(String::isEmpty);
        return out;
    }
}
