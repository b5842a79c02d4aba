package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.RequestHeader;
import dev.zenith.wal.Lsn;

/**
 * At which LSN a request is answered, as Neon's page service decides it ({@code effective_request_lsn}
 * and {@code wait_or_get_last_lsn} in page_service.rs): the request LSN ({@link RequestHeader#LATEST}
 * for the newest) capped at the stored end, once the WAL up to not_modified_since is stored. Pure.
 *
 * <p>Differences from Neon: the answer after a wait is at min(stored end, request LSN), where Neon
 * answers at not_modified_since (both are right, by the client's promise that nothing changed in
 * between); a not_modified_since that the timeline cannot reach (no compute writes it, or the LSN is
 * the all-ones "latest" value) is refused at once instead of waiting for the timeout; a request LSN
 * below the retention horizon is refused whatever leases Neon would honour (we have none).
 */
final class LsnRules {
    private LsnRules() {
    }

    /** What to do with one request. */
    sealed interface Decision {
    }

    /** Answer at this LSN. */
    record AnswerAt(Lsn lsn) implements Decision {
    }

    /** The stored WAL does not reach not_modified_since yet, and it will: wait for it, then decide again. */
    record WaitFor(Lsn lsn) implements Decision {
    }

    /** A bad request; the message goes to the client in a pagestream Error. */
    record Refuse(String message) implements Decision {
    }

    /** The refusal the header alone calls for, or null. */
    static Refuse checkHeader(RequestHeader h) {
        Lsn request = h.requestLsn();
        Lsn notModifiedSince = h.notModifiedSince();
        if (request.isBefore(notModifiedSince)) {
            return new Refuse("invalid request with request LSN " + request + " and not_modified_since " + notModifiedSince);
        }
        if (!request.isValid()) {
            return new Refuse("invalid LSN(0) in request");
        }
        return null;
    }

    /** {@code timelineName}: what messages call the timeline (its toString, made only for a refusal: not per request). */
    static Decision decide(RequestHeader h, TimelineBounds timeline, Object timelineName) {
        Refuse bad = checkHeader(h);
        if (bad != null) {
            return bad;
        }
        Lsn request = h.requestLsn();
        Lsn notModifiedSince = h.notModifiedSince();
        if (timeline.horizon() == null) {
            return new Refuse("timeline " + timelineName + " has no image: no LSN of it can be read");
        }
        if (request.isBefore(timeline.horizon())) {
            return new Refuse("requested LSN " + request + " is before the retention horizon " + timeline.horizon()
                    + " of timeline " + timelineName);
        }
        if (notModifiedSince.isAfter(timeline.stored())) {
            if (notModifiedSince.equals(RequestHeader.LATEST)) {
                return new Refuse("not_modified_since " + notModifiedSince + " is beyond any WAL timeline " + timelineName
                        + " will have; give the LSN the page was last changed at (or the end of WAL you know of)");
            }
            if (!timeline.growing()) {
                return new Refuse("not_modified_since " + notModifiedSince + " is beyond the end of WAL " + timeline.stored()
                        + " of timeline " + timelineName + ", and no running compute writes to it");
            }
            return new WaitFor(notModifiedSince);
        }
        return new AnswerAt(Lsn.min(timeline.end(), request));
    }
}
