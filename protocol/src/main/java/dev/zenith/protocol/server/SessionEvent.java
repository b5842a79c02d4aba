package dev.zenith.protocol.server;

import dev.zenith.protocol.replication.ReplicationCommand;
import dev.zenith.protocol.replication.ReplicationMessage;
import dev.zenith.protocol.wire.ErrorFields;

/** What {@link WalSenderSession} reports. */
public sealed interface SessionEvent {
    /** A parsed command (or SQL); answer with {@link WalSenderSession#reply}, {@link WalSenderSession#error} or {@link WalSenderSession#startStreaming()}. */
    record CommandReceived(String text, ReplicationCommand command) implements SessionEvent {
    }

    /** A command that did not parse; an ErrorResponse (42601) and ReadyForQuery were queued already. */
    record CommandRejected(String text, ErrorFields error) implements SessionEvent {
    }

    /** The client's StandbyStatusUpdate ('r') while streaming. */
    record StandbyStatus(ReplicationMessage.StandbyStatusUpdate update) implements SessionEvent {
    }

    /** The client's HotStandbyFeedback ('h') while streaming. */
    record Feedback(ReplicationMessage.HotStandbyFeedback feedback) implements SessionEvent {
    }

    /** Streaming is over (client CopyDone, or the end of timeline we announced); the session is idle again. */
    record StreamingEnded(boolean byClient) implements SessionEvent {
    }

    /** The client sent Terminate. */
    record Terminated() implements SessionEvent {
    }

    /** The client broke the protocol; a FATAL ErrorResponse was queued; close after sending it. */
    record Failed(ErrorFields error) implements SessionEvent {
    }
}
