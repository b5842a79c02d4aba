package dev.zenith.objectstore.catalogue;

import dev.zenith.objectstore.catalogue.Compatibility.Finding;
import dev.zenith.objectstore.catalogue.Compatibility.Severity;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static dev.zenith.objectstore.catalogue.Snapshots.CLUSTER;
import static dev.zenith.objectstore.catalogue.Snapshots.LAPTOP;
import static dev.zenith.objectstore.catalogue.Snapshots.manifest;
import static dev.zenith.objectstore.catalogue.Snapshots.objects;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompatibilityTest {
    private static final SnapshotManifest PUSHED = manifest("main@s", objects("x"), "alice@laptop");

    @Test
    void theSameMachineAndAnEmptyStorageHaveNothingToSay() {
        assertEquals(List.of(), Compatibility.check(PUSHED, LAPTOP, 8192, Optional.empty()));
        assertEquals(List.of(), Compatibility.check(PUSHED, new MachineFacts("amd64", 150009, "2.36", Optional.of("72.1")), 8192,
                Optional.of(CLUSTER.systemIdentifier())), "another minor version of 15, the same cluster");
    }

    @Test
    void anotherMajorVersionArchitecturePageSizeOrClusterIsRefused() {
        List<Finding> f = Compatibility.check(PUSHED, new MachineFacts("aarch64", 160002, "2.36", Optional.of("72.1")), 16384,
                Optional.of("7000000000000000001"));
        assertEquals(List.of(Severity.REFUSE, Severity.REFUSE, Severity.REFUSE, Severity.REFUSE), f.stream().map(Finding::severity).toList());
        assertTrue(f.get(0).message().contains("PostgreSQL 15 cluster; this machine runs PostgreSQL 16"), f.get(0).message());
        assertTrue(f.get(1).message().contains("pushed from a amd64 machine; this one is aarch64"), f.get(1).message());
        assertTrue(f.get(2).message().contains("8192-byte pages"), f.get(2).message());
        assertTrue(f.get(3).message().contains("holds another cluster (system identifier 7000000000000000001)"), f.get(3).message());
    }

    @Test
    void anotherGlibcOrIcuIsAWarningForTheDatabasesThatSortWithIt() {
        List<Finding> f = Compatibility.check(PUSHED, new MachineFacts("amd64", 150006, "2.31", Optional.of("74.2")), 8192,
                Optional.empty());
        assertEquals(2, f.size(), "the C database sorts by bytes: " + f);
        assertEquals(Severity.WARN, f.get(0).severity());
        assertTrue(f.get(0).message().contains("database app of main@s sorts text with glibc 2.36 (en_US.UTF-8); this machine has "
                + "glibc 2.31: indexes on text may need REINDEX"), f.get(0).message());
        assertTrue(f.get(1).message().contains("database intl of main@s sorts text with ICU 72.1 (collation version 153.120); "
                + "this machine has ICU 74.2"), f.get(1).message());
    }

    @Test
    void withoutTheDatabasesCollationsTheMachinesGlibcAndIcuAreCompared() {
        ClusterFacts c = CLUSTER;
        SnapshotManifest unrecorded = new SnapshotManifest(PUSHED.ref(), PUSHED.lsn(), PUSHED.lineage(), new ClusterFacts(c.pgVersion(),
                c.pgVersionNum(), c.systemIdentifier(), c.dataChecksums(), c.blockSize(), c.walSegmentSize(), List.of()),
                PUSHED.machine(), PUSHED.objects(), Optional.empty(), PUSHED.pushedAt(), PUSHED.pushedBy());
        assertEquals(List.of(), Compatibility.check(unrecorded, LAPTOP, 8192, Optional.empty()), "the same glibc and ICU");
        List<Finding> f = Compatibility.check(unrecorded, new MachineFacts("amd64", 150006, "2.31", Optional.of("74.2")), 8192,
                Optional.empty());
        assertEquals(1, f.size(), f.toString());
        assertEquals(Severity.WARN, f.get(0).severity());
        assertTrue(f.get(0).message().contains("main@s was pushed without its databases' collations (its pg was not running)"
                + " from a machine with glibc 2.36 (this machine has 2.31) and ICU 72.1 (this machine has 74.2)"), f.get(0).message());
    }
}
