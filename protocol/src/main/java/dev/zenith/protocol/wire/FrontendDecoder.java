package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.FrontendMessage.*;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Server side: turns client bytes into {@link FrontendMessage}s. Starts in the startup phase
 * (untyped packets) and switches to typed messages after a StartupMessage. The 'p' message means
 * different things depending on the authentication exchange, so the server tells the decoder what
 * it expects with {@link #expectPassword(PasswordKind)}. The first failure is sticky.
 */
public final class FrontendDecoder {
    /** What a 'p' message answers. */
    public enum PasswordKind { PASSWORD, SASL_INITIAL_RESPONSE, SASL_RESPONSE }

    private final MessageFramer framer;
    private boolean startupPhase = true;
    private PasswordKind passwordKind = PasswordKind.PASSWORD;
    private ProtocolException failure;

    public FrontendDecoder() {
        this(MessageFramer.DEFAULT_MAX_MESSAGE_LENGTH);
    }

    /** PostgreSQL caps startup packets at 10000 bytes; the typed-message bound is {@code maxMessageLength}. */
    public FrontendDecoder(int maxMessageLength) {
        this.framer = new MessageFramer(maxMessageLength);
    }

    public static final int MAX_STARTUP_PACKET_LENGTH = 10000;

    public void feed(byte[] bytes) {
        framer.feed(bytes);
    }

    public void feed(byte[] bytes, int off, int len) {
        framer.feed(bytes, off, len);
    }

    public void feed(ByteBuffer bytes) {
        framer.feed(bytes);
    }

    /** See {@link MessageFramer#limitMessageLength}. */
    public void limitMessageLength(int max) {
        framer.limitMessageLength(max);
    }

    public boolean inStartupPhase() {
        return startupPhase;
    }

    public void expectPassword(PasswordKind kind) {
        this.passwordKind = kind;
    }

    /** The next whole message, or null when more bytes are needed. */
    public FrontendMessage poll() {
        if (failure != null) {
            throw failure;
        }
        try {
            if (startupPhase) {
                MessageFramer.Frame f = framer.nextUntyped(MAX_STARTUP_PACKET_LENGTH);
                if (f == null) {
                    return null;
                }
                StartupPacket p = decodeStartup(f.body());
                if (p instanceof StartupMessage) {
                    startupPhase = false;
                }
                return p;
            }
            MessageFramer.Frame f = framer.nextTyped();
            return f == null ? null : decodeTyped(f.type(), f.body(), passwordKind);
        } catch (ProtocolException e) {
            failure = e;
            throw e;
        }
    }

    /** Decodes the body (after the length word) of a startup-phase packet. */
    public static StartupPacket decodeStartup(byte[] body) {
        if (body.length + 4 > MAX_STARTUP_PACKET_LENGTH) {
            throw new ProtocolException(ProtocolException.Kind.BAD_LENGTH,
                    "startup packet of " + (body.length + 4) + " bytes exceeds " + MAX_STARTUP_PACKET_LENGTH);
        }
        ByteReader r = new ByteReader(body, "startup packet");
        int code = r.int32("protocol version");
        StartupPacket p;
        if (code == FrontendMessage.SSL_REQUEST_CODE) {
            p = new SSLRequest();
        } else if (code == FrontendMessage.GSSENC_REQUEST_CODE) {
            p = new GSSENCRequest();
        } else if (code == FrontendMessage.CANCEL_REQUEST_CODE) {
            p = new CancelRequest(r.int32("process id"), r.int32("secret key"));
        } else if ((code >>> 16) == 3) {
            Map<String, String> params = new LinkedHashMap<>();
            while (true) {
                String name = r.cstring("parameter name");
                if (name.isEmpty()) {
                    break;
                }
                params.put(name, r.cstring("value of parameter " + name));
            }
            if (!params.containsKey("user")) {
                throw r.malformed("no PostgreSQL user name specified in startup packet");
            }
            p = new StartupMessage(code, params);
        } else {
            throw new ProtocolException(ProtocolException.Kind.UNSUPPORTED, "unsupported frontend protocol "
                    + (code >>> 16) + "." + (code & 0xFFFF) + ": server supports 3.0");
        }
        r.end();
        return p;
    }

    /** Decodes one typed message body. */
    public static Typed decodeTyped(char type, byte[] body, PasswordKind passwordKind) {
        if (type == 'd') {
            return new CopyData(body); // a page stream's every request: the body is the framer's own copy
        }
        ByteReader r = new ByteReader(body, "message '" + MessageFramer.printable(type) + "'");
        Typed m = switch (type) {
            case 'p' -> password(r, passwordKind);
            case 'Q' -> new Query(r.cstring("query"));
            case 'd' -> new CopyData(r.rest());
            case 'c' -> new CopyDone();
            case 'f' -> new CopyFail(r.cstring("error message"));
            case 'S' -> new Sync();
            case 'H' -> new Flush();
            case 'X' -> new Terminate();
            case 'P', 'B', 'E', 'D', 'C' -> throw new ProtocolException(ProtocolException.Kind.UNSUPPORTED,
                    "extended query protocol is not supported (got '" + type + "' " + extendedName(type)
                            + "); use the simple query protocol");
            case 'F' -> throw new ProtocolException(ProtocolException.Kind.UNSUPPORTED,
                    "fastpath function calls are not supported");
            default -> throw new ProtocolException(ProtocolException.Kind.UNKNOWN_TYPE,
                    "invalid frontend message type '" + MessageFramer.printable(type) + "'");
        };
        r.end();
        return m;
    }

    private static String extendedName(char t) {
        return switch (t) {
            case 'P' -> "Parse";
            case 'B' -> "Bind";
            case 'E' -> "Execute";
            case 'D' -> "Describe";
            default -> "Close";
        };
    }

    private static Typed password(ByteReader r, PasswordKind kind) {
        switch (kind) {
            case PASSWORD:
                return new PasswordMessage(r.cstring("password"));
            case SASL_INITIAL_RESPONSE: {
                String mech = r.cstring("SASL mechanism");
                int len = r.int32("SASL data length");
                if (len == -1) {
                    return new SASLInitialResponse(mech, null);
                }
                if (len < 0) {
                    throw r.malformed("negative SASL data length " + len);
                }
                return new SASLInitialResponse(mech, r.bytes(len, "SASL data"));
            }
            default:
                return new SASLResponse(r.rest());
        }
    }
}
