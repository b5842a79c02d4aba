package dev.zenith.storage.image;

import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;

import java.util.Collection;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which relations an import re-reads. Relations the filter rejects keep their pages and sizes from
 * the previous image, unless the previous image lacks the fork or its file length changed (then
 * they are read anyway: the cheap check protects against an incomplete filter).
 */
@FunctionalInterface
public interface RelationFilter {
    boolean reread(RelFileNode relation);

    static RelationFilter all() {
        return r -> true;
    }

    /** Only these relations (for example the ones WAL says changed since the previous image). */
    static RelationFilter only(Collection<RelFileNode> relations) {
        Set<RelFileNode> set = Set.copyOf(relations);
        return set::contains;
    }

    static RelationFilter onlyTags(Collection<RelTag> forks) {
        return only(forks.stream().map(RelTag::node).collect(Collectors.toSet()));
    }
}
