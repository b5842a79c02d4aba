package dev.zenith.protocol.replication;

import dev.zenith.protocol.auth.AuthenticationException;
import dev.zenith.protocol.auth.ClientAuthentication;
import dev.zenith.protocol.wire.BackendDecoder;
import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.Authentication;
import dev.zenith.protocol.wire.BackendMessage.BackendKeyData;
import dev.zenith.protocol.wire.BackendMessage.ErrorResponse;
import dev.zenith.protocol.wire.BackendMessage.NoticeResponse;
import dev.zenith.protocol.wire.BackendMessage.ParameterStatus;
import dev.zenith.protocol.wire.BackendMessage.ReadyForQuery;
import dev.zenith.protocol.wire.ByteWriter;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.protocol.wire.FrontendEncoder;
import dev.zenith.protocol.wire.FrontendMessage;
import dev.zenith.protocol.wire.ProtocolException;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What every client conversation over a physical replication connection does before and beside its own
 * command, with no I/O: the startup packet (replication=true), authentication (trust, password, MD5, SCRAM),
 * the server's parameters and key up to its first ReadyForQuery, and the messages any state may see
 * (NoticeResponse, ParameterStatus, ErrorResponse). It decodes the server's bytes and hands the conversation,
 * its {@link Session}, what is the conversation's to handle.
 */
final class ReplicationLogin {
    /** The login's own steps; {@link #READY} once the server first said ReadyForQuery. */
    enum Phase { NEW, AUTHENTICATING, SETTING_UP, READY }

    /** The conversation on top of the login. */
    interface Session {
        /** Failed or done: no further message is decoded. */
        boolean over();

        /** The server is ready for the conversation's first command. */
        void loggedIn(int processId, int secretKey);

        /** A message of the conversation's own command (after login). */
        void message(BackendMessage m);

        void notice(ErrorFields fields);

        /** The server answered with an error: the conversation fails, unless its command expects this one. */
        void serverError(ErrorFields fields);

        /** Malformed or unexpected bytes, or failed authentication: the conversation fails. */
        void protocolError(String sqlState, String message);
    }

    private final String user;
    private final String applicationName;
    private final BackendDecoder decoder;
    private final ClientAuthentication auth;
    private final ByteWriter outbound;
    private final Map<String, String> serverParameters = new LinkedHashMap<>();
    private Phase phase = Phase.NEW;
    private int processId;
    private int secretKey;

    /** {@code password} null: the server is expected to trust us. Replies are written to {@code outbound}. */
    ReplicationLogin(String user, String password, String applicationName, int maxMessageLength, ByteWriter outbound) {
        this.user = Objects.requireNonNull(user, "user");
        this.applicationName = Objects.requireNonNull(applicationName, "applicationName");
        this.decoder = new BackendDecoder(maxMessageLength);
        this.auth = new ClientAuthentication(user, password);
        this.outbound = outbound;
    }

    Phase phase() {
        return phase;
    }

    Map<String, String> serverParameters() {
        return Collections.unmodifiableMap(serverParameters);
    }

    /** The StartupMessage bytes (replication=true, application_name); once, first. */
    byte[] startupPacket() {
        if (phase != Phase.NEW) {
            throw new IllegalStateException("startupPacket is not allowed in state " + phase);
        }
        Map<String, String> p = new LinkedHashMap<>();
        p.put("user", user);
        p.put("replication", "true");
        p.put("application_name", applicationName);
        phase = Phase.AUTHENTICATING;
        return FrontendEncoder.encode(FrontendMessage.StartupMessage.of(p));
    }

    void input(ByteBuffer bytes) {
        decoder.feed(bytes);
    }

    int receive(dev.zenith.protocol.wire.MessageFramer.Source source, int max) throws java.io.IOException {
        return decoder.feedFrom(source, max);
    }

    /** {@link BackendDecoder#recycle}. */
    void recycle(byte[] copyData) {
        decoder.recycle(copyData);
    }

    /** Decodes and hands on every whole message buffered, until none is left or the session is over. */
    void process(Session session) {
        while (!session.over()) {
            try {
                BackendMessage m = decoder.poll();
                if (m == null) {
                    return;
                }
                handle(m, session);
            } catch (ProtocolException e) {
                session.protocolError(e.sqlState(), e.getMessage());
            } catch (AuthenticationException e) {
                session.protocolError(e.sqlState(), e.getMessage());
            }
        }
    }

    private void handle(BackendMessage m, Session session) {
        if (m instanceof NoticeResponse n) {
            session.notice(n.fields());
            return;
        }
        if (m instanceof ParameterStatus p && phase != Phase.NEW) {
            serverParameters.put(p.name(), p.value());
            return;
        }
        if (m instanceof ErrorResponse e) {
            session.serverError(e.fields());
            return;
        }
        switch (phase) {
            case AUTHENTICATING -> {
                if (!(m instanceof Authentication a)) {
                    throw unexpected(m, phase.name());
                }
                auth.handle(a).ifPresent(r -> FrontendEncoder.encode(r, outbound));
                if (auth.isDone()) {
                    phase = Phase.SETTING_UP;
                }
            }
            case SETTING_UP -> {
                if (m instanceof BackendKeyData k) {
                    processId = k.processId();
                    secretKey = k.secretKey();
                } else if (m instanceof ReadyForQuery) {
                    phase = Phase.READY;
                    session.loggedIn(processId, secretKey);
                } else {
                    throw unexpected(m, phase.name());
                }
            }
            case READY -> session.message(m);
            default -> throw unexpected(m, phase.name());
        }
    }

    /** A message the conversation did not expect in {@code state}. */
    static ProtocolException unexpected(BackendMessage m, String state) {
        return new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                "unexpected " + m.getClass().getSimpleName() + " ('" + m.type() + "') in state " + state);
    }
}
