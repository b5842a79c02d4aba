package dev.zenith.server.replication;

import dev.zenith.pgexec.FileTrees;
import dev.zenith.protocol.auth.ScramVerifier;
import dev.zenith.protocol.server.ServerHandshake;
import dev.zenith.server.security.LoginThrottle;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.pageservice.PageService;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.wal.segment.WalGeometry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The transport of the WAL service: a Vert.x NetServer on the pg port whose connections each get a
 * {@link ReplicationConnection}. Deployed as a verticle so every connection's handlers run on an
 * event loop; store reads and file work go to a worker pool of its own.
 */
public final class WalService extends VerticleBase {
    private static final Logger LOG = Logger.getLogger(WalService.class.getName());
    /** What we announce as server_version: PostgreSQL 15 tools check the major version. */
    static final String SERVER_VERSION = "15.0 (zenith)";

    /** host/port to listen on; one replication user; scratchDir holds base backups while they stream. */
    /** @param authenticationTimeoutMs how long a client may take from connecting to logged in */
    public record Settings(String host, int port, String user, String password, Path scratchDir,
                           long authenticationTimeoutMs) {
    }

    private final Settings settings;
    private final StorageRegistry storages;
    private final ComputeTimelines computes;
    private final ZenithConfig.PageServiceSettings pageSettings;
    /** Normal (non-replication) connections are the page service's once authenticated. */
    private volatile PageService pages;
    private final ReplicationSlots slots = new ReplicationSlots();
    private final AtomicInteger nextProcessId = new AtomicInteger(10_000);
    private WorkerExecutor worker;
    private NetServer server;
    private long slotTimer = -1;
    /** How often slot positions that moved are written to their storage (PostgreSQL: at checkpoints). */
    private static final long SLOT_PERSIST_MS = 10_000;

    public WalService(Settings settings, StorageRegistry storages, ComputeTimelines computes,
                      ZenithConfig.PageServiceSettings pageSettings) {
        this.settings = settings;
        this.storages = storages;
        this.computes = computes;
        this.pageSettings = pageSettings;
    }

    @Override
    public Future<?> start() {
        worker = vertx.createSharedWorkerExecutor("zenith-walservice", 4, 6, TimeUnit.HOURS);
        return worker.executeBlocking(() -> {
            // Off the event loop: the page service's I/O threads open their selectors here.
            pages = new PageService(vertx, pageSettings, storages, computes::hasWriter, computes::pageSource);
            // Base backups a previous run left half-streamed.
            FileTrees.delete(settings.scratchDir());
            storages.list().forEach(s -> slots.load(s.store()));
            storages.onAttach(s -> slots.load(s.store()));
            storages.onDetach(s -> slots.forget(s.store()));
            return ScramVerifier.generate(settings.password());
        }, false).compose(verifier -> {
            TimelineSelector selector = new TimelineSelector(storages, computes);
            // a login waits at most half the time a client has to log in; beyond, it is refused
            LoginThrottle logins = new LoginThrottle(settings.authenticationTimeoutMs() / 2);
            SystemIdentifiers systemIdentifiers = new SystemIdentifiers();
            server = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true));
            server.connectHandler(socket -> {
                int pid = nextProcessId.incrementAndGet();
                ServerHandshake.Config hs = new ServerHandshake.Config(
                        user -> user.equals(settings.user()) ? Optional.of(verifier) : Optional.empty(),
                        ServerHandshake.defaultParameters(SERVER_VERSION), pid, (int) System.nanoTime());
                new ReplicationConnection(new ReplicationConnection.Services(vertx, worker, selector, slots,
                        computes.followedTimelines(), systemIdentifiers, settings.scratchDir(),
                        settings.authenticationTimeoutMs(), logins, pages), socket, hs).start();
            });
            slotTimer = vertx.setPeriodic(SLOT_PERSIST_MS, id -> worker.executeBlocking(() -> {
                slots.persistAdvanced();
                return null;
            }, true).onFailure(e -> LOG.warning("could not write replication slot positions: " + e.getMessage())));
            return server.listen(settings.port(), settings.host());
        }).onSuccess(s -> LOG.info("WAL service listening on " + settings.host() + ":" + s.actualPort()
                + " (replication user " + settings.user() + ")"));
    }

    @Override
    public Future<?> stop() {
        if (slotTimer >= 0) {
            vertx.cancelTimer(slotTimer);
        }
        Future<Void> closed = (server == null ? Future.<Void>succeededFuture() : server.close())
                .eventually(() -> pages == null ? Future.succeededFuture() : pages.close());
        return closed.eventually(() -> worker == null ? Future.succeededFuture() : worker.executeBlocking(() -> {
            slots.persistAdvanced(); // the stores close after us
            return null;
        }, true).eventually(() -> worker.close()));
    }

    /** The port actually bound (useful when configured as 0). */
    public int actualPort() {
        return server.actualPort();
    }

    static Map<String, String> showable() {
        return Map.of("wal_segment_size", (WalGeometry.WAL_SEGMENT_SIZE >> 20) + "MB", "data_directory_mode", "0700", "wal_block_size", String.valueOf(WalGeometry.XLOG_BLCKSZ),
                "block_size", String.valueOf(WalGeometry.BLCKSZ), "server_version", SERVER_VERSION, "server_version_num", "150000",
                "integer_datetimes", "on", "server_encoding", "UTF8", "max_wal_senders", "10",
                "wal_level", "replica");
    }
}
