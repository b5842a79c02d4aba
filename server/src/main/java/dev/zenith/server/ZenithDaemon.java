package dev.zenith.server;

import dev.zenith.pgexec.PgInstallation;
import dev.zenith.pgexec.PrivateFiles;
import dev.zenith.server.api.RequestGuard;
import dev.zenith.server.api.RestApi;
import dev.zenith.server.compute.ComputeManager;
import dev.zenith.server.export.SnapshotExporter;
import dev.zenith.server.importer.SnapshotImporter;
import dev.zenith.server.remote.Remotes;
import dev.zenith.server.jobs.Management;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.pageindex.PageIndexLoop;
import dev.zenith.server.security.Secrets;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.server.offload.Offloads;
import dev.zenith.pgexec.FileTrees;
import dev.zenith.objectstore.lease.LeaseSettings;
import dev.zenith.server.replication.WalService;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.FileHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * The zenith daemon: one Vert.x instance with the REST API, the compute manager and the WAL
 * receivers. One daemon per {@code ZENITH_HOME}, enforced with a file lock.
 */
public final class ZenithDaemon {
    private static final Logger LOG = Logger.getLogger(ZenithDaemon.class.getName());
    /** The log's line when this process has the home and begins to start, and when it answers. */
    public static final String LOG_STARTING = "zenith starting";
    public static final String LOG_LISTENING = "zenith listening:";
    /** Exit code when another daemon already runs on this home. */
    public static final int EXIT_ALREADY_RUNNING = 3;

    private final Vertx vertx;
    /** PostgreSQL's binaries: looked for at the start, in the background when main() could start it early. */
    private Supplier<PgInstallation> pgInstallation = PgInstallation::detect;
    /** As configured, then with the replication password generated at the first start if none was. */
    private ZenithConfig config;
    private String apiToken;
    private final Promise<Void> stopped = Promise.promise();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private FileLock lock;
    private boolean ownsVertx;
    private StorageRegistry storages;
    private ComputeManager computes;
    /** ZENITH_HOME as configured and as its real path: the homes a CLI may name (RestApi.HOME_HEADER). */
    private Set<Path> homes;
    private Management management;
    private SnapshotExporter exporter;
    private SnapshotImporter importer;
    private PageIndexLoop pageIndex;
    private Remotes remotes;
    private HttpServer http;
    private String walServiceDeployment;

    private ZenithDaemon(Vertx vertx, ZenithConfig config) {
        this.vertx = vertx;
        this.config = config;
    }

    public static void main(String[] args) throws Exception {
        boolean foreground = args.length > 0 && args[0].equals("--foreground");
        // its short processes run while this JVM readies Vert.x and reads the configuration
        Supplier<PgInstallation> pg = PgInstallation.detectAhead();
        Transport transport = transportFromProperty();
        Vertx vertx = Vertx.builder().with(BlockedThreads.options()).withTransport(transport).build();
        BlockedThreads.report((VertxInternal) vertx);
        ZenithConfig config;
        try {
            config = ZenithConfig.load(vertx).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("zenith: bad configuration: " + rootMessage(e));
            vertx.close();
            System.exit(2);
            return;
        }
        ZenithDaemon daemon = new ZenithDaemon(vertx, config);
        daemon.ownsVertx = true;
        daemon.pgInstallation = pg;
        int code = daemon.run(foreground);
        System.exit(code);
    }

