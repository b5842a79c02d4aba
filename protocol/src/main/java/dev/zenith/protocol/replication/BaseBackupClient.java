package dev.zenith.protocol.replication;

import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.Conversation;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.protocol.wire.FrontendEncoder;
import dev.zenith.protocol.wire.FrontendMessage;
import dev.zenith.protocol.wire.MessageFramer;
import dev.zenith.protocol.wire.ProtocolException;
import dev.zenith.wal.Lsn;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * The client side of PostgreSQL 15's {@code BASE_BACKUP} over a physical replication connection, with no
 * I/O (as {@link PhysicalReplicationClient}): authenticate (trust, password, MD5 or SCRAM), run
 * {@code BASE_BACKUP (LABEL, CHECKPOINT 'fast', WAL, MANIFEST 'no', PROGRESS)} and report the start position, each
 * archive's bytes (the WAL the backup needs comes inside the main one, under pg_wal/), and the end position.
 * PostgreSQL 15's stream (basebackup_copy.c): a result set with the start LSN and timeline, one with the
 * tablespaces, then one CopyOut whose CopyData messages start with a type byte ('n' a new archive with its
 * name and tablespace location, 'd' data, 'p' progress, 'm' the manifest), then a result set with the end.
 */
public final class BaseBackupClient extends Conversation<BaseBackupClient.Event> {

    /** What the client reports. */
    public sealed interface Event {
    }

    /** The server authenticated us; its parameters (server_version...) are in {@link #serverParameters()}. */
    public record Connected() implements Event {
    }

    /** The backup's start: its checkpoint's redo LSN and PostgreSQL timeline. */
    public record Started(Lsn start, int timeline) implements Event {
    }

    /** A tablespace the backup has (location null for the main data directory) and its size in kB when known. */
    public record Tablespace(String oid, String location, Long sizeKb) implements Event {
    }

    /** A new tar archive begins ({@code tablespaceLocation} empty for the data directory's base.tar). */
    public record ArchiveStarted(String name, String tablespaceLocation) implements Event {
    }

    /**
     * Bytes of the current archive: {@code length} bytes of {@code data} from {@code offset} (the CopyData message's
     * own array, not copied again: the caller's to keep, or to give back with {@link #recycle} once read).
     */
    public record ArchiveData(byte[] data, int offset, int length) implements Event {
    }

    /** The bytes the server has sent so far (a 'p' message). */
    public record Progress(long bytesDone) implements Event {
    }

    /** The backup is complete up to {@code end}; the server is ready for another command. */
    public record Finished(Lsn end, int timeline) implements Event {
    }

    /** The server answered with an error; the client is failed. */
    public record ServerError(ErrorFields fields) implements Event {
    }

    /** Malformed or unexpected bytes, or failed authentication; the client is failed. */
    public record ProtocolError(String message) implements Event {
    }

    public enum State { NEW, LOGGING_IN, STARTING, TABLESPACES, COPYING, ENDING, DONE, FAILED }

    private final String label;
    private final ReplicationLogin login;
    private final ReplicationLogin.Session session = new CommandSession();
    private State state = State.NEW;
    private DataRow lastRow;
    private boolean inManifest;

    /** {@code password} null: the server is expected to trust us. */
    public BaseBackupClient(String user, String password, String label) {
        this.label = Objects.requireNonNull(label, "label");
        this.login = new ReplicationLogin(user, password, "zenith_import", MessageFramer.DEFAULT_MAX_MESSAGE_LENGTH,
                outbound);
    }

    public State state() {
        return state;
    }

    public Map<String, String> serverParameters() {
        return login.serverParameters();
    }

    /** The StartupMessage (a physical replication connection); call once, first. */
    public byte[] startupPacket() {
        if (state != State.NEW) {
            throw new IllegalStateException("startupPacket is not allowed in state " + state);
        }
        state = State.LOGGING_IN;
        return login.startupPacket();
    }

    /** The BASE_BACKUP command this client sends (PostgreSQL 15's option syntax). */
    String command() {
        return "BASE_BACKUP (LABEL '" + label.replace("'", "''") + "', CHECKPOINT 'fast', WAL true, WAIT true,"
                + " MANIFEST 'no', PROGRESS true)";
    }

    /**
     * Gives {@code data}'s array back to the decoder, which may receive a later CopyData into it: call once the bytes
     * are copied out and nothing refers to the array (a stream into a tar unpacker: no array per message).
     */
    public void recycle(ArchiveData data) {
        login.recycle(data.data());
    }

    public byte[] terminate() {
        return FrontendEncoder.encode(new FrontendMessage.Terminate());
    }

    @Override
    protected void input(ByteBuffer bytes) {
        login.input(bytes);
    }

