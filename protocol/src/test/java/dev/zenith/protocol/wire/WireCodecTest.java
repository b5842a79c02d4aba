package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.protocol.wire.FrontendMessage.*;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class WireCodecTest {

    static List<BackendMessage> backendSamples() {
        return List.of(new AuthenticationOk(), new AuthenticationCleartextPassword(),
                new AuthenticationMD5Password(new byte[] {1, 2, 3, 4}), new AuthenticationSASL(List.of("SCRAM-SHA-256")),
                new AuthenticationSASLContinue("r=abc,s=c2FsdA==,i=4096".getBytes(StandardCharsets.UTF_8)),
                new AuthenticationSASLFinal("v=xyz".getBytes(StandardCharsets.UTF_8)),
                new ParameterStatus("server_version", "15.14"), new BackendKeyData(1234, -99),
                new ReadyForQuery('I'), new RowDescription(List.of(Field.text("a", 25), Field.text("b", 23))),
                DataRow.ofText("x", null, ""), new CommandComplete("SELECT 1"), new EmptyQueryResponse(),
                new ErrorResponse(ErrorFields.of("ERROR", "42601", "syntax error").with(ErrorFields.HINT, "h")),
                new NoticeResponse(ErrorFields.of("NOTICE", "00000", "hello")),
                new CopyBothResponse((byte) 0, List.of()), new CopyOutResponse((byte) 0, List.of((short) 0, (short) 0)),
                new CopyInResponse((byte) 1, List.of((short) 1)), new BackendMessage.CopyData(new byte[] {0, 1, 2}),
                new BackendMessage.CopyData(pattern(MessageFramer.OWN_BODY_BYTES)), // bodies received into their own array
                new BackendMessage.CopyData(pattern(40_000)), new BackendMessage.CopyData(pattern(MessageFramer.OWN_BODY_BYTES - 1)),
                new BackendMessage.CopyData(pattern(MessageFramer.OWN_BODY_MAX + 1)),
                new BackendMessage.CopyDone());
    }

    private static byte[] pattern(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + length);
        }
        return b;
    }

    @Test
    void backendMessagesSurviveOneByteAtATime() {
        List<BackendMessage> samples = backendSamples();
        byte[] all = BackendEncoder.encode(samples.toArray(BackendMessage[]::new));
        BackendDecoder d = new BackendDecoder();
        List<BackendMessage> out = new ArrayList<>();
        for (byte b : all) {
            d.feed(new byte[] {b});
            BackendMessage m;
            while ((m = d.poll()) != null) {
                out.add(m);
            }
        }
        assertEquals(samples.size(), out.size());
        for (int i = 0; i < samples.size(); i++) {
            assertEquals(samples.get(i).getClass(), out.get(i).getClass());
            assertArrayEquals(BackendEncoder.encode(samples.get(i)), BackendEncoder.encode(out.get(i)), "sample " + i);
        }
        assertEquals("syntax error", ((ErrorResponse) out.get(13)).fields().message());
        assertEquals("h", ((ErrorResponse) out.get(13)).fields().hint());
        assertNull(((DataRow) out.get(10)).text(1));
        assertEquals(List.of("SCRAM-SHA-256"), ((AuthenticationSASL) out.get(3)).mechanisms());
    }

    @Test
    void backendMessagesReadStraightFromASourceOrFedInAnyChunksAreTheSame() throws Exception {
        List<BackendMessage> samples = backendSamples();
        byte[] all = BackendEncoder.encode(samples.toArray(BackendMessage[]::new));
        for (int chunk : new int[] {1, 3, 17, 5000, all.length}) {
            for (int max : new int[] {8, 1 << 16}) {
                java.io.InputStream in = new java.io.ByteArrayInputStream(all) {
                    @Override
                    public synchronized int read(byte[] b, int off, int len) { // short reads, as a socket gives them
                        return super.read(b, off, Math.min(len, chunk));
                    }
                };
                BackendDecoder d = new BackendDecoder();
                List<BackendMessage> out = new ArrayList<>();
                while (d.feedFrom(in::read, max) > 0) {
                    for (BackendMessage m = d.poll(); m != null; m = d.poll()) {
                        out.add(m);
                    }
                }
                assertSameMessages(samples, out, "read in chunks of " + chunk + ", " + max + " at most");
            }
            BackendDecoder d = new BackendDecoder(); // the page service's and WAL receiver's way: ByteBuffers
            List<BackendMessage> out = new ArrayList<>();
            for (int at = 0; at < all.length; at += chunk) {
                d.feed(java.nio.ByteBuffer.wrap(all, at, Math.min(chunk, all.length - at)));
                for (BackendMessage m = d.poll(); m != null; m = d.poll()) {
                    out.add(m);
                }
            }
            assertSameMessages(samples, out, "fed in chunks of " + chunk);
        }
    }

    @Test
    void longBodiesGivenBackAreReceivedIntoAgainNeverTwiceAtOnce() throws Exception {
        int length = 32 * 1024 + 1; // a base backup's CopyData: a type byte and 32 KiB of tar
        List<BackendMessage> samples = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            samples.add(new BackendMessage.CopyData(pattern(length - i % 2))); // two lengths, interleaved
        }
        samples.add(new BackendMessage.CopyData(pattern(100)));
        byte[] all = BackendEncoder.encode(samples.toArray(BackendMessage[]::new));
        java.io.InputStream in = new java.io.ByteArrayInputStream(all);
        BackendDecoder d = new BackendDecoder();
        List<byte[]> out = new ArrayList<>();
        java.util.Set<byte[]> arrays = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        while (d.feedFrom(in::read, 1 << 16) > 0) {
            List<byte[]> polled = new ArrayList<>();
            for (BackendMessage m = d.poll(); m != null; m = d.poll()) {
                polled.add(((BackendMessage.CopyData) m).data());
            }
            for (byte[] data : polled) {
                out.add(data.clone()); // read, as the tar unpacker copies it
                arrays.add(data);
                d.recycle(data);
                d.recycle(data); // twice: kept once
            }
        }
        assertEquals(samples.size(), out.size());
        for (int i = 0; i < samples.size(); i++) {
            assertArrayEquals(((BackendMessage.CopyData) samples.get(i)).data(), out.get(i), "message " + i);
        }
        assertTrue(arrays.size() <= 4, "20 long bodies of two lengths in few arrays (a 64 KiB read holds at most two"
                + " whole and one begun): " + arrays.size());

        // given back twice, an array is still handed out once: two long bodies at once are two arrays
        BackendDecoder twice = new BackendDecoder();
        byte[] given = new byte[length];
        twice.recycle(given);
        twice.recycle(given);
        twice.feed(BackendEncoder.encode(new BackendMessage.CopyData(pattern(length)), new BackendMessage.CopyData(pattern(length))));
        byte[] first = ((BackendMessage.CopyData) twice.poll()).data();
        byte[] second = ((BackendMessage.CopyData) twice.poll()).data();
        assertNotSame(first, second);
        assertTrue(first == given || second == given, "the array given back is used");
        assertArrayEquals(pattern(length), first);
        assertArrayEquals(pattern(length), second);
    }

    private static void assertSameMessages(List<BackendMessage> expected, List<BackendMessage> actual, String how) {
        assertEquals(expected.size(), actual.size(), how);
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(BackendEncoder.encode(expected.get(i)), BackendEncoder.encode(actual.get(i)), how + ": sample " + i);
        }
    }

    @Test
    void frontendMessagesSurviveOneByteAtATime() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("user", "u");
        p.put("database", "replication");
        p.put("replication", "true");
        byte[] all = FrontendEncoder.encode(new SSLRequest(), new GSSENCRequest(), StartupMessage.of(p),
                new PasswordMessage("secret"), new Query("SELECT 1"), new FrontendMessage.CopyData(new byte[] {9}),
                new FrontendMessage.CopyDone(), new CopyFail("nope"), new Sync(), new Flush(), new Terminate());
        FrontendDecoder d = new FrontendDecoder();
        List<FrontendMessage> out = new ArrayList<>();
        for (byte b : all) {
            d.feed(new byte[] {b});
            FrontendMessage m;
            while ((m = d.poll()) != null) {
                out.add(m);
            }
        }
        assertEquals(11, out.size());
        assertInstanceOf(SSLRequest.class, out.get(0));
        assertInstanceOf(GSSENCRequest.class, out.get(1));
        StartupMessage s = (StartupMessage) out.get(2);
        assertEquals(p, s.parameters());
        assertEquals("true", s.replication());
        assertEquals("secret", ((PasswordMessage) out.get(3)).password());
        assertEquals("SELECT 1", ((Query) out.get(4)).sql());
        assertArrayEquals(new byte[] {9}, ((FrontendMessage.CopyData) out.get(5)).data());
        assertEquals("nope", ((CopyFail) out.get(7)).message());
        assertInstanceOf(Terminate.class, out.get(10));
        assertFalse(d.inStartupPhase());
    }

    @Test
    void cancelRequestIsAStartupPacket() {
        FrontendDecoder d = new FrontendDecoder();
        d.feed(FrontendEncoder.encode(new CancelRequest(77, 88)));
        assertEquals(new CancelRequest(77, 88), d.poll());
    }

    @Test
    void saslResponsesDecodeByExpectedKind() {
        byte[] init = FrontendEncoder.encode(new SASLInitialResponse("SCRAM-SHA-256", "n,,n=,r=x".getBytes()));
        SASLInitialResponse i = (SASLInitialResponse) FrontendDecoder.decodeTyped('p',
                Arrays.copyOfRange(init, 5, init.length), FrontendDecoder.PasswordKind.SASL_INITIAL_RESPONSE);
        assertEquals("SCRAM-SHA-256", i.mechanism());
        assertEquals("n,,n=,r=x", new String(i.data()));
        byte[] noData = FrontendEncoder.encode(new SASLInitialResponse("SCRAM-SHA-256", null));
        assertNull(((SASLInitialResponse) FrontendDecoder.decodeTyped('p', Arrays.copyOfRange(noData, 5, noData.length),
                FrontendDecoder.PasswordKind.SASL_INITIAL_RESPONSE)).data());
        SASLResponse r = (SASLResponse) FrontendDecoder.decodeTyped('p', "c=biws".getBytes(),
                FrontendDecoder.PasswordKind.SASL_RESPONSE);
        assertEquals("c=biws", new String(r.data()));
    }

    @Test
    void absurdLengthsAreRejectedBeforeAnyBodyIsBuffered() {
        BackendDecoder d = new BackendDecoder(1024 * 1024);
        d.feed(new byte[] {'D', 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        ProtocolException e = assertThrows(ProtocolException.class, d::poll);
        assertEquals(ProtocolException.Kind.BAD_LENGTH, e.kind());
        assertTrue(e.getMessage().contains("2147483647"), e.getMessage());
        // sticky: the stream cannot be resynchronized
        assertSame(e, assertThrows(ProtocolException.class, d::poll));

        BackendDecoder tooShort = new BackendDecoder();
        tooShort.feed(new byte[] {'Z', 0, 0, 0, 3});
        assertEquals(ProtocolException.Kind.BAD_LENGTH, assertThrows(ProtocolException.class, tooShort::poll).kind());

        BackendDecoder negative = new BackendDecoder();
        negative.feed(new byte[] {'d', (byte) 0x80, 0, 0, 0});
        assertEquals(ProtocolException.Kind.BAD_LENGTH, assertThrows(ProtocolException.class, negative::poll).kind());

        FrontendDecoder startup = new FrontendDecoder();
        startup.feed(new byte[] {0, 0, 0x4E, 0x21}); // 20001 > PostgreSQL's 10000-byte startup limit
        assertEquals(ProtocolException.Kind.BAD_LENGTH, assertThrows(ProtocolException.class, startup::poll).kind());
    }

    @Test
    void malformedBodiesAreTypedErrors() {
        // ReadyForQuery with an impossible status
        assertEquals(ProtocolException.Kind.MALFORMED, assertThrows(ProtocolException.class,
                () -> BackendDecoder.decode('Z', new byte[] {'Q'})).kind());
        // DataRow claiming more bytes than present
        assertEquals(ProtocolException.Kind.MALFORMED, assertThrows(ProtocolException.class,
                () -> BackendDecoder.decode('D', new byte[] {0, 1, 0, 0, 0, 9, 1})).kind());
        // CommandComplete without terminator
        assertEquals(ProtocolException.Kind.MALFORMED, assertThrows(ProtocolException.class,
                () -> BackendDecoder.decode('C', "SELECT".getBytes())).kind());
        // trailing garbage
        assertEquals(ProtocolException.Kind.MALFORMED, assertThrows(ProtocolException.class,
                () -> BackendDecoder.decode('K', new byte[9])).kind());
        assertEquals(ProtocolException.Kind.UNKNOWN_TYPE, assertThrows(ProtocolException.class,
                () -> BackendDecoder.decode('!', new byte[0])).kind());
        // startup packet without user
        byte[] noUser = FrontendEncoder.encode(StartupMessage.of(Map.of("database", "x")));
        assertEquals(ProtocolException.Kind.MALFORMED, assertThrows(ProtocolException.class,
                () -> FrontendDecoder.decodeStartup(Arrays.copyOfRange(noUser, 4, noUser.length))).kind());
        // protocol 2.0
        assertEquals(ProtocolException.Kind.UNSUPPORTED, assertThrows(ProtocolException.class,
                () -> FrontendDecoder.decodeStartup(new byte[] {0, 2, 0, 0, 0})).kind());
    }

    @Test
    void extendedQueryProtocolIsRejectedClearly() {
        for (char t : new char[] {'P', 'B', 'E', 'D', 'C'}) {
            FrontendDecoder d = new FrontendDecoder();
            d.feed(FrontendEncoder.encode(StartupMessage.of(Map.of("user", "u"))));
            assertInstanceOf(StartupMessage.class, d.poll());
            d.feed(new byte[] {(byte) t, 0, 0, 0, 4});
            ProtocolException e = assertThrows(ProtocolException.class, d::poll);
            assertEquals(ProtocolException.Kind.UNSUPPORTED, e.kind());
            assertEquals("0A000", e.sqlState());
            assertTrue(e.getMessage().contains("extended query protocol"), e.getMessage());
        }
    }
}
