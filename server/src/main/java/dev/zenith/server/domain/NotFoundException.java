package dev.zenith.server.domain;

/** What the request names does not exist. */
public final class NotFoundException extends DomainException {
    public NotFoundException(String message) {
        super(message);
    }

    @Override
    public NotFoundException reworded(String message) {
        return new NotFoundException(message);
    }
}
