package dev.zenith.storage.page;

import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** A materialization step keeps the free-space map lengths its run left, and a step without them reads as not knowing. */
class WatermarksTest {
    @TempDir
    Path tmp;

    @Test
    void aStepKeepsItsFreeSpaceMapLengths() {
        try (Store s = Store.open(tmp.resolve("store"))) {
            TimelineId tl = s.timelines().create(null, Lsn.INVALID, 1).id();
            s.watermarks().commit(tl, List.of(), new Watermarks.Step(Lsn.of(0x2000), Lsn.of(0x1F00)));
            assertNull(s.watermarks().watermark(tl).orElseThrow().freeSpaceMaps(), "not known");
            Map<RelTag, Long> fsm = Map.of(
                    new RelTag(new RelFileNode(1663, 5, 16384), ForkNumber.FSM), 3L,
                    new RelTag(new RelFileNode(1663, 5, 0x8000_0001), ForkNumber.FSM), 0xFFFF_FFF0L,
                    new RelTag(new RelFileNode(1664, 0, 1262), ForkNumber.FSM), 2L);
            Watermarks.Step step = new Watermarks.Step(Lsn.of(0x3000), Lsn.of(0x2F00), fsm);
            s.watermarks().commit(tl, List.of(), step);
            assertEquals(step, s.watermarks().watermark(tl).orElseThrow());
            assertEquals(fsm, s.watermarks().steps(tl).get(1).freeSpaceMaps());
            Watermarks.Step none = new Watermarks.Step(Lsn.of(0x4000), Lsn.of(0x3F00), Map.of());
            s.watermarks().commit(tl, List.of(), none);
            assertEquals(Map.of(), s.watermarks().watermark(tl).orElseThrow().freeSpaceMaps(), "known: none");
        }
    }
}
