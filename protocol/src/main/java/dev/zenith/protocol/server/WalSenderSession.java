package dev.zenith.protocol.server;

import dev.zenith.protocol.replication.PgTime;
import dev.zenith.protocol.replication.ReplicationCodec;
import dev.zenith.protocol.replication.ReplicationCommandException;
import dev.zenith.protocol.replication.ReplicationCommandParser;
import dev.zenith.protocol.replication.ReplicationMessage;
import dev.zenith.protocol.server.SessionEvent.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.ErrorResponse;
import dev.zenith.protocol.wire.BackendMessage.ReadyForQuery;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The command phase of a walsender-mode connection, with no I/O and no storage: each Query is
 * parsed into a {@link dev.zenith.protocol.replication.ReplicationCommand} for the caller to answer;
 * {@link #startStreaming()} enters CopyBoth, where the caller sends WAL and keepalives and the
 * client's status updates and feedback come back as events. Both ways of ending a stream are
 * handled as PostgreSQL 15 does (client CopyDone; or {@link #endOfTimeline} then the client's CopyDone).
 */
public final class WalSenderSession extends Conversation<SessionEvent> {
    public enum State { IDLE, COMMAND, STREAMING, ENDING_TIMELINE, CLOSED, FAILED }

    private final FrontendDecoder decoder;
    private State state = State.IDLE;
    private int nextTimeline;
    private Lsn nextTimelineStart;

    /** Continues from a finished {@link ServerHandshake}'s decoder (it may hold pipelined bytes). */
    public WalSenderSession(FrontendDecoder decoder) {
        this.decoder = decoder;
        process();
    }

    public State state() {
        return state;
    }

    @Override
    protected void input(ByteBuffer bytes) {
        decoder.feed(bytes);
    }

    /** Answers the current command with {@code messages} (see {@link ReplicationResponses}) and ReadyForQuery. */
    public void reply(List<BackendMessage> messages) {
        require(State.COMMAND, "reply");
        messages.forEach(this::send);
        ready();
    }

    /** Fails the current command with an ERROR; the session stays usable. */
    public void error(ErrorFields fields) {
        require(State.COMMAND, "error");
        send(new ErrorResponse(fields));
        ready();
    }

    /** Accepts START_REPLICATION: CopyBothResponse, then WAL may be sent. */
    public void startStreaming() {
        require(State.COMMAND, "startStreaming");
        send(ReplicationResponses.startStreaming());
        state = State.STREAMING;
    }

    /** One XLogData message. */
    public void sendWal(Lsn start, Lsn walEnd, ByteBuffer data) {
        require(State.STREAMING, "sendWal");
        sendCopy(new ReplicationMessage.XLogData(start, walEnd, PgTime.now(), data));
    }

    /** A PrimaryKeepalive; {@code replyRequested} asks the client for an immediate status update. */
    public void keepalive(Lsn walEnd, boolean replyRequested) {
        require(State.STREAMING, "keepalive");
        sendCopy(new ReplicationMessage.PrimaryKeepalive(walEnd, PgTime.now(), replyRequested));
    }

    /** The streamed timeline ended at {@code nextTimelineStart}: CopyDone now, the result after the client's CopyDone. */
    public void endOfTimeline(int nextTimeline, Lsn nextTimelineStart) {
        require(State.STREAMING, "endOfTimeline");
        this.nextTimeline = nextTimeline;
        this.nextTimelineStart = nextTimelineStart;
        send(new BackendMessage.CopyDone());
        state = State.ENDING_TIMELINE;
    }

    private void sendCopy(ReplicationMessage m) {
        send(new BackendMessage.CopyData(ReplicationCodec.encode(m)));
    }

    private void send(BackendMessage m) {
        BackendEncoder.encode(m, outbound);
    }

    private void ready() {
        send(new ReadyForQuery('I'));
        state = State.IDLE;
        process();
    }

    private void require(State s, String op) {
        if (state != s) {
            throw new IllegalStateException(op + " is not allowed in state " + state);
        }
    }

    private void fail(String sqlState, String message) {
        ErrorFields f = ErrorFields.of("FATAL", sqlState, message);
        send(new ErrorResponse(f));
        state = State.FAILED;
        events.add(new Failed(f));
    }

    @Override
    protected void process() {
        // In COMMAND the caller owes an answer: later messages wait in the decoder.
        while (state == State.IDLE || state == State.STREAMING || state == State.ENDING_TIMELINE) {
            FrontendMessage m;
            try {
                m = decoder.poll();
                if (m == null) {
                    return;
                }
                handle(m);
            } catch (ProtocolException e) {
                fail(e.sqlState(), e.getMessage());
            }
        }
    }

    private void handle(FrontendMessage m) {
        if (m instanceof FrontendMessage.Terminate) {
            state = State.CLOSED;
            events.add(new Terminated());
            return;
        }
        switch (state) {
            case IDLE -> {
                if (m instanceof FrontendMessage.Query q) {
                    try {
                        events.add(new CommandReceived(q.sql(), ReplicationCommandParser.parse(q.sql())));
                        state = State.COMMAND;
                    } catch (ReplicationCommandException e) {
                        events.add(new CommandRejected(q.sql(), e.errorFields()));
                        send(new ErrorResponse(e.errorFields()));
                        send(new ReadyForQuery('I'));
                    }
                } else if (!(m instanceof FrontendMessage.Sync) && !(m instanceof FrontendMessage.Flush)) {
                    throw unexpected(m);
                }
            }
            case STREAMING, ENDING_TIMELINE -> {
                if (m instanceof FrontendMessage.CopyData d) {
                    ReplicationMessage r = ReplicationCodec.decode(d.data());
                    if (r instanceof ReplicationMessage.StandbyStatusUpdate s) {
                        events.add(new StandbyStatus(s));
                    } else if (r instanceof ReplicationMessage.HotStandbyFeedback h) {
                        events.add(new Feedback(h));
                    } else {
                        throw new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                                "client sent a server-only replication message '" + r.tag() + "'");
                    }
                } else if (m instanceof FrontendMessage.CopyDone) {
                    boolean byClient = state == State.STREAMING;
                    if (byClient) {
                        send(new BackendMessage.CopyDone());
                        ReplicationResponses.endOfStreaming().forEach(this::send);
                    } else {
                        ReplicationResponses.endOfTimeline(nextTimeline, nextTimelineStart).forEach(this::send);
                    }
                    send(new ReadyForQuery('I'));
                    state = State.IDLE;
                    events.add(new StreamingEnded(byClient));
                } else if (m instanceof FrontendMessage.CopyFail f) {
                    throw new ProtocolException(ProtocolException.Kind.UNEXPECTED, "client aborted streaming: " + f.message());
                } else {
                    throw unexpected(m);
                }
            }
            default -> throw unexpected(m);
        }
    }

    private ProtocolException unexpected(FrontendMessage m) {
        return new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                "unexpected " + m.getClass().getSimpleName() + " in state " + state);
    }
}
