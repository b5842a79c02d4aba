package dev.zenith.server.domain;

/**
 * A request the daemon's domain refuses or cannot serve, with the message the client sees. One of a few
 * kinds, each a subclass; the REST layer alone maps a kind to an HTTP status (api.ErrorStatus).
 */
public abstract sealed class DomainException extends RuntimeException
        permits InvalidRequestException, NotFoundException, ConflictException, UnavailableException {

    DomainException(String message) {
        super(message);
    }

    /** The same kind of refusal with another message (e.g. what was done before it). */
    public abstract DomainException reworded(String message);
}
