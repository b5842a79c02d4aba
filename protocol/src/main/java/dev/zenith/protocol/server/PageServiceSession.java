package dev.zenith.protocol.server;

import dev.zenith.protocol.pagestream.PagestreamCommand;
import dev.zenith.protocol.pagestream.PagestreamDecoder;
import dev.zenith.protocol.pagestream.PagestreamEncoder;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.protocol.server.PageServiceEvent.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.CommandComplete;
import dev.zenith.protocol.wire.BackendMessage.CopyBothResponse;
import dev.zenith.protocol.wire.BackendMessage.ErrorResponse;
import dev.zenith.protocol.wire.BackendMessage.ReadyForQuery;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/**
 * The page service's side of a normal (non-replication) connection after authentication, with no
 * I/O and no storage. Its only command is the simple query {@code pagestream_v3 <tenant> <timeline>}
 * (or v2); anything else is refused with an ERROR (SQL is not served here). An accepted stream is
 * CopyBoth: each client CopyData is one pagestream request, answered by one CopyData in request
 * order, until the client's CopyDone (the stream ends, the connection is idle again) or Terminate.
 *
 * <p>Messages are decoded one {@link #next()} at a time, so a caller that stops asking (because
 * enough requests are in progress) leaves the rest of the client's bytes undecoded in the decoder.
 */
public final class PageServiceSession {
    public enum State { IDLE, COMMAND, STREAMING, ENDING, CLOSED, FAILED }

    /** No message of a page connection is longer: a query naming two ids, a v3 GetPage. */
    public static final int MAX_MESSAGE_LENGTH = 8192;

    private final FrontendDecoder decoder;
    private final ByteWriter outbound = new ByteWriter();
    private State state = State.IDLE;
    private PagestreamVersion version;

    /** Continues from a finished {@link ServerHandshake}'s decoder (it may hold pipelined bytes). */
    public PageServiceSession(FrontendDecoder decoder) {
        this.decoder = decoder;
        decoder.limitMessageLength(MAX_MESSAGE_LENGTH);
    }

    public State state() {
        return state;
    }

    /** The stream's version once {@link #startStreaming()} accepted it. */
    public PagestreamVersion version() {
        return version;
    }

    public void feed(ByteBuffer bytes) {
        if (state != State.CLOSED && state != State.FAILED) {
            decoder.feed(bytes);
        }
    }

    /** Decodes client messages until one gives an event; null when none is due now. */
    public PageServiceEvent next() {
        while (state == State.IDLE || state == State.STREAMING) {
            FrontendMessage m;
            try {
                m = decoder.poll();
                if (m == null) {
                    return null;
                }
                PageServiceEvent e = handle(m);
                if (e != null) {
                    return e;
                }
            } catch (ProtocolException e) {
                return fail(e.sqlState(), e.getMessage());
            }
        }
        return null;
    }

    private PageServiceEvent handle(FrontendMessage m) {
        if (m instanceof FrontendMessage.Terminate) {
            state = State.CLOSED;
            return new Terminated();
        }
        if (state == State.STREAMING) {
            if (m instanceof FrontendMessage.CopyData d) {
                return new Request(PagestreamDecoder.request(d.data(), version));
            }
            if (m instanceof FrontendMessage.CopyDone) {
                state = State.ENDING;
                return new StreamEnded();
            }
            if (m instanceof FrontendMessage.CopyFail f) {
                throw new ProtocolException(ProtocolException.Kind.UNEXPECTED, "client aborted the page stream: " + f.message());
            }
            throw unexpected(m);
        }
        if (m instanceof FrontendMessage.Query q) {
            Optional<PagestreamCommand> command;
            try {
                command = PagestreamCommand.parse(q.sql());
            } catch (IllegalArgumentException e) {
                return refuseQuery(q.sql(), ErrorFields.of("ERROR", "42601", e.getMessage()));
            }
            if (command.isEmpty()) {
                return refuseQuery(q.sql(), ErrorFields.of("ERROR", "0A000",
                        "this connection serves pagestream_v3 and pagestream_v2 only, not SQL (computes have ports"
                                + " of their own: zenith pg list; replication needs replication=true)"));
            }
            state = State.COMMAND;
            return new StreamRequested(command.get());
        }
        if (m instanceof FrontendMessage.Sync || m instanceof FrontendMessage.Flush) {
            return null;
        }
        throw unexpected(m);
    }

