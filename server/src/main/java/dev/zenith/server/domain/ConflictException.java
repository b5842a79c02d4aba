package dev.zenith.server.domain;

/** The request is well formed but conflicts with the present state (exists already, in use, running...). */
public final class ConflictException extends DomainException {
    public ConflictException(String message) {
        super(message);
    }

    @Override
    public ConflictException reworded(String message) {
        return new ConflictException(message);
    }
}