    /** Starts everything, then blocks until the daemon is asked to stop. Returns the exit code. */
    int run(boolean foreground) throws Exception {
        PrivateFiles.directory(config.home());
        setUpLogging(foreground);
        if (!lock()) {
            System.err.println("zenith is already running for ZENITH_HOME=" + config.home());
            vertx.close();
            return EXIT_ALREADY_RUNNING;
        }
        LOG.info(LOG_STARTING + " (pid " + ProcessHandle.current().pid() + ")");
        try {
            checkPortsFree(config);
        } catch (IOException e) {
            LOG.severe(e.getMessage());
            System.err.println("zenith failed to start: " + e.getMessage());
            vertx.close();
            return 1;
        }
        try {
            start().toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
        } catch (Exception e) {
            LOG.log(Level.SEVERE, "zenith failed to start", e);
            System.err.println("zenith failed to start: " + rootMessage(e));
            shutdown().toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                shutdown().toCompletionStage().toCompletableFuture().get(2, TimeUnit.MINUTES);
            } catch (Exception e) {
                // the JVM is going away regardless
            } finally {
                DaemonLogManager.daemonStopped();
            }
        }, "zenith-shutdown"));
        stopped.future().toCompletionStage().toCompletableFuture().get();
        return 0;
    }

    /** Starts a daemon inside this JVM (tests); fails when another one holds the home. */
    public static Future<ZenithDaemon> launch(Vertx vertx, ZenithConfig config) {
        ZenithDaemon d = new ZenithDaemon(vertx, config);
        return vertx.executeBlocking(() -> {
            PrivateFiles.directory(config.home());
            if (!d.lock()) {
                throw new IllegalStateException("zenith is already running for ZENITH_HOME=" + config.home());
            }
            checkPortsFree(config);
            return d;
        }).compose(x -> d.start()).map(d);
    }

    public int httpPort() {
        return http.actualPort();
    }

    /** The computes and what hangs off them (redo, followers): for in-process tests. */
    public ComputeManager computes() {
        return computes;
    }

    /** The attached storages: for in-process tests. */
    public StorageRegistry storages() {
        return storages;
    }

    /**
     * Fails, naming the port and its setting, when the REST or PostgreSQL port is taken (by a daemon of
     * another home, or another program), before any compute is started only to be stopped again.
     */
    static void checkPortsFree(ZenithConfig config) throws IOException {
        checkPortFree(config.httpHost(), config.httpPort(), "REST API (http.port, ZENITH_HTTP_PORT)");
        checkPortFree(config.pgHost(), config.pgPort(), "PostgreSQL protocol (pg.port, ZENITH_PG_PORT)");
    }

    private static void checkPortFree(String host, int port, String what) throws IOException {
        if (port == 0) {
            return; // any free port
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // as the servers bind: a port in TIME_WAIT is free
            s.bind(new InetSocketAddress(host, port));
        } catch (IOException e) {
            throw new IOException("cannot listen on " + host + ":" + port + " for the " + what + ": " + e.getMessage()
                    + "; another program (or a zenith of another ZENITH_HOME) uses it", e);
        }
    }

    private boolean lock() throws IOException {
        RandomAccessFile lockFile = new RandomAccessFile(config.home().resolve("zenith.lock").toFile(), "rw");
        lock = lockFile.getChannel().tryLock();
        if (lock == null) {
            lockFile.close();
            return false;
        }
        return true;
    }

    private Future<Void> start() {
        management = new Management(vertx);
        return management.run(() -> {
            loadSecrets();
            PgInstallation pg = pgInstallation.get();
            FileTrees.delete(config.offloadScratchDir()); // copies of bases cut short by a crash
            storages = StorageRegistry.open(config.storagesFile(), config.defaultStoragePath(),
                    new Offloads(config.offloadScratchDir(), config.offload(), LeaseSettings.defaults()),
                    config.remoteCachesDir());
            // The home's own state (registry, log, lock) must not end up inside a storage, nor the
            // scratch directory, which each start empties, hold one.
            storages.reserve("ZENITH_HOME", config.home(), false);
            storages.reserve("the base backups' scratch directory", config.scratchDir(), true);
            computes = new ComputeManager(vertx, config, pg, storages, management);
            computes.recover();
            pageIndex = new PageIndexLoop(storages, config.pageIndex());
            pageIndex.start();
            exporter = new SnapshotExporter(config, storages, computes, pg);
            exporter.removeUnfinished();
            importer = new SnapshotImporter(config, storages, computes, management, pg);
            importer.removeUnfinished();
            remotes = Remotes.open(config.home(), config.scratchDir(), pg, computes, storages, management);
            remotes.warmUp();
            homes = new LinkedHashSet<>(List.of(config.home(), config.home().toRealPath()));
            return null;
        }).compose(v -> new RestApi(vertx, storages, computes, management, () -> shutdown(), homes,
                        new RequestGuard(apiToken, config.httpHost(), config.httpScheme()), exporter, importer, remotes)
                .listen(config.httpHost(), config.httpPort(), config.tlsCert(), config.tlsKey()))
                .compose(server -> {
                    http = server;
                    // The replication protocol (pg_receivewal, pg_basebackup, replicas) on the pg port.
                    return vertx.deployVerticle(new WalService(new WalService.Settings(config.pgHost(), config.pgPort(),
                            config.replicationUser(), config.replicationPassword(), config.scratchDir(),
                            config.authenticationTimeoutMs()),
                            storages, computes, config.pageService()));
                })
                .compose(id -> {
                    walServiceDeployment = id;
                    return vertx.executeBlocking(() -> {
                        writeDaemonFile();
                        return null;
                    });
                })
                .onSuccess(v -> LOG.info(LOG_LISTENING + " REST " + config.httpScheme() + "://" + config.httpHost() + ":" + config.httpPort()
                        + ", home " + config.home() + ", " + transportDescription() + ", " + memoryDescription()))
                .mapEmpty();
    }

    /**
     * The API token and, unless one is configured, the replication password: generated at the first
     * start into 0600 files of ZENITH_HOME, read from there afterwards.
     */
    private void loadSecrets() throws IOException {
        apiToken = Secrets.readOrCreate(config.apiTokenFile(), "REST API token");
        if (config.replicationPassword() == null) {
            config = config.withReplicationPassword(Secrets.readOrCreate(config.replicationPasswordFile(),
                    "replication password"));
        }
    }

    /**
     * Netty transport for every socket: epoll by default; -Dzenith.transport=io_uring or =nio (e.g. via
     * ZENITH_JVM_OPTS) for comparisons, or for kernels without epoll. Vert.x falls back to NIO when the
     * chosen native transport cannot load; {@link #transportDescription} says so in the log.
     */
    private static Transport transportFromProperty() {
        String name = System.getProperty("zenith.transport", "epoll");
        return switch (name) {
            case "epoll" -> Transport.EPOLL;
            case "io_uring" -> Transport.IO_URING;
            case "nio" -> Transport.NIO;
            default -> {
                System.err.println("zenith: -Dzenith.transport must be epoll, io_uring or nio, not " + name);
                System.exit(2);
                yield Transport.NIO;
            }
        };
    }

    /** The transport Vert.x really uses (a chosen native one it could not load falls back to NIO), and why. */
    private String transportDescription() {
        String used = ((VertxInternal) vertx).transport().getClass().getSimpleName();
        Throwable cause = vertx.unavailableNativeTransportCause();
        return "transport " + used + (cause == null ? "" : " (native transport unavailable: " + cause + ")");
    }

    /** The heap bound this JVM has, and whether it is the configured one (zenith start passes it; java -jar does not). */
    private String memoryDescription() {
        long maxMb = Runtime.getRuntime().maxMemory() >> 20;
        String configured = config.maxHeapMb() == 0 ? "the JVM's default" : config.maxHeapMb() + " MB";
        boolean asConfigured = config.maxHeapMb() == 0 || Math.abs(maxMb - config.maxHeapMb()) <= config.maxHeapMb() / 10;
        return "heap at most " + maxMb + " MB" + (asConfigured ? "" : " (daemon.max_heap_mb says " + configured
                + "; zenith start passes it to the JVM, a JVM started otherwise has its own)");
    }

    private void writeDaemonFile() throws IOException {
        JsonObject d = new JsonObject()
                .put("pid", ProcessHandle.current().pid())
                .put("http_host", config.httpHost())
                .put("http_port", http.actualPort())
                .put("http_scheme", config.httpScheme())
                .put("tls_cert", config.tlsCert() == null ? null : config.tlsCert().toString())
                .put("pg_port", config.pgPort())
                .put("home", config.home().toString())
                .put("log", config.logFile().toString());
        PrivateFiles.write(config.daemonFile(), d.encodePrettily());
        Files.writeString(config.pidFile(), Long.toString(ProcessHandle.current().pid()));
    }

    /**
     * Stops computes cleanly (their WAL still flowing into the store), then closes everything. Runs on a
     * plain thread of its own: each step waits for the previous one, with a bound, and none of it may
     * depend on an event loop that the last step closes.
     */
    public Future<Void> shutdown() {
        if (stopping.compareAndSet(false, true)) {
            Thread t = new Thread(this::shutdownNow, "zenith-shutdown");
            t.setDaemon(false);
            t.start();
        }
        return stopped.future();
    }

    private void shutdownNow() {
        LOG.info("zenith stopping");
        try {
            if (http != null) {
                awaitQuietly(http.close(), 10);
            }
            if (walServiceDeployment != null) {
                awaitQuietly(vertx.undeploy(walServiceDeployment), 10);
            }
            if (computes != null) {
                computes.stopAllBlocking();
                computes.close();
            }
            if (pageIndex != null) {
                pageIndex.close();
            }
            if (storages != null) {
                storages.close();
            }
            Files.deleteIfExists(config.daemonFile());
            Files.deleteIfExists(config.pidFile());
            if (lock != null) {
                lock.release();
                lock.channel().close();
            }
        } catch (Exception e) {
            LOG.log(Level.WARNING, "error while stopping", e);
        }
        if (ownsVertx) {
            awaitQuietly(vertx.close(), 30);
        }
        LOG.info("zenith stopped");
        stopped.tryComplete();
    }

    private static void awaitQuietly(Future<?> f, int seconds) {
        try {
            f.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(Level.FINE, "shutdown step did not finish cleanly", e);
        }
    }

    private void setUpLogging(boolean foreground) throws IOException {
        Logger root = Logger.getLogger("");
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        FileHandler file = new FileHandler(config.logFile().toString(), true);
        PrivateFiles.restrict(config.logFile()); // what pgs and storages there are is the owner's business
        file.setFormatter(new SimpleFormatter());
        if (!foreground) {
            for (var h : root.getHandlers()) {
                root.removeHandler(h);
            }
        }
        root.addHandler(file);
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }
}
