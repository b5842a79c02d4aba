package dev.zenith.server.replication;

import dev.zenith.protocol.auth.AuthenticationException;
import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.replication.ReplicationCommand.*;
import dev.zenith.protocol.server.ReplicationResponses;
import dev.zenith.protocol.server.ServerEvent;
import dev.zenith.protocol.server.ServerHandshake;
import dev.zenith.protocol.server.SessionEvent;
import dev.zenith.protocol.server.WalSenderSession;
import dev.zenith.protocol.wire.BackendEncoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.server.security.LoginThrottle;
import dev.zenith.server.pageservice.PageService;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.segment.WalSegments;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client connection: glues the protocol state machines ({@link ServerHandshake}, then
 * {@link WalSenderSession}) to the store. Runs on its event loop; anything that reads the store or
 * files goes to the worker pool, and the next command waits until the current one is answered.
 *
 * <p>Over 400 lines on purpose: it is one connection's state machine (handshake, timeline selection,
 * commands, streaming, hand-over to the page service) over one socket, and its phases share that state;
 * what a command does lives beside it ({@link SlotCommands}, {@link BaseBackupStream}, {@link WalStreamer}).
 */
final class ReplicationConnection {
    private static final Logger LOG = Logger.getLogger(ReplicationConnection.class.getName());

    /** What every connection shares. */
    record Services(Vertx vertx, WorkerExecutor worker, TimelineSelector selector, ReplicationSlots slots,
                    FollowedTimelines followed, SystemIdentifiers systemIdentifiers, Path scratchDir,
                    long authenticationTimeoutMs, LoginThrottle logins, PageService pages) {
        <T> Future<T> blocking(Callable<T> work) {
            return worker.executeBlocking(work, false);
        }
    }

    private enum Phase { HANDSHAKE, SELECTING_TIMELINE, COMMANDS, ANSWERING, HANDED_OVER, CLOSED }

    private final Services services;
    private final NetSocket socket;
    private final ServerHandshake handshake;
    private Phase phase = Phase.HANDSHAKE;
    private WalSenderSession session;
    private TimelineSelector.Target target;
    private WalStreamer streamer;
    /** The PostgreSQL timeline {@link #streamer} sends. */
    private int streamingTimeline;
    private String streamingSlot;
    /** The timeline that slot is on (the target may move on while it streams: a pg followed by name). */
    private TimelineId streamingSlotTimeline;
    private io.vertx.core.eventbus.MessageConsumer<String> pgMoves;
    private final List<Runnable> onClose = new java.util.ArrayList<>();
    private long authenticationTimer = -1;
    /** The startup packet's {@code options}: which timeline the client wants. */
    private String options;
    /** The process id this connection announced (BackendKeyData): PostgreSQL names a slot's user by it. */
    private final int pid;
    private io.vertx.core.Context context;
    private final SlotCommands slotCommands;

    ReplicationConnection(Services services, NetSocket socket, ServerHandshake.Config config) {
        this.services = services;
        this.socket = socket;
        this.handshake = new ServerHandshake(config);
        this.pid = config.processId();
        this.slotCommands = new SlotCommands(this, services, pid);
    }

    /** On the connection's event loop. */
    void start() {
        context = services.vertx().getOrCreateContext();
        // Room for one read of WAL in flight while the previous one drains (see WalStreamer).
        socket.setWriteQueueMaxSize(4 << 20);
        socket.handler(this::received);
        socket.closeHandler(v -> closed());
        socket.exceptionHandler(e -> LOG.log(Level.FINE, "replication connection error", e));
        // Like PostgreSQL's authentication_timeout: a client that stalls before logging in (a half-sent
        // start-up packet, a SCRAM exchange left hanging) does not hold its connection forever. As there,
        // it is closed without a message: the client may be anywhere in the protocol.
        authenticationTimer = services.vertx().setTimer(services.authenticationTimeoutMs(), id -> {
            authenticationTimer = -1;
            if (phase == Phase.HANDSHAKE || phase == Phase.SELECTING_TIMELINE) {
                LOG.info("replication connection from " + socket.remoteAddress() + " did not log in within "
                        + services.authenticationTimeoutMs() + " ms; closing it");
                close();
            }
        });
    }

