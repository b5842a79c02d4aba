package dev.zenith.server.domain;

/** Cannot be served now, but may be later (a replica still catching up, a store still indexing). */
public final class UnavailableException extends DomainException {
    public UnavailableException(String message) {
        super(message);
    }

    @Override
    public UnavailableException reworded(String message) {
        return new UnavailableException(message);
    }
}
