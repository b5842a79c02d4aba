package dev.zenith.protocol.wire;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Messages a PostgreSQL server sends (protocol-message-formats). One small record per message;
 * {@link BackendDecoder} and {@link BackendEncoder} own the bytes.
 */
public sealed interface BackendMessage {
    /** The message type byte. */
    char type();

    // ---- authentication ('R') ----

    sealed interface Authentication extends BackendMessage {
        @Override
        default char type() {
            return 'R';
        }
    }

    record AuthenticationOk() implements Authentication {
    }

    record AuthenticationCleartextPassword() implements Authentication {
    }

    /** {@code salt} is 4 bytes. */
    record AuthenticationMD5Password(byte[] salt) implements Authentication {
        public AuthenticationMD5Password {
            if (salt.length != 4) {
                throw new IllegalArgumentException("MD5 salt must be 4 bytes");
            }
        }
    }

    record AuthenticationSASL(List<String> mechanisms) implements Authentication {
        public AuthenticationSASL {
            mechanisms = List.copyOf(mechanisms);
        }
    }

    record AuthenticationSASLContinue(byte[] data) implements Authentication {
    }

    record AuthenticationSASLFinal(byte[] data) implements Authentication {
    }

    // ---- session setup ----

    record ParameterStatus(String name, String value) implements BackendMessage {
        public char type() {
            return 'S';
        }
    }

    record BackendKeyData(int processId, int secretKey) implements BackendMessage {
        public char type() {
            return 'K';
        }
    }

    /** {@code status} is 'I' (idle), 'T' (in transaction) or 'E' (failed transaction). */
    record ReadyForQuery(char status) implements BackendMessage {
        public char type() {
            return 'Z';
        }
    }

    // ---- query results ----

    record Field(String name, int tableOid, short columnAttr, int typeOid, short typeSize, int typeModifier,
                 short format) {
        /** A text-format column of the given type (25 = text, 23 = int4, 20 = int8). */
        public static Field text(String name, int typeOid) {
            return new Field(name, 0, (short) 0, typeOid, (short) -1, -1, (short) 0);
        }
    }

    record RowDescription(List<Field> fields) implements BackendMessage {
        public RowDescription {
            fields = List.copyOf(fields);
        }

        public char type() {
            return 'T';
        }
    }

    /** Column values; a null element is SQL NULL. */
    record DataRow(List<byte[]> values) implements BackendMessage {
        public DataRow {
            values = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
        }

        public static DataRow ofText(String... texts) {
            java.util.ArrayList<byte[]> v = new java.util.ArrayList<>();
            for (String t : texts) {
                v.add(t == null ? null : t.getBytes(StandardCharsets.UTF_8));
            }
            return new DataRow(v);
        }

        /** Column {@code i} as UTF-8 text, or null for NULL. */
        public String text(int i) {
            byte[] b = values.get(i);
            return b == null ? null : new String(b, StandardCharsets.UTF_8);
        }

        public char type() {
            return 'D';
        }
    }

    record CommandComplete(String tag) implements BackendMessage {
        public char type() {
            return 'C';
        }
    }

    record EmptyQueryResponse() implements BackendMessage {
        public char type() {
            return 'I';
        }
    }

    record ErrorResponse(ErrorFields fields) implements BackendMessage {
        public char type() {
            return 'E';
        }
    }

    record NoticeResponse(ErrorFields fields) implements BackendMessage {
        public char type() {
            return 'N';
        }
    }

    // ---- COPY ----

    /** Common shape of CopyIn/CopyOut/CopyBothResponse: overall format (0 text, 1 binary) and per-column formats. */
    sealed interface CopyResponse extends BackendMessage {
        byte format();

        List<Short> columnFormats();
    }

    record CopyInResponse(byte format, List<Short> columnFormats) implements CopyResponse {
        public CopyInResponse {
            columnFormats = List.copyOf(columnFormats);
        }

        public char type() {
            return 'G';
        }
    }

    record CopyOutResponse(byte format, List<Short> columnFormats) implements CopyResponse {
        public CopyOutResponse {
            columnFormats = List.copyOf(columnFormats);
        }

        public char type() {
            return 'H';
        }
    }

    record CopyBothResponse(byte format, List<Short> columnFormats) implements CopyResponse {
        public CopyBothResponse {
            columnFormats = List.copyOf(columnFormats);
        }

        public char type() {
            return 'W';
        }
    }

    record CopyData(byte[] data) implements BackendMessage {
        public char type() {
            return 'd';
        }
    }

    record CopyDone() implements BackendMessage {
        public char type() {
            return 'c';
        }
    }
}