    private void cancelAuthenticationTimer() {
        if (authenticationTimer >= 0) {
            services.vertx().cancelTimer(authenticationTimer);
            authenticationTimer = -1;
        }
    }

    // ---- transport ----

    private void received(Buffer data) {
        byte[] bytes = data.getBytes();
        switch (phase) {
            case HANDSHAKE -> {
                handshake.feed(bytes);
                driveHandshake();
            }
            case COMMANDS, ANSWERING -> {
                // While ANSWERING the session keeps later messages in its decoder.
                session.feed(bytes);
                if (phase == Phase.COMMANDS) {
                    driveSession();
                }
            }
            default -> {
                // SELECTING_TIMELINE pauses the socket; CLOSED ignores stragglers.
            }
        }
    }

    /** Writes what the session queued; the session's bytes always go out in order with ours. */
    void flush() {
        if (session != null) {
            write(session.drainOutbound());
        }
    }

    void write(byte[] bytes) {
        if (bytes.length > 0 && phase != Phase.CLOSED) {
            socket.write(WireFrames.wrap(bytes, 0, bytes.length));
        }
    }

    /** Bulk frames (see {@link WireFrames}), after anything the session queued before them. */
    void write(Buffer... frames) {
        flush();
        if (phase != Phase.CLOSED) {
            for (Buffer b : frames) {
                socket.write(b);
            }
        }
    }

    void write(BackendMessage... messages) {
        write(BackendEncoder.encode(messages));
    }

    boolean isClosed() {
        return phase == Phase.CLOSED;
    }

    NetSocket socket() {
        return socket;
    }

    /** The timeline this connection serves (set once logged in). */
    TimelineSelector.Target target() {
        return target;
    }

    /** Runs {@code action} on the connection's event loop. */
    void runOnContext(Runnable action) {
        context.runOnContext(v -> action.run());
    }

    WalSenderSession session() {
        return session;
    }

    /**
     * A WARNING notice: what a client prints even in the middle of a COPY, where PostgreSQL's tools take an
     * error for the end of the stream and say only that it ended early.
     */
    void warning(String message) {
        write(new BackendMessage.NoticeResponse(ErrorFields.of("WARNING", "01000", message)));
    }

    /** A FATAL error ends the connection (after the message is sent). */
    void fatal(String sqlState, String message) {
        write(new BackendMessage.ErrorResponse(ErrorFields.of("FATAL", sqlState, message)));
        close();
    }

    void close() {
        if (phase != Phase.CLOSED) {
            phase = Phase.CLOSED;
            socket.close();
        }
        stopStreaming();
    }

    private void closed() {
        phase = Phase.CLOSED;
        if (pgMoves != null) {
            pgMoves.unregister();
            pgMoves = null;
        }
        cancelAuthenticationTimer();
        stopStreaming();
        services.slots().releaseAll(this);
        services.followed().release(this);
        onClose.forEach(Runnable::run);
        onClose.clear();
    }

    /** Runs when the connection is gone (a base backup's scratch directory must not outlive it). */
    void onClose(Runnable cleanup) {
        onClose.add(cleanup);
    }

    private void stopStreaming() {
        if (streamer != null) {
            streamer.stop();
            streamer = null;
        }
    }

    // ---- start-up ----

