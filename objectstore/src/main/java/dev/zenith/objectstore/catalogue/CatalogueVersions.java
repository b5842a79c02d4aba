package dev.zenith.objectstore.catalogue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which version of a name is the snapshot, decided from the versions listed under it alone (no
 * lock, no conditional write, so every reader agrees on any server): the <em>root</em> is the
 * version with the smallest key among those that replace nothing (or a version no longer there);
 * the current one follows, from the root, the smallest key that replaces the current one, as long
 * as there is one. Every other version lost a race (its writer deletes it when it notices) or was
 * replaced. No I/O.
 */
public final class CatalogueVersions {
    private CatalogueVersions() {
    }

    /** What a version says about itself, for the resolution. */
    public record Listed(String key, Optional<String> replaces, String contentId) {
    }

    /** The current version, empty when the name has none. */
    public static Optional<Listed> current(List<Listed> versions) {
        List<Listed> sorted = new ArrayList<>(versions);
        sorted.sort(Comparator.comparing(Listed::key));
        Set<String> there = sorted.stream().map(Listed::key).collect(Collectors.toSet());
        Optional<Listed> current = sorted.stream()
                .filter(v -> v.replaces().isEmpty() || !there.contains(v.replaces().get()))
                .findFirst();
        while (current.isPresent()) {
            String at = current.get().key();
            Optional<Listed> next = sorted.stream().filter(v -> v.replaces().equals(Optional.of(at))).findFirst();
            if (next.isEmpty()) {
                break;
            }
            current = next;
        }
        return current;
    }
}
