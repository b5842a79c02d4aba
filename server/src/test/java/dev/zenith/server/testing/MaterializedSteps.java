package dev.zenith.server.testing;

import dev.zenith.server.redo.RedoService;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Background materialization's steps as the in-process daemon logs them ("timeline T materialized up to L"). */
public final class MaterializedSteps extends Handler implements AutoCloseable {
    private static final Pattern STEP = Pattern.compile("timeline (\\S+) materialized up to (\\S+) ");
    private final Logger logger = Logger.getLogger(RedoService.class.getName());
    private final List<String> messages = new CopyOnWriteArrayList<>();

    public MaterializedSteps() {
        logger.addHandler(this);
    }

    /** Waits (up to 4 minutes) for a step of {@code tl} at or past {@code redo}. */
    public void await(TimelineId tl, Lsn redo) throws InterruptedException {
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (true) {
            for (String m : messages) {
                Matcher x = STEP.matcher(m);
                if (x.find() && x.group(1).equals(tl.toString()) && !Lsn.parse(x.group(2)).isBefore(redo)) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "nothing materialized on " + tl + " at " + redo + " in 4 minutes: "
                    + messages);
            Thread.sleep(200);
        }
    }

    @Override
    public void publish(LogRecord r) {
        messages.add(String.valueOf(r.getMessage()));
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        logger.removeHandler(this);
    }
}