    private void driveHandshake() {
        for (ServerEvent e = handshake.poll(); e != null; e = handshake.poll()) {
            if (e instanceof ServerEvent.StartupReceived s) {
                if (s.mode() == ServerHandshake.ReplicationMode.LOGICAL) {
                    fatal("0A000", "zenith does not support logical replication (replication=database); use replication=true");
                    return;
                }
                options = s.startup().parameters().get("options");
            } else if (e instanceof ServerEvent.Failed f && isLoginFailure(f)) {
                answerLogin(false, () -> {
                    write(handshake.drainOutbound());
                    close();
                });
                return;
            } else if (e instanceof ServerEvent.Failed || e instanceof ServerEvent.CancelRequested) {
                // Nothing to cancel: each connection answers one command at a time.
                write(handshake.drainOutbound());
                close();
                return;
            } else if (e instanceof ServerEvent.Ready r) {
                if (r.mode() == ServerHandshake.ReplicationMode.NONE) {
                    // A normal connection is the page service's once logged in: its stream names its timeline.
                    answerLogin(true, () -> {
                        cancelAuthenticationTimer();
                        write(handshake.drainOutbound());
                        phase = Phase.HANDED_OVER;
                        services.pages().serve(socket, handshake.decoder());
                    });
                    return;
                }
                answerLogin(true, () -> selectTimeline(() -> {
                    cancelAuthenticationTimer();
                    write(handshake.drainOutbound());
                    session = new WalSenderSession(handshake.decoder());
                    phase = Phase.COMMANDS;
                    driveSession();
                }));
                return;
            }
        }
        write(handshake.drainOutbound());
    }

    private static boolean isLoginFailure(ServerEvent.Failed f) {
        return AuthenticationException.INVALID_PASSWORD.equals(f.error().code()) || "28000".equals(f.error().code());
    }

    /**
     * Sends a login's answer (right or wrong password) when the throttle allows: at once, unless this
     * address failed recently (see {@link LoginThrottle}); refused without an answer about the password
     * when its turn is too far away.
     */
    private void answerLogin(boolean succeeded, Runnable answer) {
        String source = socket.remoteAddress().hostAddress();
        long now = System.currentTimeMillis();
        long at = services.logins().answerAt(source, now);
        if (at == LoginThrottle.REFUSED) {
            handshake.drainOutbound();
            LOG.warning("replication login from " + source + " refused: too many failed logins from there");
            fatal("53300", "too many failed logins from " + source + "; try again later");
            return;
        }
        if (!succeeded) {
            services.logins().failed(source, at);
            LOG.info("replication login from " + source + " failed (wrong password or user)");
        }
        if (at <= now) {
            answer.run();
            return;
        }
        socket.pause(); // resumed once logged in (selectTimeline), or closed
        services.vertx().setTimer(at - now, id -> {
            if (phase != Phase.CLOSED) {
                answer.run();
            }
        });
    }

    /**
     * The timeline the startup packet's options name, resolved once the client has logged in (as
     * PostgreSQL checks the database): which pgs and timelines exist is no business of anyone without
     * the password. Then {@code loggedIn} sends the rest of the handshake; an unknown one is a FATAL error.
     */
    private void selectTimeline(Runnable loggedIn) {
        phase = Phase.SELECTING_TIMELINE;
        socket.pause();
        services.blocking(() -> services.selector().select(options)).onComplete(ar -> {
            if (phase == Phase.CLOSED) {
                return;
            }
            if (ar.failed()) {
                handshake.drainOutbound();
                Throwable c = ar.cause();
                fatal("3D000", c instanceof TimelineSelector.UnknownTimelineException ? c.getMessage()
                        : "cannot select a timeline: " + c);
                return;
            }
            target = ar.result();
            services.followed().follow(this, target.store(), target.timeline().id());
            if (target.pgName() != null) {
                pgMoves = services.vertx().eventBus().consumer(ComputeTimelines.PG_MOVED_ADDRESS, m -> {
                    if (target.pgName().equals(m.body())) {
                        followMovedPg();
                    }
                });
            }
            phase = Phase.HANDSHAKE;
            socket.resume();
            loggedIn.run();
        });
    }

