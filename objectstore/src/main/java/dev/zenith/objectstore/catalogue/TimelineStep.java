package dev.zenith.objectstore.catalogue;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One timeline of a pushed snapshot's lineage: the root has no parent (and branch LSN 0); a branch
 * has the parent it was created from and the LSN it branched at (reads at or below it fall through
 * to the parent). {@code pgTimeline} is PostgreSQL's own timeline number (WAL segment names).
 */
public record TimelineStep(String timeline, Optional<String> parent, long branchLsn, int pgTimeline) {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{32}");

    public TimelineStep {
        if (!ID.matcher(timeline).matches() || parent.isPresent() && !ID.matcher(parent.get()).matches()) {
            throw new IllegalArgumentException("a timeline id is 32 lower-case hex characters: " + timeline + " / " + parent);
        }
        if (parent.isEmpty() && branchLsn != 0) {
            throw new IllegalArgumentException("the root timeline " + timeline + " has no branch LSN");
        }
        if (pgTimeline < 1) {
            throw new IllegalArgumentException("PostgreSQL timeline numbers start at 1: " + pgTimeline);
        }
    }
}
