package dev.zenith.storage.timeline;

import dev.zenith.wal.Lsn;

import java.util.List;

/**
 * Where to look for data of a timeline as of an LSN: the timeline itself up to that LSN, then
 * each ancestor up to the branch point below it. Readers take the newest hit over all steps.
 */
public record Lineage(List<Step> steps) {
    /** Look in {@code timeline} for entries at or below {@code upTo}. */
    public record Step(TimelineId timeline, Lsn upTo) {
    }

    public Lineage {
        steps = List.copyOf(steps);
    }
}