    /**
     * The pg this connection follows by name moved to another history: later commands are about that
     * one, and a stream of a timeline the new history left ends at the switch (the client then asks for
     * the next timeline, as after a promotion); one the new history does not contain ends the connection.
     */
    private void followMovedPg() {
        String pg = target.pgName();
        int streamed = streamingTimeline;
        services.blocking(() -> {
            TimelineSelector.Target moved = services.selector().ofPg(pg);
            return new Object[] {moved, PgTimelineHistory.switchFrom(moved.store(), moved.timeline(), streamed)};
        }).onComplete(ar -> {
            if (phase == Phase.CLOSED) {
                return;
            }
            if (ar.failed()) {
                fatal("3D000", "pg \"" + pg + "\" is gone: " + ar.cause().getMessage());
                return;
            }
            TimelineSelector.Target moved = (TimelineSelector.Target) ar.result()[0];
            @SuppressWarnings("unchecked")
            Optional<PgTimelineHistory.Switch> leaving = (Optional<PgTimelineHistory.Switch>) ar.result()[1];
            target = moved;
            services.followed().follow(this, moved.store(), moved.timeline().id());
            if (streamer == null) {
                return;
            }
            if (streamingTimeline != streamed) {
                followMovedPg(); // a stream began meanwhile: its own timeline's switch
                return;
            }
            if (leaving.isPresent()) {
                streamer.moved(moved.timeline().id(), leaving.get());
            } else {
                fatal("3D000", "pg \"" + pg + "\" moved to another history (pg checkout), which does not contain timeline "
                        + Integer.toUnsignedString(streamingTimeline) + "; take a new base backup of it");
            }
        });
    }

    // ---- commands ----

    void driveSession() {
        flush();
        while (phase == Phase.COMMANDS) {
            SessionEvent e = session.poll();
            if (e == null) {
                break;
            }
            if (e instanceof SessionEvent.CommandReceived c) {
                phase = Phase.ANSWERING;
                answer(c.command(), c.text());
            } else if (e instanceof SessionEvent.StandbyStatus s) {
                if (streamingSlot != null) {
                    services.slots().advance(streamingSlotTimeline, streamingSlot, s.update().flush());
                }
            } else if (e instanceof SessionEvent.StreamingEnded) {
                stopStreaming();
                if (streamingSlot != null) {
                    services.slots().release(streamingSlotTimeline, streamingSlot, this);
                }
                streamingSlot = null;
            } else if (e instanceof SessionEvent.Terminated || e instanceof SessionEvent.Failed) {
                flush();
                close();
                return;
            }
            // CommandRejected was answered by the session; Feedback (hot standby xmin) needs nothing from us.
        }
        flush();
    }

    /** The current command is answered (the session queued its reply): go on with the next one. */
    void answered() {
        if (phase == Phase.ANSWERING) {
            phase = Phase.COMMANDS;
            driveSession();
        }
    }

    void reply(List<BackendMessage> messages) {
        if (phase == Phase.CLOSED) {
            return;
        }
        session.reply(messages);
        answered();
    }

    void error(String sqlState, String message) {
        error(sqlState, message, null);
    }

    void error(String sqlState, String message, String detail) {
        ErrorFields f = ErrorFields.of("ERROR", sqlState, message);
        error(detail == null ? f : f.with(ErrorFields.DETAIL, detail));
    }

    void error(ErrorFields fields) {
        if (phase == Phase.CLOSED) {
            return;
        }
        session.error(fields);
        answered();
    }

    /** A blocking step that answers the command; an unexpected failure becomes an ERROR, not a hang. */
    <T> void answerWith(Callable<T> work, java.util.function.Consumer<T> then) {
        services.blocking(work).onComplete(ar -> {
            if (phase == Phase.CLOSED) {
                return;
            }
            if (ar.failed()) {
                LOG.log(Level.WARNING, "replication command failed", ar.cause());
                error("XX000", String.valueOf(ar.cause().getMessage()));
                return;
            }
            then.accept(ar.result());
        });
    }

    private Store store() {
        return target.store();
    }

    private TimelineId tl() {
        return target.timeline().id();
    }

    private int pgTimeline() {
        return target.timeline().pgTimeline();
    }

