package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationEvent.*;
import dev.zenith.protocol.replication.ReplicationMessage.*;
import dev.zenith.protocol.wire.*;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The client side of a physical replication conversation, with no I/O. The caller writes
 * {@link #startupPacket()}, then loops: {@link #feed} what the socket delivers, write
 * {@link #drainOutbound()}, handle each event from {@link #poll()}. The client authenticates,
 * runs IDENTIFY_SYSTEM, creates its physical slot if it does not exist, and starts streaming.
 * Anything unexpected ends in {@link State#FAILED} with a {@link ServerError} or {@link ProtocolError} event.
 */
public final class PhysicalReplicationClient extends Conversation<ReplicationEvent> {

    /** Configuration. {@code slotName} may be null (no slot); {@code startLsn} null means the server's
     * current position from IDENTIFY_SYSTEM; {@code timeline} 0 means the server's current timeline. */
    public record Config(String user, String password, String applicationName, String slotName, Lsn startLsn,
                         int timeline) {
        private static final Pattern SLOT = Pattern.compile("[a-z0-9_]{1,63}");

        public Config {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(applicationName, "applicationName");
            if (slotName != null && !SLOT.matcher(slotName).matches()) {
                throw new IllegalArgumentException("replication slot name must match [a-z0-9_]{1,63}: " + slotName);
            }
            if (timeline < 0) {
                throw new IllegalArgumentException("timeline must be >= 0");
            }
        }
    }

    public enum State { NEW, LOGGING_IN, IDENTIFYING, CREATING_SLOT, STARTING, STREAMING, ENDING, DONE, FAILED }

    private final Config config;
    private final ReplicationLogin login;
    private final ReplicationLogin.Session session = new CommandSession();
    private State state = State.NEW;
    private SystemIdentified system;
    private Lsn startLsn;
    private int timeline;
    private boolean commandDone;
    private DataRow lastRow;
    private String slotError;

    public PhysicalReplicationClient(Config config) {
        this(config, MessageFramer.DEFAULT_MAX_MESSAGE_LENGTH);
    }

    public PhysicalReplicationClient(Config config, int maxMessageLength) {
        this.config = config;
        this.login = new ReplicationLogin(config.user(), config.password(), config.applicationName(), maxMessageLength,
                outbound);
    }

    public State state() {
        return state;
    }

    public Config config() {
        return config;
    }

    public Map<String, String> serverParameters() {
        return login.serverParameters();
    }

    /** IDENTIFY_SYSTEM's answer once known, else null. */
    public SystemIdentified system() {
        return system;
    }

    /** The StartupMessage bytes (replication=true, application_name); call once, first. */
    public byte[] startupPacket() {
        require(State.NEW, "startupPacket");
        state = State.LOGGING_IN;
        return login.startupPacket();
    }

    @Override
    protected void input(ByteBuffer bytes) {
        login.input(bytes);
    }

    @Override
    protected boolean accepts() {
        return state != State.FAILED;
    }

    /** A StandbyStatusUpdate as a complete CopyData message, ready to write. Only while streaming. */
    public byte[] standbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, boolean replyRequested) {
        return standbyStatusUpdate(write, flush, apply, PgTime.now(), replyRequested);
    }

    public byte[] standbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, long sendTime, boolean replyRequested) {
        require(State.STREAMING, "standbyStatusUpdate");
        return FrontendEncoder.encode(new FrontendMessage.CopyData(ReplicationCodec.encode(
                new StandbyStatusUpdate(write, flush, apply, sendTime, replyRequested))));
    }

    /** Ends streaming from our side (CopyDone); the server answers and the client reaches DONE. */
    public byte[] stopStreaming() {
        require(State.STREAMING, "stopStreaming");
        state = State.ENDING;
        return FrontendEncoder.encode(new FrontendMessage.CopyDone());
    }

    /** Terminate message bytes, for a polite close in any state. */
    public byte[] terminate() {
        return FrontendEncoder.encode(new FrontendMessage.Terminate());
    }

    private void require(State s, String op) {
        if (state != s) {
            throw new IllegalStateException(op + " is not allowed in state " + state);
        }
    }

    private void send(FrontendMessage m) {
        FrontendEncoder.encode(m, outbound);
    }

    private void query(String sql, State next) {
        send(new FrontendMessage.Query(sql));
        commandDone = false;
        lastRow = null;
        slotError = null;
        state = next;
    }

    private void fail(ReplicationEvent e) {
        state = State.FAILED;
        events.add(e);
    }

    @Override
    protected void process() {
        login.process(session);
    }

    /** What this conversation does with what its login hands on. */
    private final class CommandSession implements ReplicationLogin.Session {
        @Override
        public boolean over() {
            return state == State.FAILED || state == State.DONE;
        }

        @Override
        public void loggedIn(int processId, int secretKey) {
            events.add(new Connected(processId, secretKey));
            query("IDENTIFY_SYSTEM", State.IDENTIFYING);
        }

        @Override
        public void message(BackendMessage m) {
            handle(m);
        }

        @Override
        public void notice(ErrorFields fields) {
            events.add(new Notice(fields));
        }

        @Override
        public void serverError(ErrorFields fields) {
            if (state == State.CREATING_SLOT && "42710".equals(fields.code())) {
                slotError = fields.code(); // the slot exists: used as it is
                return;
            }
            fail(new ServerError(fields));
        }

        @Override
        public void protocolError(String sqlState, String message) {
            fail(new ProtocolError(sqlState, message));
        }
    }

    private ProtocolException unexpected(BackendMessage m) {
        return ReplicationLogin.unexpected(m, state.name());
    }

    /** A message of IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION or the stream. */
    private void handle(BackendMessage m) {
        switch (state) {
            case IDENTIFYING -> {
                if (resultSetStep(m)) {
                    if (lastRow == null || lastRow.values().size() < 3) {
                        throw new ProtocolException(ProtocolException.Kind.MALFORMED,
                                "IDENTIFY_SYSTEM returned no usable row");
                    }
                    system = new SystemIdentified(lastRow.text(0), parseInt(lastRow.text(1), "timeline"),
                            parseLsn(lastRow.text(2), "xlogpos"), lastRow.values().size() > 3 ? lastRow.text(3) : null);
                    events.add(system);
                    startLsn = config.startLsn() != null ? config.startLsn() : system.xlogPos();
                    timeline = config.timeline() != 0 ? config.timeline() : system.timeline();
                    if (config.slotName() != null) {
                        query("CREATE_REPLICATION_SLOT " + config.slotName() + " PHYSICAL RESERVE_WAL",
                                State.CREATING_SLOT);
                    } else {
                        startReplication();
                    }
                }
            }
            case CREATING_SLOT -> {
                if (resultSetStep(m)) {
                    boolean created = slotError == null;
                    Lsn consistent = created && lastRow != null && lastRow.values().size() > 1 && lastRow.text(1) != null
                            ? parseLsn(lastRow.text(1), "consistent_point") : null;
                    events.add(new SlotReady(config.slotName(), created, consistent));
                    startReplication();
                }
            }
            case STARTING -> {
                if (m instanceof CopyBothResponse) {
                    state = State.STREAMING;
                    events.add(new StreamingStarted(startLsn, timeline));
                } else {
                    throw unexpected(m);
                }
            }
            case STREAMING, ENDING -> streaming(m);
            default -> throw unexpected(m);
        }
    }

    private void startReplication() {
        String slot = config.slotName() != null ? "SLOT " + config.slotName() + " " : "";
        query("START_REPLICATION " + slot + "PHYSICAL " + startLsn + " TIMELINE " + timeline, State.STARTING);
    }

    /** Consumes one message of a simple-query result; true at its ReadyForQuery. */
    private boolean resultSetStep(BackendMessage m) {
        if (m instanceof RowDescription) {
            return false;
        }
        if (m instanceof DataRow d) {
            lastRow = d;
            return false;
        }
        if (m instanceof CommandComplete) {
            commandDone = true;
            return false;
        }
        if (m instanceof ReadyForQuery) {
            if (!commandDone && slotError == null) {
                throw new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                        "ReadyForQuery before CommandComplete in state " + state);
            }
            return true;
        }
        throw unexpected(m);
    }

    private void streaming(BackendMessage m) {
        if (m instanceof BackendMessage.CopyData d) {
            ReplicationMessage r = ReplicationCodec.decode(d.data());
            if (r instanceof XLogData x) {
                events.add(new WalData(x.dataStart(), x.data(), x.walEnd(), x.sendTime()));
            } else if (r instanceof PrimaryKeepalive k) {
                events.add(new Keepalive(k.walEnd(), k.sendTime(), k.replyRequested()));
            } else {
                throw new ProtocolException(ProtocolException.Kind.UNEXPECTED,
                        "server sent a client-only replication message '" + r.tag() + "'");
            }
        } else if (m instanceof BackendMessage.CopyDone) {
            if (state == State.STREAMING) {
                send(new FrontendMessage.CopyDone());
                state = State.ENDING;
            }
            commandDone = false;
            lastRow = null;
        } else if (state == State.STREAMING && m instanceof CommandComplete) {
            // A walsender that shuts down (the server stops, having sent and seen flushed all its WAL)
            // ends COPY with CommandComplete alone, no CopyDone, and exits: the stream is over.
            state = State.DONE;
            events.add(new EndOfStreaming(null, null));
        } else if (state == State.ENDING) {
            if (m instanceof RowDescription) {
                return;
            }
            if (m instanceof DataRow d) {
                lastRow = d;
            } else if (m instanceof CommandComplete) {
                commandDone = true;
            } else if (m instanceof ReadyForQuery) {
                Integer next = null;
                Lsn nextStart = null;
                if (lastRow != null && lastRow.values().size() >= 2) {
                    next = parseInt(lastRow.text(0), "next_tli");
                    nextStart = parseLsn(lastRow.text(1), "next_tli_startpos");
                }
                state = State.DONE;
                events.add(new EndOfStreaming(next, nextStart));
            } else {
                throw unexpected(m);
            }
        } else {
            throw unexpected(m);
        }
    }

    private static int parseInt(String s, String what) {
        try {
            return Integer.parseInt(Objects.requireNonNull(s, what));
        } catch (RuntimeException e) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "bad " + what + " value '" + s + "'");
        }
    }

    private static Lsn parseLsn(String s, String what) {
        try {
            return Lsn.parse(Objects.requireNonNull(s, what));
        } catch (RuntimeException e) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "bad " + what + " value '" + s + "'");
        }
    }

}
