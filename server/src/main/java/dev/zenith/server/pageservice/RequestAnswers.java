package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.*;
import dev.zenith.storage.failure.StoreException;
import dev.zenith.storage.page.PageUnavailableException;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.SlruKind;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Answers one pagestream request from its target (blocking: LMDB reads; a page I/O thread's job, never a
 * Vert.x event loop's): the timeline's bounds, {@link LsnRules}, then the
 * {@link dev.zenith.storage.page.PageSource}. Every failure that concerns the request becomes a pagestream
 * Error, so the stream goes on.
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

    /** Answered later (a page or SLRU segment a redo run makes): the thread that asked is free meanwhile. Never fails. */
    record Later(CompletableFuture<Answered> answer) implements Outcome {
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
            LsnRules.Decision d = LsnRules.decide(h, bounds, t.timeline());
            if (d instanceof LsnRules.WaitFor) {
                bounds = this.bounds.fresh(t); // the WAL may have come since the bounds were read
                d = LsnRules.decide(h, bounds, t.timeline());
            }
            if (d instanceof LsnRules.Refuse r) {
                return error(h, r.message());
            }
            if (d instanceof LsnRules.WaitFor w) {
                return new WaitForWal(w.lsn(), bounds.stored());
            }
            Lsn at = ((LsnRules.AnswerAt) d).lsn();
            if (request instanceof GetPageRequest g) {
                // answered at the end of WAL when handled, as Neon: a redo run's target may be later than `at`
                // the page stays as stored until it is decoded into the socket's buffer
                return whenDone(request, t.source().storedPageLater(t.timeline(), g.rel().toRelTag(), g.blockNumber(), at,
                                h.requestLsn()),
                        p -> new GetPageResponse(g, (PageContent) p::decodeInto));
            }
            if (request instanceof GetSlruSegmentRequest s) {
                return whenDone(request, t.source().slruSegmentLater(t.timeline(), SlruKind.of(s.kind()), s.segmentNumber(), at),
                        segment -> new SlruSegmentResponse(s, segment));
            }
            // An index catching up with the WAL writes LMDB, and free-space map lengths may take a redo run:
            // neither on this thread. Both done (the common case), the sizes are read here.
            CompletableFuture<Void> ready = t.source().sizesReady(t.timeline(), at);
            if (needsFreeSpaceMaps(request)) {
                ready = ready.isDone() ? t.source().freeSpaceMapsReady(t.timeline(), at)
                        : ready.thenCompose(v -> t.source().freeSpaceMapsReady(t.timeline(), at));
            }
            if (!ready.isDone()) {
                return whenDone(request, ready.thenApply(v -> read(t, request, at)), r -> r);
            }
            return new Answered(read(t, request, at));
        } catch (CompletionException e) {
            return failed(request, e.getCause() != null ? e.getCause() : e);
        } catch (RuntimeException e) {
            return failed(request, e);
        }
    }

    /**
     * DbSize counts the free-space maps; Exists and Nblocks of one ask for their lengths. Never throws (an invalid
     * fork number is not one: its Error answer comes from {@link #answer}).
     */
    static boolean needsFreeSpaceMaps(PagestreamRequest request) {
        return request instanceof DbSizeRequest
                || (request instanceof NblocksRequest n && n.rel().forkNumber() == ForkNumber.FSM.id())
                || (request instanceof ExistsRequest e && e.rel().forkNumber() == ForkNumber.FSM.id());
    }

    /** The answer now if the source has it, else later (a redo run's), without holding this thread. */
    private static <T> Outcome whenDone(PagestreamRequest request, CompletableFuture<T> result,
                                        Function<T, PagestreamResponse> response) {
        if (result.isDone()) {
            return new Answered(response.apply(result.join()));
        }
        return new Later(result.handle((r, failure) -> failure == null ? new Answered(response.apply(r))
                : failedLater(request, failure instanceof CompletionException c && c.getCause() != null ? c.getCause() : failure)));
    }

    /** What a failure of reading the store becomes: an Error answer (the stream goes on), or a bug's exception. */
    private static Answered failed(PagestreamRequest request, Throwable e) {
        RequestHeader h = request.header();
        if (e instanceof PageUnavailableException || e instanceof IllegalArgumentException) {
            return error(h, e.getMessage()); // IllegalArgumentException: an invalid fork number or SLRU kind
        }
        if (e instanceof StoreException || e instanceof java.io.UncheckedIOException) {
            LOG.log(Level.WARNING, "page service: reading for " + describe(request) + " failed", e);
            return error(h, "could not read " + describe(request) + ": " + e.getMessage());
        }
        if (e instanceof RuntimeException r) {
            throw r;
        }
        throw new IllegalStateException(e);
    }

    /** As {@link #failed}, where there is no caller left to throw a bug's exception to. */
    private static Answered failedLater(PagestreamRequest request, Throwable e) {
        try {
            return failed(request, e);
        } catch (RuntimeException bug) {
            LOG.log(Level.WARNING, "page service: answering " + describe(request) + " failed", bug);
            return error(request.header(), "internal error: " + bug);
        }
    }

    /** Sizes and existence: LMDB reads, answered at once. */
    private static PagestreamResponse read(PageTarget t, PagestreamRequest request, Lsn at) {
        if (request instanceof NblocksRequest n) {
            return new NblocksResponse(n, t.source().nblocks(t.timeline(), n.rel().toRelTag(), at));
        }
        if (request instanceof ExistsRequest e) {
            return new ExistsResponse(e, t.source().exists(t.timeline(), e.rel().toRelTag(), at));
        }
        DbSizeRequest d = (DbSizeRequest) request;
        return new DbSizeResponse(d, t.source().dbSize(t.timeline(), d.dbNode(), at));
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
