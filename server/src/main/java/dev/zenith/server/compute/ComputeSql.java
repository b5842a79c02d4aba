package dev.zenith.server.compute;

import dev.zenith.wal.Lsn;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * The daemon's SQL connection to one running compute, through the Vert.x Pg Client (non-blocking; SCRAM
 * with the storage's password for role postgres, or none for a storage made before computes had one):
 * every question the daemon asks a compute goes here, none through a psql process. One pooled
 * connection per compute, made at the first question and let go after a while unused, so a compute
 * the daemon asks nothing keeps no backend for it; closed when the compute stops.
 */
final class ComputeSql {
    private static final int IDLE_SECONDS = 30;
    private final Pool pool;

    ComputeSql(Vertx vertx, String pgName, int port, String password) {
        PgConnectOptions connect = new PgConnectOptions().setHost("127.0.0.1").setPort(port).setUser("postgres")
                .setDatabase("postgres").addProperty("application_name", "zenith");
        if (password != null) {
            connect.setPassword(password);
        }
        this.pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(1).setName("zenith-sql-" + pgName)
                .setIdleTimeout(IDLE_SECONDS).setIdleTimeoutUnit(TimeUnit.SECONDS))
                .connectingTo(connect).using(vertx).build();
    }

    /** The first column of the first row {@code sql} returns, as text (null for SQL NULL or no row). */
    Future<String> queryValue(String sql) {
        return pool.query(sql).execute().map(rows -> {
            var it = rows.iterator();
            if (!it.hasNext()) {
                return null;
            }
            Row row = it.next();
            Object v = row.getValue(0);
            return v == null ? null : v.toString();
        });
    }

    /** {@link #queryValue} for a worker thread (blocking, at most {@code seconds}); a failure is an IOException. */
    String queryValueBlocking(String sql, int seconds) throws IOException {
        try {
            return queryValue(sql).toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IOException("query failed: " + sql + ": " + cause.getMessage(), cause);
        }
    }

    /**
     * Asks the compute for a checkpoint and waits for it (CHECKPOINT returns once it is complete and pg_control
     * names it); returns where the checkpoint pg_control then names starts: this one, or one made since. Blocking, at
     * most {@code seconds} for each of the two statements.
     */
    Lsn checkpoint(int seconds) throws IOException {
        queryValueBlocking("CHECKPOINT", seconds);
        return Lsn.parse(queryValueBlocking("SELECT checkpoint_lsn::text FROM pg_control_checkpoint()", seconds));
    }

    Future<Void> close() {
        return pool.close();
    }
}
