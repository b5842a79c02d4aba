package dev.zenith.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;

/**
 * Client side of SCRAM-SHA-256 without channel binding, as libpq does it against PostgreSQL:
 * {@link #clientFirstMessage()}, then {@link #clientFinalMessage(byte[])} with the server-first
 * message, then {@link #verifyServerFinal(byte[])}. One instance per exchange.
 */
public final class ScramClient {
    private enum State { INITIAL, FIRST_SENT, FINAL_SENT, DONE }

    private static final String GS2_HEADER = "n,,";
    private final byte[] password;
    private final String clientNonce;
    private State state = State.INITIAL;
    private String clientFirstBare;
    private byte[] serverKey;
    private String authMessage;

    public ScramClient(String password) {
        this(password, Scram.nonce());
    }

    /** With a chosen nonce (tests); it must be printable ASCII without commas. */
    public ScramClient(String password, String clientNonce) {
        this.password = Scram.saslPrep(password);
        this.clientNonce = clientNonce;
    }

    /** The SASLInitialResponse data. PostgreSQL takes the user from the startup packet, so {@code n=} is empty. */
    public byte[] clientFirstMessage() {
        require(State.INITIAL);
        clientFirstBare = "n=,r=" + clientNonce;
        state = State.FIRST_SENT;
        return (GS2_HEADER + clientFirstBare).getBytes(StandardCharsets.UTF_8);
    }

    /** Takes the server-first message (AuthenticationSASLContinue data) and returns the SASLResponse data. */
    public byte[] clientFinalMessage(byte[] serverFirst) {
        require(State.FIRST_SENT);
        String sf = new String(serverFirst, StandardCharsets.UTF_8);
        Map<Character, String> a = Scram.attributes(sf, "server-first message", 'r', 's', 'i');
        String nonce = a.get('r');
        if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()) {
            throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                    "SCRAM server nonce does not extend the client nonce");
        }
        byte[] salt = Scram.unb64(a.get('s'), "salt");
        int iterations;
        try {
            iterations = Integer.parseInt(a.get('i'));
        } catch (NumberFormatException e) {
            throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                    "malformed SCRAM server-first message: bad iteration count '" + a.get('i') + "'");
        }
        if (iterations < 1 || iterations > 10_000_000) {
            throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                    "SCRAM iteration count out of range: " + iterations);
        }
        byte[] salted = Scram.hi(password, salt, iterations);
        byte[] clientKey = Scram.hmac(salted, "Client Key");
        byte[] storedKey = Scram.sha256(clientKey);
        serverKey = Scram.hmac(salted, "Server Key");
        String withoutProof = "c=" + Scram.b64(GS2_HEADER.getBytes(StandardCharsets.US_ASCII)) + ",r=" + nonce;
        authMessage = clientFirstBare + "," + sf + "," + withoutProof;
        byte[] proof = Scram.xor(clientKey, Scram.hmac(storedKey, authMessage));
        state = State.FINAL_SENT;
        return (withoutProof + ",p=" + Scram.b64(proof)).getBytes(StandardCharsets.UTF_8);
    }

    /** Checks the server signature in AuthenticationSASLFinal data; throws when the server is not genuine. */
    public void verifyServerFinal(byte[] serverFinal) {
        require(State.FINAL_SENT);
        String s = new String(serverFinal, StandardCharsets.UTF_8);
        if (s.startsWith("e=")) {
            throw new AuthenticationException(AuthenticationException.INVALID_PASSWORD,
                    "SCRAM server reported error: " + s.substring(2));
        }
        Map<Character, String> a = Scram.attributes(s, "server-final message", 'v');
        byte[] expected = Scram.hmac(serverKey, authMessage);
        if (!MessageDigest.isEqual(expected, Scram.unb64(a.get('v'), "server signature"))) {
            throw new AuthenticationException(AuthenticationException.INVALID_PASSWORD,
                    "SCRAM server signature is wrong: the server does not know the password");
        }
        state = State.DONE;
    }

    public boolean isComplete() {
        return state == State.DONE;
    }

    private void require(State s) {
        if (state != s) {
            throw new IllegalStateException("SCRAM client in state " + state + ", expected " + s);
        }
    }
}