    @Override
    protected int receive(dev.zenith.protocol.wire.MessageFramer.Source source, int max) throws java.io.IOException {
        return login.receive(source, max); // straight into the decoder's buffer: a backup is ~all CopyData bytes
    }

    @Override
    protected boolean accepts() {
        return state != State.FAILED;
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
            events.add(new Connected());
            FrontendEncoder.encode(new FrontendMessage.Query(command()), outbound);
            state = State.STARTING;
        }

        @Override
        public void message(BackendMessage m) {
            handle(m);
        }

        @Override
        public void notice(ErrorFields fields) {
            // nothing of the backup's
        }

        @Override
        public void serverError(ErrorFields fields) {
            fail(new ServerError(fields));
        }

        @Override
        public void protocolError(String sqlState, String message) {
            fail(new ProtocolError(message));
        }
    }

    private void fail(Event e) {
        state = State.FAILED;
        events.add(e);
    }

    private ProtocolException unexpected(BackendMessage m) {
        return ReplicationLogin.unexpected(m, state.name());
    }

    /** A message of BASE_BACKUP's answer. */
    private void handle(BackendMessage m) {
        switch (state) {
            case STARTING -> {
                // A CommandComplete may or may not close this result set: the row is what counts.
                if (m instanceof DataRow d) {
                    events.add(new Started(lsn(d.text(0)), timeline(d.text(1))));
                    state = State.TABLESPACES;
                } else if (!(m instanceof RowDescription)) {
                    throw unexpected(m);
                }
            }
            case TABLESPACES -> {
                if (m instanceof DataRow d) {
                    events.add(new Tablespace(d.text(0), d.text(1), d.values().size() > 2 && d.text(2) != null
                            ? Long.parseLong(d.text(2)) : null));
                } else if (m instanceof CopyOutResponse) {
                    state = State.COPYING;
                } else if (!(m instanceof RowDescription) && !(m instanceof CommandComplete)) {
                    throw unexpected(m);
                }
            }
            case COPYING -> {
                if (m instanceof CopyData d) {
                    copyData(d.data());
                } else if (m instanceof CopyDone) {
                    state = State.ENDING;
                    lastRow = null;
                } else {
                    throw unexpected(m);
                }
            }
            case ENDING -> {
                if (m instanceof DataRow d) {
                    lastRow = d;
                } else if (m instanceof ReadyForQuery) {
                    if (lastRow == null) {
                        throw new ProtocolException(ProtocolException.Kind.MALFORMED, "BASE_BACKUP sent no end position");
                    }
                    state = State.DONE;
                    events.add(new Finished(lsn(lastRow.text(0)), timeline(lastRow.text(1))));
                } else if (!(m instanceof RowDescription) && !(m instanceof CommandComplete)) {
                    throw unexpected(m);
                }
            }
            default -> throw unexpected(m);
        }
    }

    private void copyData(byte[] data) {
        if (data.length == 0) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "an empty CopyData message in a base backup");
        }
        switch (data[0]) {
            case 'n' -> {
                int nameEnd = cstringEnd(data, 1);
                int locationEnd = cstringEnd(data, nameEnd + 1);
                inManifest = false;
                events.add(new ArchiveStarted(new String(data, 1, nameEnd - 1, StandardCharsets.UTF_8),
                        new String(data, nameEnd + 1, locationEnd - nameEnd - 1, StandardCharsets.UTF_8)));
            }
            case 'd' -> {
                if (!inManifest) {
                    events.add(new ArchiveData(data, 1, data.length - 1));
                }
            }
            case 'p' -> {
                if (data.length != 9) {
                    throw new ProtocolException(ProtocolException.Kind.MALFORMED, "a progress message of " + data.length + " bytes");
                }
                events.add(new Progress(ByteBuffer.wrap(data, 1, 8).getLong()));
            }
            case 'm' -> inManifest = true; // not asked for; ignored should a server send one
            default -> throw new ProtocolException(ProtocolException.Kind.MALFORMED,
                    "unknown base backup message type '" + (char) data[0] + "'");
        }
    }

    private static int cstringEnd(byte[] data, int from) {
        for (int i = from; i < data.length; i++) {
            if (data[i] == 0) {
                return i;
            }
        }
        throw new ProtocolException(ProtocolException.Kind.MALFORMED, "an unterminated string in a base backup message");
    }

    private static Lsn lsn(String text) {
        try {
            return Lsn.parse(Objects.requireNonNull(text));
        } catch (RuntimeException e) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "bad LSN '" + text + "' in BASE_BACKUP's answer");
        }
    }

    private static int timeline(String text) {
        try {
            return Integer.parseInt(Objects.requireNonNull(text));
        } catch (RuntimeException e) {
            throw new ProtocolException(ProtocolException.Kind.MALFORMED, "bad timeline '" + text + "' in BASE_BACKUP's answer");
        }
    }
}
