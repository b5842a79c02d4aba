package dev.zenith.objectstore.catalogue;

import java.util.Optional;

/**
 * What the machine that pushed (or pulls) a snapshot runs: its architecture ({@code os.arch} as
 * Java names it, e.g. amd64, aarch64), its PostgreSQL binaries' version number, the glibc version
 * its libc collations come from, and its ICU library version (absent without ICU).
 */
public record MachineFacts(String architecture, int pgVersionNum, String glibcVersion, Optional<String> icuVersion) {
    public MachineFacts {
        if (architecture.isBlank() || pgVersionNum < 100000) {
            throw new IllegalArgumentException("not the facts of a machine: " + architecture + ", PostgreSQL " + pgVersionNum);
        }
    }

    public int pgMajor() {
        return pgVersionNum / 10000;
    }
}
