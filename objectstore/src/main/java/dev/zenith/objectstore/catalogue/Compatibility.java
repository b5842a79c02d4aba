package dev.zenith.objectstore.catalogue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Whether a pulled snapshot can run here: refused for what cannot work (another PostgreSQL major
 * version, another architecture, other page or segment sizes, a storage holding another cluster),
 * a warning for what may break quietly (text sorted by another glibc or ICU version than the one
 * that built the indexes: they may need REINDEX). No I/O.
 */
public final class Compatibility {
    private Compatibility() {
    }

    public enum Severity { WARN, REFUSE }

    /** One difference, worded for the user. */
    public record Finding(Severity severity, String message) {
    }

    /**
     * @param local              this machine
     * @param localBlockSize      the page size of the local binaries ({@code block_size}), 8192 in practice
     * @param storageSystemIdentifier the system identifier of the cluster the target storage holds, if any
     */
    public static List<Finding> check(SnapshotManifest remote, MachineFacts local, int localBlockSize,
                                      Optional<String> storageSystemIdentifier) {
        List<Finding> out = new ArrayList<>();
        ClusterFacts c = remote.cluster();
        String what = remote.ref().toString();
        if (c.major() != local.pgMajor()) {
            out.add(new Finding(Severity.REFUSE, what + " is a PostgreSQL " + c.major() + " cluster; this machine runs PostgreSQL "
                    + local.pgMajor() + " (a data directory is not portable across major versions: dump and restore it)"));
        }
        if (!remote.machine().architecture().equals(local.architecture())) {
            out.add(new Finding(Severity.REFUSE, what + " was pushed from a " + remote.machine().architecture()
                    + " machine; this one is " + local.architecture() + " (PostgreSQL's files are not portable across architectures)"));
        }
        if (c.blockSize() != localBlockSize) {
            out.add(new Finding(Severity.REFUSE, what + " has " + c.blockSize() + "-byte pages; the local PostgreSQL uses "
                    + localBlockSize));
        }
        storageSystemIdentifier.filter(id -> !id.equals(c.systemIdentifier())).ifPresent(id -> out.add(new Finding(
                Severity.REFUSE, "the storage holds another cluster (system identifier " + id + "); " + what + " is of "
                + c.systemIdentifier() + ": pull it into another storage")));
        if (c.databases().isEmpty()) {
            unrecorded(remote, local).ifPresent(out::add);
        }
        for (ClusterFacts.DatabaseLocale d : c.databases()) {
            if (d.sortsByBytes()) {
                continue;
            }
            if (d.provider().equals("libc")) {
                String recorded = d.collationVersion().orElse(remote.machine().glibcVersion());
                if (!recorded.equals(local.glibcVersion())) {
                    out.add(new Finding(Severity.WARN, "database " + d.name() + " of " + what + " sorts text with glibc "
                            + recorded + " (" + d.collate() + "); this machine has glibc " + local.glibcVersion()
                            + ": indexes on text may need REINDEX"));
                }
            } else {
                String there = remote.machine().icuVersion().orElse("none");
                String here = local.icuVersion().orElse("none");
                if (!there.equals(here)) {
                    out.add(new Finding(Severity.WARN, "database " + d.name() + " of " + what + " sorts text with ICU "
                            + there + d.collationVersion().map(v -> " (collation version " + v + ")").orElse("")
                            + "; this machine has ICU " + here + ": indexes on text may need REINDEX"));
                }
            }
        }
        return out;
    }

    /**
     * A snapshot pushed without its databases' collations (its pg was not running to be asked): the machines' glibc
     * and ICU versions are compared instead, and a difference is said, since which databases sort with them is unknown.
     */
    private static Optional<Finding> unrecorded(SnapshotManifest remote, MachineFacts local) {
        List<String> differ = new ArrayList<>();
        if (!remote.machine().glibcVersion().equals(local.glibcVersion())) {
            differ.add("glibc " + remote.machine().glibcVersion() + " (this machine has " + local.glibcVersion() + ")");
        }
        String there = remote.machine().icuVersion().orElse("none");
        String here = local.icuVersion().orElse("none");
        if (!there.equals(here)) {
            differ.add("ICU " + there + " (this machine has " + here + ")");
        }
        if (differ.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Finding(Severity.WARN, remote.ref() + " was pushed without its databases' collations (its pg"
                + " was not running) from a machine with " + String.join(" and ", differ) + ": indexes on text of databases"
                + " that sort with it may need REINDEX"));
    }
}
