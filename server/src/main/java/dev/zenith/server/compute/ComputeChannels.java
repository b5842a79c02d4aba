package dev.zenith.server.compute;

import dev.zenith.server.anchor.AnchorRecorder;
import dev.zenith.server.config.ZenithConfig;
import dev.zenith.server.ingest.WalReceiver;
import dev.zenith.storage.Store;
import io.vertx.core.Vertx;

/** What a running compute has of ours: the WAL receiver of a primary, and the daemon's SQL connection to it. */
final class ComputeChannels {
    private final Vertx vertx;
    private final ZenithConfig config;
    private final AnchorRecorder anchors;

    ComputeChannels(Vertx vertx, ZenithConfig config, AnchorRecorder anchors) {
        this.vertx = vertx;
        this.config = config;
        this.anchors = anchors;
    }

    /** {@code password}: role postgres's, null for a storage made before computes had one (trust). */
    void startReceiver(Compute c, Store store, String password) {
        WalReceiver rx = new WalReceiver(vertx, store, c.record.timeline(), "127.0.0.1", c.record.port(), password,
                PostgresSettings.RECEIVER_NAME, ComputeManager.SLOT_NAME, config, () -> c.process.runningPid().isPresent());
        c.receiver = rx;
        rx.start();
        // an anchor at each of its checkpoints, once durable here (then background materialization)
        anchors.follow(store, c.record.timeline(), c.process.dataDir(), () -> c.receiver == rx);
    }

    /** The compute's SQL connection (SCRAM with its storage's password), made at the first question. */
    ComputeSql sqlOf(Compute c, Store store) {
        ComputeSql sql = c.sql;
        if (sql == null) {
            sql = new ComputeSql(vertx, c.name(), c.record.port(), ClusterPasswords.find(store).orElse(null));
            c.sql = sql;
        }
        return sql;
    }

    static void closeSql(Compute c) {
        ComputeSql sql = c.sql;
        c.sql = null;
        if (sql != null) {
            sql.close();
        }
    }
}
