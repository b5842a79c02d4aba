package dev.zenith.protocol.auth;

/** An authentication exchange failed: wrong password, a malformed SASL message, or an unsupported option. */
public final class AuthenticationException extends RuntimeException {
    /** SQLSTATE invalid_password. */
    public static final String INVALID_PASSWORD = "28P01";
    /** SQLSTATE protocol_violation. */
    public static final String PROTOCOL_VIOLATION = "08P01";
    /** SQLSTATE feature_not_supported. */
    public static final String NOT_SUPPORTED = "0A000";

    private final String sqlState;

    public AuthenticationException(String sqlState, String message) {
        super(message);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
