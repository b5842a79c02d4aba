package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.*;
import dev.zenith.storage.StoreException;
import dev.zenith.storage.page.PageUnavailableException;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.SlruKind;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Answers one pagestream request from its target (blocking: LMDB reads; a worker thread's job): the
 * timeline's bounds, {@link LsnRules}, then the {@link dev.zenith.storage.page.PageSource}. Every
 * failure that concerns the request becomes a pagestream Error, so the stream goes on.
 */
final class RequestAnswers {
    private static final Logger LOG = Logger.getLogger(RequestAnswers.class.getName());

    /** The answer, or the LSN whose WAL must be stored before the request can be answered. */
    sealed interface Outcome {
    }

    record Answered(PagestreamResponse response) implements Outcome {
    }

    record WaitForWal(Lsn lsn, Lsn storedEnd) implements Outcome {
    }

    private final BoundsCache bounds;

    RequestAnswers(BoundsCache bounds) {
        this.bounds = bounds;
    }

    Outcome answer(PageTarget t, PagestreamRequest request) {
        RequestHeader h = request.header();
        try {
            // What the header alone shows wrong is refused without reading the store.
            LsnRules.Refuse early = LsnRules.checkHeader(h);
            if (early != null) {
                return error(h, early.message());
            }
            TimelineBounds bounds = this.bounds.of(t);
            LsnRules.Decision d = LsnRules.decide(h, bounds, t.timeline().toString());
            if (d instanceof LsnRules.WaitFor) {
                bounds = this.bounds.fresh(t); // the WAL may have come since the bounds were read
                d = LsnRules.decide(h, bounds, t.timeline().toString());
            }
            if (d instanceof LsnRules.Refuse r) {
                return error(h, r.message());
            }
            if (d instanceof LsnRules.WaitFor w) {
                return new WaitForWal(w.lsn(), bounds.stored());
            }
            return new Answered(read(t, request, ((LsnRules.AnswerAt) d).lsn()));
        } catch (PageUnavailableException e) {
            return error(h, e.getMessage());
        } catch (IllegalArgumentException e) {
            return error(h, e.getMessage()); // an invalid fork number or SLRU kind
        } catch (StoreException e) {
            LOG.log(Level.WARNING, "page service: reading for " + describe(request) + " failed", e);
            return error(h, "could not read " + describe(request) + ": " + e.getMessage());
        }
    }

    private static PagestreamResponse read(PageTarget t, PagestreamRequest request, Lsn at) {
        if (request instanceof GetPageRequest g) {
            return new GetPageResponse(g, t.source().page(t.timeline(), g.rel().toRelTag(), g.blockNumber(), at));
        }
        if (request instanceof NblocksRequest n) {
            return new NblocksResponse(n, t.source().nblocks(t.timeline(), n.rel().toRelTag(), at));
        }
        if (request instanceof ExistsRequest e) {
            return new ExistsResponse(e, t.source().exists(t.timeline(), e.rel().toRelTag(), at));
        }
        if (request instanceof DbSizeRequest d) {
            return new DbSizeResponse(d, t.source().dbSize(t.timeline(), d.dbNode(), at));
        }
        GetSlruSegmentRequest s = (GetSlruSegmentRequest) request;
        return new SlruSegmentResponse(s, t.source().slruSegment(t.timeline(), SlruKind.of(s.kind()), s.segmentNumber(), at));
    }

    static Answered error(RequestHeader h, String message) {
        return new Answered(new PagestreamErrorResponse(h, message.replace('\0', ' ')));
    }

    static String describe(PagestreamRequest r) {
        if (r instanceof GetPageRequest g) {
            return "block " + Integer.toUnsignedString(g.blockNumber()) + " of " + g.rel();
        }
        return r.getClass().getSimpleName() + " " + r.header().describe();
    }
}
