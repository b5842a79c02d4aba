package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;
import dev.zenith.objectstore.catalogue.MachineFacts;
import dev.zenith.objectstore.catalogue.SnapshotCatalogue;
import dev.zenith.objectstore.catalogue.SnapshotManifest;
import dev.zenith.objectstore.catalogue.SnapshotRef;
import dev.zenith.objectstore.catalogue.TimelineStep;
import dev.zenith.objectstore.file.FileObjectStore;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.server.testing.DaemonFixture;
import dev.zenith.testkit.PgCluster;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pull of what cannot work here (a PostgreSQL 14 cluster, another architecture) is refused naming why, before
 * anything is downloaded or written: no storage made, no snapshot named, nothing staged.
 */
class PullRefusalTest {
    DaemonFixture d;
    Path remote;

    @BeforeEach
    void start() throws Exception {
        d = new DaemonFixture().startInProcess();
        remote = Files.createTempDirectory("pull-refused-");
    }

    @AfterEach
    void stop() throws Exception {
        d.close();
        PgCluster.deleteTree(remote);
    }

    @Test
    void anotherMajorVersionOrArchitectureIsRefusedAndChangesNothing() throws Exception {
        publish("old@s", 140010, "amd64");
        publish("arm@s", 150006, "riscv64");
        d.ok(201, "PUT", "/remotes", new JsonObject().put("name", "team").put("url", "file://" + remote).encode());
        assertEquals(List.of("arm@s", "old@s"), ((JsonArray) d.ok(200, "GET", "/remotes/team/snapshots", null)).stream()
                .map(o -> ((JsonObject) o).getString("name")).sorted().toList());

        assertRefused("old@s", "PostgreSQL 14");
        assertRefused("arm@s", "riscv64");
        HttpResponse<String> missing = pull("nope@s");
        assertEquals(404, missing.statusCode(), missing.body());
        assertEquals(new JsonArray(), d.ok(200, "GET", "/snapshots", null));
        assertEquals(List.of("local"), ((JsonArray) d.ok(200, "GET", "/storages", null)).stream()
                .map(o -> ((JsonObject) o).getString("name")).toList());
        assertTrue(Files.notExists(d.home.resolve("pulls")), "nothing staged");
    }

    private void assertRefused(String snapshot, String says) throws Exception {
        HttpResponse<String> r = pull(snapshot);
        assertEquals(409, r.statusCode(), r.body());
        assertTrue(r.body().contains(says), r.body());
    }

    private HttpResponse<String> pull(String snapshot) throws Exception {
        return d.request("POST", "/remotes/team/snapshots/" + snapshot + "/actions",
                new JsonObject().put("action", "pull").put("storage", "elsewhere").encode());
    }

    /** A snapshot of a made-up cluster, its objects uploaded and its manifest published as a push does. */
    private void publish(String name, int pgVersionNum, String architecture) throws Exception {
        String root = "0123456789abcdef0123456789abcdef";
        try (FileObjectStore store = FileObjectStore.open(remote);
             Uploader up = new Uploader(store, TransferSettings.defaults())) {
            List<Manifest.Entry> objects = new ArrayList<>();
            objects.add(up.upload(Content.of(("image of " + name).getBytes()), Map.of("kind", "image", "timeline", root,
                    "lsn", "0/1000028", "path", "PG_VERSION")).join());
            objects.add(up.upload(Content.of(("anchor of " + name).getBytes()), Map.of("kind", "anchor", "timeline", root,
                    "lsn", "0/1000028", "redo", "0/1000028")).join());
            objects.add(up.upload(Content.of(("wal of " + name).getBytes()), Map.of("kind", "wal", "timeline", root,
                    "start", "0/1000000", "end", "0/1000100")).join());
            ClusterFacts cluster = new ClusterFacts(pgVersionNum / 10000 + ".10", pgVersionNum, "7312345678901234567", true,
                    8192, 16 << 20, List.of());
            MachineFacts machine = new MachineFacts(architecture, pgVersionNum, "2.36", Optional.empty());
            new SnapshotCatalogue(store, Duration.ofSeconds(1)).publish(new SnapshotManifest(SnapshotRef.parse(name), 0x1000100L,
                    List.of(new TimelineStep(root, Optional.empty(), 0, 1)), cluster, machine, objects, Optional.empty(),
                    Instant.now(), "test@here"), false);
        }
    }
}
