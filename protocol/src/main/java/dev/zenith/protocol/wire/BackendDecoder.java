package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.BackendMessage.*;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Client side: turns server bytes into {@link BackendMessage}s. Feed any chunks, then {@link #poll()}
 * until it returns null. The first failure is sticky: every later call throws the same exception.
 */
public final class BackendDecoder {
    private final MessageFramer framer;
    private ProtocolException failure;

    public BackendDecoder() {
        this(MessageFramer.DEFAULT_MAX_MESSAGE_LENGTH);
    }

    public BackendDecoder(int maxMessageLength) {
        this.framer = new MessageFramer(maxMessageLength);
    }

    public void feed(byte[] bytes) {
        framer.feed(bytes);
    }

    public void feed(byte[] bytes, int off, int len) {
        framer.feed(bytes, off, len);
    }

    public void feed(ByteBuffer bytes) {
        framer.feed(bytes);
    }

    /** {@link MessageFramer#feedFrom}. */
    public int feedFrom(MessageFramer.Source source, int max) throws java.io.IOException {
        return framer.feedFrom(source, max);
    }

    /** {@link MessageFramer#recycle}: a CopyData's data the caller is done with (nothing refers to it any more). */
    public void recycle(byte[] copyData) {
        framer.recycle(copyData);
    }

    /** Takes one raw byte (the server's one-byte answer to SSLRequest); -1 when none is buffered. */
    public int pollByte() {
        return framer.nextByte();
    }

    /** The next whole message, or null when more bytes are needed. */
    public BackendMessage poll() {
        if (failure != null) {
            throw failure;
        }
        try {
            MessageFramer.Frame f = framer.nextTyped();
            return f == null ? null : decode(f.type(), f.body());
        } catch (ProtocolException e) {
            failure = e;
            throw e;
        }
    }

    /** Decodes one message body of the given type; a CopyData keeps {@code body} as its data (not copied: base backups and WAL streams are mostly CopyData). */
    public static BackendMessage decode(char type, byte[] body) {
        if (type == 'd') {
            return new CopyData(body);
        }
        ByteReader r = new ByteReader(body, "message '" + MessageFramer.printable(type) + "'");
        BackendMessage m = switch (type) {
            case 'R' -> authentication(r);
            case 'S' -> new ParameterStatus(r.cstring("name"), r.cstring("value"));
            case 'K' -> new BackendKeyData(r.int32("process id"), r.int32("secret key"));
            case 'Z' -> readyForQuery(r);
            case 'T' -> rowDescription(r);
            case 'D' -> dataRow(r);
            case 'C' -> new CommandComplete(r.cstring("command tag"));
            case 'I' -> new EmptyQueryResponse();
            case 'E' -> new ErrorResponse(errorFields(r));
            case 'N' -> new NoticeResponse(errorFields(r));
            case 'G' -> new CopyInResponse(r.int8("format"), columnFormats(r));
            case 'H' -> new CopyOutResponse(r.int8("format"), columnFormats(r));
            case 'W' -> new CopyBothResponse(r.int8("format"), columnFormats(r));
            case 'c' -> new CopyDone();
            case '1', '2', '3', 'n', 's', 't', 'A', 'V', 'v' -> throw new ProtocolException(
                    ProtocolException.Kind.UNSUPPORTED, "backend message '" + type + "' (" + name(type)
                    + ") is not supported by this client");
            default -> throw new ProtocolException(ProtocolException.Kind.UNKNOWN_TYPE,
                    "unknown backend message type '" + MessageFramer.printable(type) + "'");
        };
        r.end();
        return m;
    }

    private static String name(char type) {
        return switch (type) {
            case '1' -> "ParseComplete";
            case '2' -> "BindComplete";
            case '3' -> "CloseComplete";
            case 'n' -> "NoData";
            case 's' -> "PortalSuspended";
            case 't' -> "ParameterDescription";
            case 'A' -> "NotificationResponse";
            case 'V' -> "FunctionCallResponse";
            case 'v' -> "NegotiateProtocolVersion";
            default -> "?";
        };
    }

    private static BackendMessage authentication(ByteReader r) {
        int code = r.int32("authentication code");
        return switch (code) {
            case 0 -> new AuthenticationOk();
            case 3 -> new AuthenticationCleartextPassword();
            case 5 -> new AuthenticationMD5Password(r.bytes(4, "salt"));
            case 10 -> {
                List<String> mechs = new ArrayList<>();
                while (true) {
                    String m = r.cstring("SASL mechanism");
                    if (m.isEmpty()) {
                        break;
                    }
                    mechs.add(m);
                }
                yield new AuthenticationSASL(mechs);
            }
            case 11 -> new AuthenticationSASLContinue(r.rest());
            case 12 -> new AuthenticationSASLFinal(r.rest());
            case 2, 7, 8, 9 -> throw new ProtocolException(ProtocolException.Kind.UNSUPPORTED,
                    "authentication method " + code + " (Kerberos/GSSAPI/SSPI) is not supported");
            default -> throw r.malformed("unknown authentication code " + code);
        };
    }

    private static ReadyForQuery readyForQuery(ByteReader r) {
        char s = (char) r.int8("transaction status");
        if (s != 'I' && s != 'T' && s != 'E') {
            throw r.malformed("transaction status '" + MessageFramer.printable(s) + "'");
        }
        return new ReadyForQuery(s);
    }

    private static RowDescription rowDescription(ByteReader r) {
        int n = r.int16("field count") & 0xFFFF;
        List<Field> fields = new ArrayList<>(Math.min(n, r.remaining() / 19 + 1));
        for (int i = 0; i < n; i++) {
            fields.add(new Field(r.cstring("field name"), r.int32("table oid"), r.int16("column"), r.int32("type oid"),
                    r.int16("type size"), r.int32("type modifier"), r.int16("format")));
        }
        return new RowDescription(fields);
    }

    private static DataRow dataRow(ByteReader r) {
        int n = r.int16("column count") & 0xFFFF;
        List<byte[]> values = new ArrayList<>(Math.min(n, r.remaining() / 4 + 1));
        for (int i = 0; i < n; i++) {
            int len = r.int32("value length");
            if (len == -1) {
                values.add(null);
            } else if (len < 0) {
                throw r.malformed("negative value length " + len);
            } else {
                values.add(r.bytes(len, "value"));
            }
        }
        return new DataRow(values);
    }

    static ErrorFields errorFields(ByteReader r) {
        java.util.LinkedHashMap<Character, String> m = new java.util.LinkedHashMap<>();
        while (true) {
            byte code = r.int8("field code");
            if (code == 0) {
                break;
            }
            m.put((char) (code & 0xFF), r.cstring("field value"));
        }
        return new ErrorFields(m);
    }

    private static List<Short> columnFormats(ByteReader r) {
        int n = r.int16("column count") & 0xFFFF;
        List<Short> f = new ArrayList<>(Math.min(n, r.remaining() / 2 + 1));
        for (int i = 0; i < n; i++) {
            f.add(r.int16("column format"));
        }
        return f;
    }
}
