package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.FrontendMessage.*;

/** Client side: the bytes of {@link FrontendMessage}s. */
public final class FrontendEncoder {
    private FrontendEncoder() {
    }

    public static byte[] encode(FrontendMessage... messages) {
        ByteWriter w = new ByteWriter();
        for (FrontendMessage m : messages) {
            encode(m, w);
        }
        return w.toByteArray();
    }

    public static void encode(FrontendMessage m, ByteWriter w) {
        if (m instanceof StartupPacket p) {
            w.beginUntyped();
            if (p instanceof StartupMessage s) {
                w.int32(s.protocolVersion());
                s.parameters().forEach((k, v) -> w.cstring(k).cstring(v));
                w.int8(0);
            } else if (p instanceof SSLRequest) {
                w.int32(FrontendMessage.SSL_REQUEST_CODE);
            } else if (p instanceof GSSENCRequest) {
                w.int32(FrontendMessage.GSSENC_REQUEST_CODE);
            } else if (p instanceof CancelRequest c) {
                w.int32(FrontendMessage.CANCEL_REQUEST_CODE).int32(c.processId()).int32(c.secretKey());
            }
            w.finish();
            return;
        }
        Typed t = (Typed) m;
        w.begin(t.type());
        if (t instanceof PasswordMessage p) {
            w.cstring(p.password());
        } else if (t instanceof SASLInitialResponse s) {
            w.cstring(s.mechanism());
            if (s.data() == null) {
                w.int32(-1);
            } else {
                w.int32(s.data().length).bytes(s.data());
            }
        } else if (t instanceof SASLResponse s) {
            w.bytes(s.data());
        } else if (t instanceof Query q) {
            w.cstring(q.sql());
        } else if (t instanceof CopyData d) {
            w.bytes(d.data());
        } else if (t instanceof CopyFail f) {
            w.cstring(f.message());
        }
        // CopyDone, Sync, Flush, Terminate: no body
        w.finish();
    }
}
