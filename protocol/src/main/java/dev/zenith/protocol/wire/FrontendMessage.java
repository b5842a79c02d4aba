package dev.zenith.protocol.wire;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Messages a PostgreSQL client sends. The startup-phase packets have no type byte
 * ({@link StartupPacket}); the rest are typed. {@link FrontendDecoder} and {@link FrontendEncoder}
 * own the bytes.
 */
public sealed interface FrontendMessage {

    /** Untyped packets of the startup phase, identified by their first int32 (version or request code). */
    sealed interface StartupPacket extends FrontendMessage {
    }

    int PROTOCOL_3_0 = 196608;
    int SSL_REQUEST_CODE = 80877103;
    int GSSENC_REQUEST_CODE = 80877104;
    int CANCEL_REQUEST_CODE = 80877102;

    /** {@code parameters} keep the client's order: user, database, replication, application_name, options... */
    record StartupMessage(int protocolVersion, Map<String, String> parameters) implements StartupPacket {
        public StartupMessage {
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }

        public static StartupMessage of(Map<String, String> parameters) {
            return new StartupMessage(PROTOCOL_3_0, parameters);
        }

        public String user() {
            return parameters.get("user");
        }

        /** The database; PostgreSQL defaults it to the user name. */
        public String database() {
            String d = parameters.get("database");
            return d != null ? d : user();
        }

        /** The {@code replication} parameter as given (true/on/yes/1, database, false...), or null. */
        public String replication() {
            return parameters.get("replication");
        }
    }

    record SSLRequest() implements StartupPacket {
    }

    record GSSENCRequest() implements StartupPacket {
    }

    record CancelRequest(int processId, int secretKey) implements StartupPacket {
    }

    /** Typed messages carry their type byte. */
    sealed interface Typed extends FrontendMessage {
        char type();
    }

    /** 'p' answering AuthenticationCleartextPassword or AuthenticationMD5Password ("md5..." hash). */
    record PasswordMessage(String password) implements Typed {
        public char type() {
            return 'p';
        }
    }

    /** 'p' answering AuthenticationSASL; {@code data} is null when the client sent length -1. */
    record SASLInitialResponse(String mechanism, byte[] data) implements Typed {
        public char type() {
            return 'p';
        }
    }

    /** 'p' answering AuthenticationSASLContinue. */
    record SASLResponse(byte[] data) implements Typed {
        public char type() {
            return 'p';
        }
    }

    record Query(String sql) implements Typed {
        public char type() {
            return 'Q';
        }
    }

    record CopyData(byte[] data) implements Typed {
        public char type() {
            return 'd';
        }
    }

    record CopyDone() implements Typed {
        public char type() {
            return 'c';
        }
    }

    record CopyFail(String message) implements Typed {
        public char type() {
            return 'f';
        }
    }

    record Sync() implements Typed {
        public char type() {
            return 'S';
        }
    }

    record Flush() implements Typed {
        public char type() {
            return 'H';
        }
    }

    record Terminate() implements Typed {
        public char type() {
            return 'X';
        }
    }
}
