package dev.zenith.protocol.server;

import dev.zenith.protocol.pagestream.PagestreamCommand;
import dev.zenith.protocol.pagestream.PagestreamRequest;
import dev.zenith.protocol.wire.ErrorFields;

/** What {@link PageServiceSession} reports. */
public sealed interface PageServiceEvent {
    /**
     * A {@code pagestream_v2/v3} query: answer with {@link PageServiceSession#startStreaming()} or
     * {@link PageServiceSession#refuse}.
     */
    record StreamRequested(PagestreamCommand command) implements PageServiceEvent {
    }

    /** A query that is not a page stream; an ERROR and ReadyForQuery were queued already. */
    record QueryRefused(String query, ErrorFields error) implements PageServiceEvent {
    }

    /** One request of the stream; answers go out with {@link PageServiceSession#respond}, in request order. */
    record Request(PagestreamRequest request) implements PageServiceEvent {
    }

    /**
     * The client's CopyDone: once every earlier request is answered, call
     * {@link PageServiceSession#endStreaming()}. Later messages wait until then.
     */
    record StreamEnded() implements PageServiceEvent {
    }

    /** The client sent Terminate. */
    record Terminated() implements PageServiceEvent {
    }

    /**
     * The client broke the protocol. Answer the requests before it, then
     * {@link PageServiceSession#sendFailure} queues the FATAL ErrorResponse; close after sending it.
     */
    record Failed(ErrorFields error) implements PageServiceEvent {
    }
}
