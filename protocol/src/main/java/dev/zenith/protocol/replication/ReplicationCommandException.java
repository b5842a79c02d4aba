package dev.zenith.protocol.replication;

import dev.zenith.protocol.wire.ErrorFields;

/** A replication command that does not parse or has invalid options: SQLSTATE 42601 (syntax_error). */
public final class ReplicationCommandException extends RuntimeException {
    public static final String SYNTAX_ERROR = "42601";

    public ReplicationCommandException(String message) {
        super(message);
    }

    public String sqlState() {
        return SYNTAX_ERROR;
    }

    /** The fields of the ErrorResponse a server should send for this error. */
    public ErrorFields errorFields() {
        return ErrorFields.of("ERROR", SYNTAX_ERROR, getMessage());
    }
}
