package dev.zenith.objectstore.catalogue;

import java.util.List;
import java.util.Optional;

/**
 * What a pushed snapshot's cluster is, as PostgreSQL reports it: the server version
 * ({@code server_version}, {@code server_version_num}), {@code pg_control}'s system identifier and
 * data checksums setting, the page and WAL segment sizes, and each database's locale: its provider
 * ({@code datlocprovider}: libc or icu), {@code datcollate}, {@code datctype}, {@code daticulocale}
 * and the collation version recorded when it was created ({@code datcollversion}: glibc's version
 * for libc, the ICU collator's version for icu; absent for C and POSIX).
 */
public record ClusterFacts(String pgVersion, int pgVersionNum, String systemIdentifier, boolean dataChecksums,
                           int blockSize, int walSegmentSize, List<DatabaseLocale> databases) {

    public ClusterFacts {
        databases = List.copyOf(databases);
        if (pgVersionNum < 100000 || !systemIdentifier.matches("[0-9]{1,20}") || blockSize < 1024 || walSegmentSize < 1 << 20) {
            throw new IllegalArgumentException("not the facts of a PostgreSQL cluster: version " + pgVersionNum
                    + ", system identifier " + systemIdentifier + ", block " + blockSize + ", segment " + walSegmentSize);
        }
    }

    /** The major version (15 for 150006). */
    public int major() {
        return pgVersionNum / 10000;
    }

    public record DatabaseLocale(String name, String provider, String collate, String ctype, Optional<String> icuLocale,
                                 Optional<String> collationVersion) {
        public DatabaseLocale {
            if (!provider.equals("libc") && !provider.equals("icu")) {
                throw new IllegalArgumentException("a locale provider is libc or icu, not '" + provider + "'");
            }
        }

        /** C and POSIX sort by bytes: no library's version matters. */
        public boolean sortsByBytes() {
            return provider.equals("libc") && (collate.equals("C") || collate.equals("POSIX"));
        }
    }
}
