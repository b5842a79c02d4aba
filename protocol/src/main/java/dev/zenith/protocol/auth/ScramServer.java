package dev.zenith.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;

/**
 * Server side of SCRAM-SHA-256 (no channel binding) against a stored {@link ScramVerifier}:
 * {@link #serverFirstMessage(byte[])} with the client-first message, then
 * {@link #serverFinalMessage(byte[])} with the client-final message. For an unknown user pass a
 * null verifier: the exchange runs with a made-up salt and fails at the proof, as PostgreSQL does,
 * so the client cannot tell unknown users from wrong passwords.
 */
public final class ScramServer {
    private enum State { INITIAL, FIRST_SENT, DONE, FAILED }

    private final ScramVerifier verifier;
    private final boolean userKnown;
    private final String serverNonceSuffix;
    private State state = State.INITIAL;
    private String gs2Header;
    private String clientFirstBare;
    private String serverFirst;
    private String nonce;

    public ScramServer(ScramVerifier verifier) {
        this.userKnown = verifier != null;
        this.verifier = verifier != null ? verifier : ScramVerifier.generate(Scram.nonce());
        this.serverNonceSuffix = Scram.nonce();
    }

    /** Takes SASLInitialResponse data; returns AuthenticationSASLContinue data. */
    public byte[] serverFirstMessage(byte[] clientFirst) {
        require(State.INITIAL);
        try {
            String cf = new String(clientFirst, StandardCharsets.UTF_8);
            if (cf.startsWith("p=")) {
                throw new AuthenticationException(AuthenticationException.NOT_SUPPORTED,
                        "SCRAM channel binding is not supported by this server");
            }
            if (!cf.startsWith("n,") && !cf.startsWith("y,")) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM client-first message: unexpected channel-binding flag");
            }
            int second = cf.indexOf(',', 2);
            if (second < 0) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM client-first message: incomplete GS2 header");
            }
            if (second != 2) {
                throw new AuthenticationException(AuthenticationException.NOT_SUPPORTED,
                        "client uses authorization identity, but it is not supported");
            }
            gs2Header = cf.substring(0, 3);
            clientFirstBare = cf.substring(3);
            if (clientFirstBare.startsWith("m=")) {
                throw new AuthenticationException(AuthenticationException.NOT_SUPPORTED,
                        "client requires an unsupported SCRAM extension");
            }
            Map<Character, String> a = Scram.attributes(clientFirstBare, "client-first message", 'n', 'r');
            String clientNonce = a.get('r');
            if (clientNonce.isEmpty() || !clientNonce.chars().allMatch(c -> c >= 0x21 && c <= 0x7E && c != ',')) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM client-first message: invalid nonce");
            }
            nonce = clientNonce + serverNonceSuffix;
            serverFirst = "r=" + nonce + ",s=" + Scram.b64(verifier.salt()) + ",i=" + verifier.iterations();
            state = State.FIRST_SENT;
            return serverFirst.getBytes(StandardCharsets.UTF_8);
        } catch (AuthenticationException e) {
            state = State.FAILED;
            throw e;
        }
    }

    /** Takes SASLResponse data; returns AuthenticationSASLFinal data, or throws (28P01) on a wrong password. */
    public byte[] serverFinalMessage(byte[] clientFinal) {
        require(State.FIRST_SENT);
        try {
            String cf = new String(clientFinal, StandardCharsets.UTF_8);
            Map<Character, String> a = Scram.attributes(cf, "client-final message", 'c', 'r');
            String proofB64 = a.get('p');
            if (proofB64 == null || !cf.endsWith(",p=" + proofB64)) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM client-final message: proof must be the last attribute");
            }
            byte[] cbind = Scram.unb64(a.get('c'), "channel binding");
            if (!gs2Header.equals(new String(cbind, StandardCharsets.UTF_8))) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "SCRAM channel binding check failed");
            }
            if (!nonce.equals(a.get('r'))) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "SCRAM nonce mismatch");
            }
            String withoutProof = cf.substring(0, cf.length() - (",p=" + proofB64).length());
            String authMessage = clientFirstBare + "," + serverFirst + "," + withoutProof;
            byte[] proof = Scram.unb64(proofB64, "proof");
            byte[] signature = Scram.hmac(verifier.storedKey(), authMessage);
            if (proof.length != signature.length) {
                throw new AuthenticationException(AuthenticationException.PROTOCOL_VIOLATION,
                        "malformed SCRAM client-final message: proof has wrong length");
            }
            byte[] clientKey = Scram.xor(proof, signature);
            if (!MessageDigest.isEqual(Scram.sha256(clientKey), verifier.storedKey()) || !userKnown) {
                throw new AuthenticationException(AuthenticationException.INVALID_PASSWORD,
                        "password authentication failed");
            }
            state = State.DONE;
            return ("v=" + Scram.b64(Scram.hmac(verifier.serverKey(), authMessage))).getBytes(StandardCharsets.UTF_8);
        } catch (AuthenticationException e) {
            state = State.FAILED;
            throw e;
        }
    }

    public boolean isAuthenticated() {
        return state == State.DONE;
    }

    private void require(State s) {
        if (state != s) {
            throw new IllegalStateException("SCRAM server in state " + state + ", expected " + s);
        }
    }
}
