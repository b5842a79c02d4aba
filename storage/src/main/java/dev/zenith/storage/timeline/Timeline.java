package dev.zenith.storage.timeline;

import dev.zenith.wal.Lsn;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One timeline of the cluster's history. A root timeline has no parent; a branch has a parent and
 * a branch LSN, and reads at or below the branch LSN fall through to the parent.
 *
 * @param pgTimeline PostgreSQL's own timeline number (WAL segment names, pg_control)
 */
public record Timeline(TimelineId id, TimelineId parent, Lsn branchLsn, int pgTimeline, Instant createdAt) {
    public Timeline {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(branchLsn, "branchLsn");
        Objects.requireNonNull(createdAt, "createdAt");
        if (pgTimeline <= 0) {
            throw new IllegalArgumentException("PostgreSQL timeline numbers start at 1: " + pgTimeline);
        }
    }

    public Optional<TimelineId> parentId() {
        return Optional.ofNullable(parent);
    }

    public boolean isRoot() {
        return parent == null;
    }
}
