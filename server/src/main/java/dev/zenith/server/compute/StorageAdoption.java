package dev.zenith.server.compute;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.history.SnapshotCatalog;
import dev.zenith.server.storages.StorageRegistry;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Storages and the pgs they carry: a storage's pgs join this daemon when it is taken in (at start, when
 * another process lets go of it, or attached), taking back computes still running; pgs another daemon's
 * records describe are adopted, stopped, with ports and directories of ours. Blocking; management lock.
 */
final class StorageAdoption {
    private static final Logger LOG = Logger.getLogger(StorageAdoption.class.getName());

    /** Starts the pgs {@code which} picks that should run but do not (a start may fork, see Branches). */
    interface Restarter {
        void restartWanted(Predicate<Compute> which);
    }

    private final StorageRegistry storages;
    private final SnapshotCatalog snapshots;
    private final PgRegistry registry;
    private final DestroyIntents destroys;
    private final ComputeChannels channels;

    StorageAdoption(StorageRegistry storages, SnapshotCatalog snapshots, PgRegistry registry, DestroyIntents destroys,
                    ComputeChannels channels) {
        this.storages = storages;
        this.snapshots = snapshots;
        this.registry = registry;
        this.destroys = destroys;
        this.channels = channels;
    }

    /**
     * Loads the pgs a storage holds and takes back the ones still running (blocking). A pg whose record
     * another daemon wrote (another storage name or directory than it would have here) joins stopped,
     * adopted as {@link #attach} does; one whose port went to another pg meanwhile gets a new one.
     * When a name is already a pg of another storage here, the storage is made unavailable instead,
     * nothing of it is loaded, and this returns false.
     */
    boolean takeIn(StorageRegistry.Storage s) throws IOException {
        destroys.finishCutShort(s);
        List<PgRecord> found = PgRegistry.storedPgs(s.store());
        List<String> taken = registry.namesTakenHere(found);
        if (!taken.isEmpty()) {
            String error = "it holds pg(s) " + taken + " and this daemon has pgs of those names in other storages;"
                    + " destroy or rename those, then detach and attach this storage again";
            LOG.severe("storage '" + s.name() + "' is not used: " + error);
            snapshots.forget(s.name());
            storages.setUnavailable(s.name(), error);
            return false;
        }
        Path computesDir = registry.computesDir();
        List<PgRecord> foreign = new ArrayList<>();
        List<Compute> portTaken = new ArrayList<>();
        for (PgRecord r : found) {
            if (!r.storageName().equals(s.name()) || !r.pgdata().equals(computesDir.resolve(r.name()))) {
                foreign.add(r); // after ours, so that no port they keep is handed out again
                continue;
            }
            boolean portFree = !registry.portTaken(r.port());
            Compute c = registry.loaded(s.store(), r);
            registry.add(c);
            if (r.wantRunning() && c.process.runningPid().isPresent()) {
                LOG.info("pg " + r.name() + " is still running: taking it back");
                registry.nowRunning(c); // the pass file names it first: it is shown running at once
                SpreadFirstCheckpoint.restoreAfterIt(c.process); // a first checkpoint pending when the daemon died
                if (c.isPrimary()) {
                    channels.startReceiver(c, s.store(), ClusterPasswords.find(s.store()).orElse(null));
                }
            } else if (!portFree) {
                portTaken.add(c); // given while this storage was unavailable: it gets another
            }
        }
        for (Compute c : portTaken) {
            PgRegistry.save(s.store(), c, c.record.withPort(registry.allocatePort()));
            LOG.info("pg " + c.name() + " moves to port " + c.record.port() + " (its port went to another pg)");
        }
        for (PgRecord r : foreign) {
            adopt(s, r);
        }
        registry.rememberPgs(s.name());
        return true;
    }

    /** A pg another daemon's record describes joins this one stopped, with a port and directory of ours (blocking). */
    private void adopt(StorageRegistry.Storage s, PgRecord r) throws IOException {
        Path computesDir = registry.computesDir();
        Path pgdata = computesDir.resolve(r.name());
        try {
            registry.deleteComputeDirectory(r.name(), pgdata); // a leftover of an earlier pg of that name here: never trusted
        } catch (ConflictException e) {
            LOG.severe(e.getMessage()); // kept; the pg's start and destroy refuse while it is so
        }
        PgRecord adopted = r.adoptedAs(s.name(), registry.allocatePort(), pgdata, computesDir.resolve(r.name() + ".log"));
        Compute c = registry.loaded(s.store(), adopted);
        PgRegistry.save(s.store(), c, adopted);
        registry.add(c);
        LOG.info("pg " + adopted.name() + " adopted with storage " + s.name() + " (stopped; port " + adopted.port() + ")");
    }

    /**
     * Storages another daemon process held when this one started become usable as soon as it lets go (and
     * s3 storages without a local cache as soon as their S3 answers),
     * with their pgs and snapshots, and the pgs that ran here before start again (management lock).
     */
    void takeReleasedStorages(Restarter restarter, StorageRegistry.Outside outside) {
        for (StorageRegistry.Storage s : storages.openReleased(outside)) {
            LOG.info("storage '" + s.name() + "' is in use here now (the process that held it let go, or its S3 answered)");
            try {
                if (!takeIn(s)) {
                    continue; // its pg names are taken here: it is unavailable again
                }
                snapshots.load(s);
                storages.announceAttached(s);
                restarter.restartWanted(c -> c.record.storageName().equals(s.name()));
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.SEVERE, "storage '" + s.name() + "' is attached, but taking in its pgs failed", e);
            }
        }
    }

    /**
     * Attaches a storage (blocking). One that was attached elsewhere may hold pgs: they join this daemon
     * stopped, with ports and data directories of their own here, rebuilt from the store at their first
     * start. When one of their names is taken here the storage is detached again and nothing changes.
     */
    StorageRegistry.Storage attach(String name, String type, String path, Duration pitr, String endpoint, String region,
                                   Long cacheBytes, StorageRegistry.Outside outside) throws IOException {
        StorageRegistry.Storage s = storages.attach(name, type, path, pitr, endpoint, region, cacheBytes, outside);
        List<PgRecord> found;
        try {
            destroys.finishCutShort(s);
            found = PgRegistry.storedPgs(s.store());
            List<String> taken = registry.namesTakenHere(found);
            if (!taken.isEmpty()) {
                throw new ConflictException("storage at " + s.path() + " holds pg(s) " + taken
                        + " and this daemon has pgs of those names; destroy or rename ours first");
            }
        } catch (RuntimeException e) {
            storages.detach(name);
            throw e;
        }
        for (PgRecord r : found) {
            adopt(s, r);
        }
        registry.rememberPgs(s.name());
        snapshots.load(s);
        storages.announceAttached(s);
        return s;
    }

    /** Detaches a storage no pg uses (blocking). */
    void detach(String name) throws IOException {
        registry.checkStorageUnused(name);
        snapshots.forget(name);
        storages.detach(name);
    }
}
