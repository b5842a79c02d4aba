package dev.zenith.server.compute;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A pg destroy writes its intent first (the pg's record under {@code destroying/NAME}), so one cut short
 * (the daemon killed) is finished at the next start instead of leaving a directory, a log or a running
 * postmaster behind. Blocking.
 */
final class DestroyIntents {
    private static final Logger LOG = Logger.getLogger(DestroyIntents.class.getName());
    /** Where a destroy under way keeps the pg's record until everything of it is gone. */
    private static final String DESTROYING = "destroying/";

    private final PgInstallation pg;
    private final PgRegistry registry;

    DestroyIntents(PgInstallation pg, PgRegistry registry) {
        this.pg = pg;
        this.registry = registry;
    }

    void intend(Store store, PgRecord r) {
        store.documents().put(DESTROYING + r.name(), r.toJson().encode().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The end of a destroy, once the pg's record is gone: its journal's WAL into LMDB, its directory and
     * log deleted when they are this daemon's (computesDir/NAME: ones we created), then the intent.
     */
    void finish(Store store, PgRecord r) throws IOException {
        if (!registry.timelineStreams(r)) {
            // Its journal's WAL into LMDB, and its file (16 MiB) and descriptor let go of.
            store.journals().replay(r.timeline());
        }
        if (r.pgdata().equals(registry.computesDir().resolve(r.name()))) {
            registry.deleteComputeDirectory(r.name(), r.pgdata());
            Files.deleteIfExists(r.logfile());
        }
        store.documents().delete(DESTROYING + r.name());
    }

    /** At start: the destroys a storage says were cut short are finished first (blocking). */
    void finishCutShort(StorageRegistry.Storage s) throws IOException {
        for (byte[] doc : s.store().documents().list(DESTROYING).values()) {
            PgRecord r = PgRecord.fromJson(new JsonObject(new String(doc, StandardCharsets.UTF_8)));
            LOG.warning("pg " + r.name() + " was being destroyed when the daemon stopped; finishing that");
            try {
                Optional<PgRecord> now = s.store().documents().get(PgRecord.key(r.name()))
                        .map(b -> PgRecord.fromJson(new JsonObject(new String(b, StandardCharsets.UTF_8))));
                if (now.isPresent() && !now.get().createdAt().equals(r.createdAt())) {
                    s.store().documents().delete(DESTROYING + r.name()); // a new pg of that name since: not this one's
                    continue;
                }
                if (r.pgdata().equals(registry.computesDir().resolve(r.name()))) {
                    new PostgresProcess(pg, r.pgdata(), r.logfile()).stop(); // it may still run
                }
                s.store().documents().delete(PgRecord.key(r.name()));
                finish(s.store(), r);
            } catch (IOException | RuntimeException e) { // the intent stays: tried again at the next start
                LOG.log(Level.SEVERE, "could not finish destroying pg " + r.name(), e);
            }
        }
    }
}
