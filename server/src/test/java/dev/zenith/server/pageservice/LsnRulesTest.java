package dev.zenith.server.pageservice;

import dev.zenith.protocol.pagestream.RequestHeader;
import dev.zenith.wal.Lsn;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Which LSN a request is answered at, as Neon's effective_request_lsn decides it (with our differences). */
class LsnRulesTest {
    static final Lsn HORIZON = Lsn.parse("0/1000000");
    static final Lsn END = Lsn.parse("0/3000000");
    static final Lsn STORED = Lsn.parse("0/3000008");
    static final TimelineBounds STOPPED = new TimelineBounds(HORIZON, END, STORED, false);
    static final TimelineBounds RUNNING = new TimelineBounds(HORIZON, END, STORED, true);

    static LsnRules.Decision decide(String request, String nms, TimelineBounds b) {
        Lsn r = request.equals("latest") ? RequestHeader.LATEST : Lsn.parse(request);
        Lsn n = nms.equals("latest") ? RequestHeader.LATEST : Lsn.parse(nms);
        return LsnRules.decide(new RequestHeader(1, r, n), b, "T");
    }

    static String refusal(LsnRules.Decision d) {
        return ((LsnRules.Refuse) assertInstanceOf(LsnRules.Refuse.class, d)).message();
    }

    @Test
    void latestIsTheEndOfTheLastRecordAndOlderLsnsAreTheirOwn() {
        assertEquals(new LsnRules.AnswerAt(END), decide("latest", "0/0", STOPPED));
        assertEquals(new LsnRules.AnswerAt(END), decide("latest", "0/3000008", STOPPED), "up to the stored end is reached");
        assertEquals(new LsnRules.AnswerAt(Lsn.parse("0/2000000")), decide("0/2000000", "0/1800000", STOPPED));
        assertEquals(new LsnRules.AnswerAt(HORIZON), decide("0/1000000", "0/1000000", STOPPED));
        // A request LSN beyond the end, with a not_modified_since already stored: the end (Neon's last_record_lsn).
        assertEquals(new LsnRules.AnswerAt(END), decide("5/0", "0/2000000", STOPPED));
    }

    @Test
    void badRequestsAreRefused() {
        assertEquals("invalid LSN(0) in request", refusal(decide("0/0", "0/0", STOPPED)));
        assertEquals("invalid request with request LSN 0/2000000 and not_modified_since 0/2000001",
                refusal(decide("0/2000000", "0/2000001", STOPPED)));
        assertEquals("requested LSN 0/FFFFFF is before the retention horizon 0/1000000 of timeline T",
                refusal(decide("0/FFFFFF", "0/100", STOPPED)));
        assertTrue(refusal(decide("latest", "latest", RUNNING)).contains("beyond any WAL"));
        assertEquals("not_modified_since 0/3000010 is beyond the end of WAL 0/3000008 of timeline T, and no running "
                + "compute writes to it", refusal(decide("latest", "0/3000010", STOPPED)));
        assertTrue(refusal(decide("latest", "0/0", new TimelineBounds(null, END, STORED, false))).contains("has no image"));
    }

    @Test
    void walThatWillComeIsWaitedFor() {
        assertEquals(new LsnRules.WaitFor(Lsn.parse("0/3000010")), decide("latest", "0/3000010", RUNNING));
        assertEquals(new LsnRules.WaitFor(Lsn.parse("0/4000000")), decide("0/4000000", "0/4000000", RUNNING));
    }
}
