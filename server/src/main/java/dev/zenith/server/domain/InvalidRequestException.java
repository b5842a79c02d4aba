package dev.zenith.server.domain;

/** The request itself is wrong: a bad name, point, field or combination (nothing changed). */
public final class InvalidRequestException extends DomainException {
    public InvalidRequestException(String message) {
        super(message);
    }

    @Override
    public InvalidRequestException reworded(String message) {
        return new InvalidRequestException(message);
    }
}
