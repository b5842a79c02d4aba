package dev.zenith.protocol.server;

import dev.zenith.protocol.auth.AuthenticationException;
import dev.zenith.protocol.auth.Scram;
import dev.zenith.protocol.auth.ScramServer;
import dev.zenith.protocol.auth.ScramVerifier;
import dev.zenith.protocol.server.ServerEvent.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendMessage.*;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The server side of connection start-up, with no I/O: answers SSLRequest/GSSENCRequest with 'N',
 * reads the StartupMessage (normal, {@code replication=true} or {@code replication=database}),
 * authenticates with SCRAM-SHA-256 against a stored verifier (or trusts, when configured so), then
 * queues AuthenticationOk, the ParameterStatus set, BackendKeyData and ReadyForQuery. After
 * {@link Ready}, {@link #decoder()} holds any further client bytes for the session that follows.
 */
public final class ServerHandshake extends Conversation<ServerEvent> {
    public enum ReplicationMode { NONE, PHYSICAL, LOGICAL }

    public enum State { STARTUP, AUTHENTICATING_SCRAM_FIRST, AUTHENTICATING_SCRAM_FINAL, READY, CANCELLED, FAILED }

    /**
     * {@code verifiers}: user name to SCRAM verifier; an empty answer means "unknown user" (the
     * exchange still runs, and fails). A null function means trust: no password is asked.
     */
    public record Config(Function<String, Optional<ScramVerifier>> verifiers, Map<String, String> parameters,
                         int processId, int secretKey) {
        public Config {
            parameters = new LinkedHashMap<>(parameters);
        }
    }

    /** The ParameterStatus set PostgreSQL 15 sends, which libpq-based tools check (integer_datetimes, server_version...). */
    public static Map<String, String> defaultParameters(String serverVersion) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("application_name", "");
        p.put("client_encoding", "UTF8");
        p.put("DateStyle", "ISO, MDY");
        p.put("default_transaction_read_only", "off");
        p.put("in_hot_standby", "off");
        p.put("integer_datetimes", "on");
        p.put("IntervalStyle", "postgres");
        p.put("is_superuser", "on");
        p.put("server_encoding", "UTF8");
        p.put("server_version", serverVersion);
        p.put("session_authorization", "");
        p.put("standard_conforming_strings", "on");
        p.put("TimeZone", "UTC");
        return p;
    }

    private final Config config;
    private final FrontendDecoder decoder;
    private State state = State.STARTUP;
    private StartupMessage startup;
    private ReplicationMode mode;
    private ScramServer scram;

    public ServerHandshake(Config config) {
        this(config, new FrontendDecoder());
    }

    public ServerHandshake(Config config, FrontendDecoder decoder) {
        this.config = config;
        this.decoder = decoder;
    }

    public State state() {
        return state;
    }

    public StartupMessage startup() {
        return startup;
    }

    /** The decoder, positioned after the handshake: the session continues reading from it. */
    public FrontendDecoder decoder() {
        return decoder;
    }

    @Override
    protected void input(ByteBuffer bytes) {
        decoder.feed(bytes);
    }

    private void send(BackendMessage m) {
        BackendEncoder.encode(m, outbound);
    }

    private boolean done() {
        return state == State.READY || state == State.FAILED || state == State.CANCELLED;
    }

    @Override
    protected void process() {
        while (!done()) {
            FrontendMessage m;
            try {
                m = decoder.poll();
            } catch (ProtocolException e) {
                fail(e.sqlState(), e.getMessage());
                return;
            }
            if (m == null) {
                return;
            }
            try {
                handle(m);
            } catch (AuthenticationException e) {
                String msg = e.sqlState().equals(AuthenticationException.INVALID_PASSWORD)
                        ? "password authentication failed for user \"" + startup.user() + "\"" : e.getMessage();
                fail(e.sqlState(), msg);
            } catch (ProtocolException e) {
                fail(e.sqlState(), e.getMessage());
            }
        }
    }

    private void fail(String sqlState, String message) {
        ErrorFields f = ErrorFields.of("FATAL", sqlState, message);
        send(new ErrorResponse(f));
        state = State.FAILED;
        events.add(new Failed(f));
    }

    private ProtocolException unexpected(FrontendMessage m) {
        return new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                "unexpected " + m.getClass().getSimpleName() + " during authentication (state " + state + ")");
    }

    private void handle(FrontendMessage m) {
        switch (state) {
            case STARTUP -> {
                if (m instanceof SSLRequest || m instanceof GSSENCRequest) {
                    outbound.int8('N');
                    events.add(new EncryptionDeclined(m instanceof SSLRequest ? "SSL" : "GSSENC"));
                } else if (m instanceof CancelRequest c) {
                    state = State.CANCELLED;
                    events.add(new CancelRequested(c.processId(), c.secretKey()));
                } else if (m instanceof StartupMessage s) {
                    startup(s);
                } else {
                    throw unexpected(m);
                }
            }
            case AUTHENTICATING_SCRAM_FIRST -> {
                if (!(m instanceof SASLInitialResponse r)) {
                    throw unexpected(m);
                }
                if (!Scram.MECHANISM.equals(r.mechanism())) {
                    throw new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                            "client selected an invalid SASL authentication mechanism");
                }
                if (r.data() == null) {
                    throw new ProtocolException(ProtocolException.Kind.MALFORMED,
                            "malformed SCRAM message: empty client-first message");
                }
                send(new AuthenticationSASLContinue(scram.serverFirstMessage(r.data())));
                decoder.expectPassword(FrontendDecoder.PasswordKind.SASL_RESPONSE);
                state = State.AUTHENTICATING_SCRAM_FINAL;
            }
            case AUTHENTICATING_SCRAM_FINAL -> {
                if (!(m instanceof SASLResponse r)) {
                    throw unexpected(m);
                }
                send(new AuthenticationSASLFinal(scram.serverFinalMessage(r.data())));
                ready();
            }
            default -> throw unexpected(m);
        }
    }

    private void startup(StartupMessage s) {
        startup = s;
        String repl = s.replication();
        if (repl == null) {
            mode = ReplicationMode.NONE;
        } else {
            String v = repl.toLowerCase(Locale.ROOT);
            if (List.of("true", "on", "yes", "1").contains(v)) {
                mode = ReplicationMode.PHYSICAL;
            } else if (List.of("false", "off", "no", "0").contains(v)) {
                mode = ReplicationMode.NONE;
            } else if (v.equals("database")) {
                mode = ReplicationMode.LOGICAL;
            } else {
                ErrorFields f = ErrorFields.of("FATAL", "22023", "invalid value for parameter \"replication\": \"" + repl + "\"")
                        .with(ErrorFields.HINT, "Valid values are: \"false\", 0, \"true\", 1, \"database\".");
                send(new ErrorResponse(f));
                state = State.FAILED;
                events.add(new Failed(f));
                return;
            }
        }
        events.add(new StartupReceived(s, mode));
        if (config.verifiers() == null) {
            ready();
            return;
        }
        scram = new ScramServer(config.verifiers().apply(s.user()).orElse(null));
        send(new AuthenticationSASL(List.of(Scram.MECHANISM)));
        decoder.expectPassword(FrontendDecoder.PasswordKind.SASL_INITIAL_RESPONSE);
        state = State.AUTHENTICATING_SCRAM_FIRST;
    }

    private void ready() {
        send(new AuthenticationOk());
        Map<String, String> params = new LinkedHashMap<>(config.parameters());
        String app = startup.parameters().get("application_name");
        if (app != null && params.containsKey("application_name")) {
            params.put("application_name", app);
        }
        if (params.containsKey("session_authorization")) {
            params.put("session_authorization", startup.user());
        }
        params.forEach((k, v) -> send(new ParameterStatus(k, v)));
        send(new BackendKeyData(config.processId(), config.secretKey()));
        send(new ReadyForQuery('I'));
        state = State.READY;
        events.add(new Ready(startup.user(), mode == ReplicationMode.PHYSICAL ? null : startup.database(), mode));
    }
}