    private void answer(ReplicationCommand command, String text) {
        if (command instanceof IdentifySystem) {
            answerWith(() -> new Object[] {services.systemIdentifiers().of(store(), tl()), store().wal().end(tl()).orElseThrow()},
                    r -> reply(ReplicationResponses.identifySystem((String) r[0], pgTimeline(), (Lsn) r[1], null)));
        } else if (command instanceof Show show) {
            String value = WalService.showable().get(show.name());
            if (value == null) {
                error("42704", "unrecognized configuration parameter \"" + show.name() + "\"");
            } else {
                reply(ReplicationResponses.show(show.name(), value));
            }
        } else if (command instanceof TimelineHistory h) {
            answerWith(() -> PgTimelineHistory.historyFile(store(), target.timeline(), h.timeline()),
                    history -> {
                        if (history.isPresent()) {
                            reply(ReplicationResponses.timelineHistory(h.timeline(), history.get()));
                        } else {
                            error("58P01", String.format("could not open file \"pg_wal/%08X.history\": No such file or directory",
                                    h.timeline()));
                        }
                    });
        } else if (command instanceof ReadReplicationSlot r) {
            slotCommands.read(r);
        } else if (command instanceof CreateReplicationSlot c) {
            slotCommands.create(c);
        } else if (command instanceof DropReplicationSlot d) {
            slotCommands.drop(d);
        } else if (command instanceof StartReplication s) {
            startReplication(s);
        } else if (command instanceof BaseBackup b) {
            new BaseBackupStream(this, services, target, b.options()).run();
        } else {
            error("0A000", "cannot execute SQL commands in WAL sender for physical replication");
        }
    }

    private void startReplication(StartReplication s) {
        if (s.logical()) {
            error("0A000", "zenith does not support logical replication");
            return;
        }
        if (s.slotName() != null && services.slots().find(tl(), s.slotName()).isEmpty()) {
            error("42704", "replication slot \"" + s.slotName() + "\" does not exist");
            return;
        }

        int requested = s.timeline() == null ? pgTimeline() : s.timeline();
        answerWith(() -> new Object[] {oldestReadable(store(), target.timeline()), store().wal().end(tl()).orElseThrow(),
                PgTimelineHistory.switchFrom(store(), target.timeline(), requested)}, r -> {
            Lsn oldest = (Lsn) r[0];
            Lsn end = (Lsn) r[1];
            @SuppressWarnings("unchecked")
            Optional<PgTimelineHistory.Switch> historic = (Optional<PgTimelineHistory.Switch>) r[2];
            Lsn start = s.startLsn();
            if (requested != pgTimeline() && historic.isEmpty()) {
                error("22023", "requested timeline " + Integer.toUnsignedString(requested)
                        + " is not in this server's history");
                return;
            }
            if (historic.isPresent() && start.isAfter(historic.get().at())) {
                error("22023", "requested starting point " + start + " on timeline " + requested
                        + " is not in this server's history",
                        "This server's history forked from timeline " + requested + " at " + historic.get().at() + ".");
                return;
            }
            if (start.isAfter(end)) {
                error("55000", "requested starting point " + start + " is ahead of the WAL flush position of this server " + end);
                return;
            }
            if (start.isBefore(oldest)) {
                error("58P01", "requested WAL segment " + WalSegments.fileName(pgTimeline(), start)
                        + " has already been removed");
                return;
            }
            if (s.slotName() != null) { // last: a refusal above leaves the slot to others
                Optional<Integer> user = services.slots().acquire(tl(), s.slotName(), this, pid);
                if (user.isPresent()) {
                    error("55006", "replication slot \"" + s.slotName() + "\" is active for PID " + user.get());
                    return;
                }
            }
            session.startStreaming();
            phase = Phase.COMMANDS;
            streamingSlot = s.slotName();
            streamingSlotTimeline = tl();
            streamingTimeline = requested;
            // On an earlier PostgreSQL timeline, the stream ends at its switch point (end of timeline).
            streamer = new WalStreamer(this, services, store(), tl(), start, end, historic.orElse(null));
            flush();
            streamer.start();
            driveSession();
        });
    }

    /** The first LSN readable on a timeline: a branch reads its parent's WAL below the branch point. */
    static Lsn oldestReadable(Store store, Timeline timeline) {
        Timeline t = timeline;
        while (!t.isRoot()) {
            Timeline parent = store.timelines().get(t.parentId().orElseThrow()).orElseThrow();
            t = parent;
        }
        return store.wal().start(t.id()).orElse(Lsn.INVALID);
    }
}
