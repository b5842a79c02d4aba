package dev.zenith.server.api;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.domain.NotFoundException;
import dev.zenith.server.domain.UnavailableException;

/** The one place a failure becomes an HTTP status: the domain's kinds of refusal, then anything else (500). */
final class ErrorStatus {
    private ErrorStatus() {
    }

    static int of(Throwable t) {
        if (t instanceof ApiException api) {
            return api.status();
        }
        if (t instanceof InvalidRequestException) {
            return 400;
        }
        if (t instanceof NotFoundException) {
            return 404;
        }
        if (t instanceof ConflictException) {
            return 409;
        }
        if (t instanceof UnavailableException) {
            return 503;
        }
        return 500;
    }

    /** Whether the failure is a refusal the client caused or can wait out (not logged as the daemon's fault). */
    static boolean expected(Throwable t) {
        return t instanceof ApiException || t instanceof dev.zenith.server.domain.DomainException;
    }
}
