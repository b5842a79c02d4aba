package dev.zenith.protocol.wire;

/**
 * A typed protocol failure: malformed or oversized bytes, a message we do not support, or a message
 * that is not allowed in the current state. Carries the SQLSTATE a server would report for it.
 */
public final class ProtocolException extends RuntimeException {
    /** What went wrong, coarse enough to switch on. */
    public enum Kind {
        /** The declared length is below the minimum or above the configured maximum. */
        BAD_LENGTH("08P01"),
        /** The bytes inside a message do not parse (missing terminator, short body, bad value). */
        MALFORMED("08P01"),
        /** A well-formed message type we do not implement (for example the extended query protocol). */
        UNSUPPORTED("0A000"),
        /** A message type byte that no PostgreSQL version defines. */
        UNKNOWN_TYPE("08P01"),
        /** A valid message that is not allowed in the current conversation state. */
        UNEXPECTED("08P01");

        private final String sqlState;

        Kind(String sqlState) {
            this.sqlState = sqlState;
        }

        public String sqlState() {
            return sqlState;
        }
    }

    private final Kind kind;

    public ProtocolException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** The SQLSTATE to put in an ErrorResponse for this failure. */
    public String sqlState() {
        return kind.sqlState();
    }
}
