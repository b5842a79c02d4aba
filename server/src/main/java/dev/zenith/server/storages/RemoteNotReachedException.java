package dev.zenith.server.storages;

/**
 * A storage kept elsewhere cannot be opened now because its remote does not answer (and there is no local
 * cache to work from): the registry keeps it unavailable and tries again, with backoff, until it answers.
 */
public final class RemoteNotReachedException extends RuntimeException {
    public RemoteNotReachedException(String message, Throwable cause) {
        super(message, cause);
    }
}
