package dev.zenith.protocol.wire;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The fields of an ErrorResponse or NoticeResponse, keyed by PostgreSQL's one-byte field codes
 * (protocol-error-fields). Unknown codes are kept, as the protocol requires clients to ignore them.
 */
public record ErrorFields(Map<Character, String> fields) {
    public static final char SEVERITY = 'S';
    public static final char SEVERITY_NON_LOCALIZED = 'V';
    public static final char CODE = 'C';
    public static final char MESSAGE = 'M';
    public static final char DETAIL = 'D';
    public static final char HINT = 'H';
    public static final char POSITION = 'P';
    public static final char INTERNAL_POSITION = 'p';
    public static final char INTERNAL_QUERY = 'q';
    public static final char WHERE = 'W';
    public static final char SCHEMA = 's';
    public static final char TABLE = 't';
    public static final char COLUMN = 'c';
    public static final char DATA_TYPE = 'd';
    public static final char CONSTRAINT = 'n';
    public static final char FILE = 'F';
    public static final char LINE = 'L';
    public static final char ROUTINE = 'R';

    public ErrorFields {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** The minimal fields a server must send: severity (localized and not), SQLSTATE and message. */
    public static ErrorFields of(String severity, String sqlState, String message) {
        Map<Character, String> m = new LinkedHashMap<>();
        m.put(SEVERITY, severity);
        m.put(SEVERITY_NON_LOCALIZED, severity);
        m.put(CODE, sqlState);
        m.put(MESSAGE, message);
        return new ErrorFields(m);
    }

    /** A copy with one more field. */
    public ErrorFields with(char code, String value) {
        Map<Character, String> m = new LinkedHashMap<>(fields);
        m.put(code, value);
        return new ErrorFields(m);
    }

    public String get(char code) {
        return fields.get(code);
    }

    public String severity() {
        String v = fields.get(SEVERITY_NON_LOCALIZED);
        return v != null ? v : fields.get(SEVERITY);
    }

    public String code() {
        return fields.get(CODE);
    }

    public String message() {
        return fields.get(MESSAGE);
    }

    public String detail() {
        return fields.get(DETAIL);
    }

    public String hint() {
        return fields.get(HINT);
    }

    public String position() {
        return fields.get(POSITION);
    }

    public String where() {
        return fields.get(WHERE);
    }

    public String routine() {
        return fields.get(ROUTINE);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(severity()).append(' ').append(code()).append(": ").append(message());
        if (detail() != null) {
            sb.append(" DETAIL: ").append(detail());
        }
        if (hint() != null) {
            sb.append(" HINT: ").append(hint());
        }
        return sb.toString();
    }
}
