package dev.zenith.protocol.auth;

import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendMessage;

import java.util.Optional;

/**
 * The client's half of the authentication phase: answers each Authentication* request (cleartext,
 * MD5, SCRAM-SHA-256) with the message to send. One instance per connection.
 */
public final class ClientAuthentication {
    private final String user;
    private final String password;
    private ScramClient scram;
    private boolean done;

    /** {@code password} may be null when the server is expected to trust us. */
    public ClientAuthentication(String user, String password) {
        this.user = user;
        this.password = password;
    }

    /** The reply to {@code request}, or empty when none is due (AuthenticationOk, SASLFinal). */
    public Optional<FrontendMessage> handle(Authentication request) {
        if (request instanceof AuthenticationOk) {
            if (scram != null && !scram.isComplete()) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "server accepted us before completing the SCRAM exchange");
            }
            done = true;
            return Optional.empty();
        }
        if (request instanceof AuthenticationCleartextPassword) {
            return Optional.of(new FrontendMessage.PasswordMessage(requirePassword("cleartext")));
        }
        if (request instanceof AuthenticationMD5Password md5) {
            return Optional.of(new FrontendMessage.PasswordMessage(
                    Md5Password.response(user, requirePassword("MD5"), md5.salt())));
        }
        if (request instanceof AuthenticationSASL sasl) {
            if (!sasl.mechanisms().contains(Scram.MECHANISM)) {
                throw new AuthenticationException(AuthenticationException.NOT_SUPPORTED,
                        "server offers SASL mechanisms " + sasl.mechanisms() + " but we only support " + Scram.MECHANISM);
            }
            if (scram != null) {
                throw unexpected(request);
            }
            scram = new ScramClient(requirePassword("SCRAM-SHA-256"));
            return Optional.of(new FrontendMessage.SASLInitialResponse(Scram.MECHANISM, scram.clientFirstMessage()));
        }
        if (request instanceof AuthenticationSASLContinue c) {
            if (scram == null) {
                throw unexpected(request);
            }
            return Optional.of(new FrontendMessage.SASLResponse(scram.clientFinalMessage(c.data())));
        }
        if (request instanceof AuthenticationSASLFinal f) {
            if (scram == null) {
                throw unexpected(request);
            }
            scram.verifyServerFinal(f.data());
            return Optional.empty();
        }
        throw unexpected(request);
    }

    public boolean isDone() {
        return done;
    }

    private String requirePassword(String method) {
        if (password == null) {
            throw new AuthenticationException(AuthenticationException.INVALID_PASSWORD,
                    "server requested " + method + " password authentication but no password was configured");
        }
        return password;
    }

    private static AuthenticationException unexpected(BackendMessage m) {
        return new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                "unexpected authentication message " + m.getClass().getSimpleName());
    }
}
