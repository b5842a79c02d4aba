package dev.zenith.protocol.server;

import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.protocol.wire.FrontendMessage;

/** What {@link ServerHandshake} reports. */
public sealed interface ServerEvent {
    /** The client asked for SSL or GSS encryption; we answered 'N' and wait for its StartupMessage. */
    record EncryptionDeclined(String what) implements ServerEvent {
    }

    /** A CancelRequest: the connection carries nothing else and should be closed after acting on it. */
    record CancelRequested(int processId, int secretKey) implements ServerEvent {
    }

    record StartupReceived(FrontendMessage.StartupMessage startup, ServerHandshake.ReplicationMode mode)
            implements ServerEvent {
    }

    /** Authentication passed, the parameter set, BackendKeyData and ReadyForQuery have been queued. */
    record Ready(String user, String database, ServerHandshake.ReplicationMode mode) implements ServerEvent {
    }

    /** The handshake failed; a FATAL ErrorResponse with these fields is queued; close after sending it. */
    record Failed(ErrorFields error) implements ServerEvent {
    }
}