    private PageServiceEvent refuseQuery(String query, ErrorFields error) {
        send(new ErrorResponse(error));
        send(new ReadyForQuery('I'));
        return new QueryRefused(query, error);
    }

    /** Accepts the requested stream: CopyBothResponse ('W', int32 7, int8 0, int16 0); requests follow. */
    public void startStreaming(PagestreamVersion version) {
        require(State.COMMAND, "startStreaming");
        this.version = version;
        send(new CopyBothResponse((byte) 0, List.of()));
        state = State.STREAMING;
    }

    /** Refuses the requested stream (an unknown tenant or timeline); the connection stays usable. */
    public void refuse(ErrorFields error) {
        require(State.COMMAND, "refuse");
        send(new ErrorResponse(error));
        send(new ReadyForQuery('I'));
        state = State.IDLE;
    }

    /**
     * One answer, as a CopyData message. Requests decoded before a failure are still owed their answers,
     * which go out before the failure's FATAL error ({@link #sendFailure}).
     */
    public void respond(PagestreamResponse response) {
        if (version == null || (state != State.STREAMING && state != State.ENDING && state != State.FAILED)) {
            throw new IllegalStateException("respond is not allowed in state " + state);
        }
        outbound.begin('d');
        PagestreamEncoder.response(response, version, outbound);
        outbound.finish();
    }

    /** After the client's CopyDone and the last answer: CopyDone, CommandComplete, ReadyForQuery. */
    public void endStreaming() {
        require(State.ENDING, "endStreaming");
        send(new BackendMessage.CopyDone());
        send(new CommandComplete(version.command().toUpperCase(java.util.Locale.ROOT)));
        send(new ReadyForQuery('I'));
        state = State.IDLE;
        version = null;
    }

    /**
     * The connection cannot go on (bad bytes, or the caller's reason): nothing more is decoded. The FATAL
     * error is not queued yet, so that answers owed for earlier requests can go first: then
     * {@link #sendFailure}, and close after sending it.
     */
    public Failed fail(String sqlState, String message) {
        state = State.FAILED;
        return new Failed(ErrorFields.of("FATAL", sqlState, message));
    }

    /** Queues a failure's FATAL ErrorResponse. */
    public void sendFailure(Failed failure) {
        require(State.FAILED, "sendFailure");
        send(new ErrorResponse(failure.error()));
    }

    /** Bytes to write to the client (possibly none). */
    public byte[] drainOutbound() {
        byte[] b = outbound.toByteArray();
        outbound.reset();
        return b;
    }

    /**
     * As {@link #drainOutbound()}, straight into {@code sink} (a socket's own buffer) without an array of its
     * own: an answer is 8 KiB, and copying it once more per request showed in the profile. A page is handed over
     * through {@link ByteWriter.Sink#later}, so a sink with room decodes it in place.
     */
    public void drainOutbound(ByteWriter.Sink sink) {
        outbound.copyTo(sink);
        outbound.reset();
    }

    public boolean hasOutbound() {
        return outbound.size() > 0;
    }

    /** Bytes {@link #drainOutbound} would hand over now. */
    public int outboundBytes() {
        return outbound.size();
    }

    private void send(BackendMessage m) {
        BackendEncoder.encode(m, outbound);
    }

    private void require(State s, String op) {
        if (state != s) {
            throw new IllegalStateException(op + " is not allowed in state " + state);
        }
    }

    private ProtocolException unexpected(FrontendMessage m) {
        return new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                "unexpected " + m.getClass().getSimpleName() + " in state " + state);
    }
}
